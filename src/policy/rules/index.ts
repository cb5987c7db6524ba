import type { PolicyRule } from '../rule';
import { ackContradicted } from './aws-ack-contradicted';
import { secretOutlivesDatabase } from './aws-secret-outlives';
import { azureIotHubAuth } from './az-iothub-auth';
import { azurePostgresAuth } from './az-postgres-auth';
import { azurePublicNetwork } from './az-public-network';
import { defaultDeny } from './k8s-default-deny';
import { gpuPlacement } from './k8s-gpu-placement';
import { hostAccess } from './k8s-host-access';
import { imageDigest } from './k8s-image-digest';
import { podSecurityLabels } from './k8s-pod-security-labels';
import { containerResources } from './k8s-resources';
import { seccomp } from './k8s-seccomp';
import { privilegedScope } from './k8s-privileged-scope';
import { spotServing } from './k8s-spot-serving';
import { remoteState } from './tf-remote-state';
import { gpuPoolTaintCloudFormation, gpuPoolTaintKarpenter, gpuPoolTaintTerraform } from './gpu-pool-taint';

/** mlstack's own rules (docs/policy.md lists them). */
export const BUILTIN_RULES: readonly PolicyRule[] = [
  podSecurityLabels,
  hostAccess,
  privilegedScope,
  gpuPlacement,
  gpuPoolTaintKarpenter,
  gpuPoolTaintTerraform,
  gpuPoolTaintCloudFormation,
  containerResources,
  seccomp,
  defaultDeny,
  spotServing,
  imageDigest,
  remoteState,
  azurePublicNetwork,
  azurePostgresAuth,
  azureIotHubAuth,
  ackContradicted,
  secretOutlivesDatabase,
];
