// The policy pack's public API (`mlstack/policy`): acknowledgements, user rules, and the checker itself.
export { acknowledgeObject, acknowledgeTerraform } from './acknowledge';
export { checkOutput, failing, type Finding, type PolicyReport } from './check';
export { PolicyPack, type PolicyAcknowledgement } from './registry';
export {
  ACKNOWLEDGE_KEY,
  type CloudFormationInput,
  type CloudFormationRule,
  type KubernetesInput,
  type KubernetesObject,
  type KubernetesRule,
  type PolicyLevel,
  type PolicyRule,
  type TerraformInput,
  type TerraformRule,
  type Violation,
} from './rule';
export { BUILTIN_RULES } from './rules';
export { toSarif } from './sarif';
