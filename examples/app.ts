/**
 * The example platform on every cloud: `mlstack synth` runs this file (or `npx tsx examples/app.ts`).
 * No cloud credentials are needed to synthesize.
 */
import { MlApp } from '../index';
import { PolicyPack } from '../src/policy';
import { AwsMlStack } from '../stacks/aws';
import { AzureMlStack, AzureNetworkAccess } from '../stacks/azure';
import { GcpMlStack } from '../stacks/gcp';
import { definePlatform } from './platform';

const app = new MlApp();
// A decision of the program as a whole, so acknowledged here rather than beside one object.
PolicyPack.acknowledge(
  'MLS-K8S-IMAGE-DIGEST',
  "The example pins images by version tag: no digest was verified against their registries here (synth and CI run without network), so a production program records the digests it pulls in GpuCluster's imageDigests and the constructs' image props.",
);
// The region is fixed because pods fetch the MLflow database credentials from Secrets Manager and the manifests
// must name it; the account is left open, so synth needs no credentials.
definePlatform(
  new AwsMlStack(app.aws, 'ml-platform-aws', {
    description: 'mlstack example platform',
    env: { region: 'us-east-1' },
  }),
);
definePlatform(
  new GcpMlStack(app.gcp, 'ml-platform-gcp', { project: 'acme-ml-prod', region: 'us-central1' }),
);
definePlatform(
  new AzureMlStack(app.azure, 'ml-platform-azure', {
    subscriptionId: '00000000-0000-0000-0000-000000000000',
    location: 'westeurope',
    // The stores and vaults admit the cluster's subnet and the address terraform apply runs from (a documentation
    // range here: put your CI runner's or office's public range).
    networkAccess: AzureNetworkAccess.firewall({ allowedIpRanges: ['203.0.113.0/24'] }),
  }),
);
app.synth();
