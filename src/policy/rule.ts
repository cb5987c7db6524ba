/**
 * The policy pack's rule model: what a rule is, what it looks at, and what it reports. Rules run over what
 * `mlstack synth` wrote (CloudFormation templates, Terraform JSON, Kubernetes objects), so `mlstack check` gives
 * the same findings on any synth output, e.g. in CI.
 */

/** How a finding counts: errors fail synth and `mlstack check`; warnings do with `--strict`. */
export type PolicyLevel = 'error' | 'warning';

/** A Kubernetes object as written. */
export interface KubernetesObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly [key: string]: unknown;
}

/** The Kubernetes objects of one folder (a cluster's objects, or an edge bundle). */
export interface KubernetesInput {
  readonly objects: readonly KubernetesObject[];
}

/** One Terraform JSON document (a cdktf stack). */
export interface TerraformInput {
  readonly json: {
    readonly resource?: Readonly<Record<string, Readonly<Record<string, Record<string, unknown>>>>>;
    readonly terraform?: Readonly<Record<string, unknown>>;
    readonly [key: string]: unknown;
  };
}

/** One CloudFormation template, and the acknowledgements its constructs made (the cloud assembly's metadata). */
export interface CloudFormationInput {
  /** Per logical id, rule id to reason: aws-cdk-lib `Validations` acknowledgements (cdk-nag's) and mlstack's. */
  readonly acknowledgements?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly template: {
    readonly Resources?: Readonly<
      Record<
        string,
        {
          readonly Type: string;
          readonly Properties?: Record<string, unknown>;
          readonly Metadata?: Record<string, unknown>;
        }
      >
    >;
  };
}

/** What a rule found: the object or resource, and what is wrong with it. */
export interface Violation {
  /** A Kubernetes object (kubernetes rules). */
  readonly object?: KubernetesObject;
  /** A resource: `type.name` in Terraform, the logical id in CloudFormation; none for the whole document. */
  readonly resource?: string;
  readonly message: string;
}

interface RuleBase {
  /** `MLS-<AREA>-<NAME>`, stable: acknowledgements name it. */
  readonly id: string;
  readonly level: PolicyLevel;
  /** One line. */
  readonly title: string;
  /** Why it matters. */
  readonly description: string;
  /** What to change, in mlstack's props where there is one. */
  readonly fix: string;
}

/** A rule over the Kubernetes objects of one folder. */
export interface KubernetesRule extends RuleBase {
  readonly target: 'kubernetes';
  check(input: KubernetesInput): Violation[];
}

/** A rule over one Terraform JSON document. */
export interface TerraformRule extends RuleBase {
  readonly target: 'terraform';
  check(input: TerraformInput): Violation[];
}

/** A rule over one CloudFormation template. */
export interface CloudFormationRule extends RuleBase {
  readonly target: 'cloudformation';
  check(input: CloudFormationInput): Violation[];
}

/** A rule of the policy pack (mlstack's own or a user's). */
export type PolicyRule = KubernetesRule | TerraformRule | CloudFormationRule;

/** What a rule id looks like: upper-case words joined by `-` (`MLS-K8S-PSA`, `ACME-TEAM-LABEL`). */
export const RULE_ID = /^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$/;

/**
 * The annotation (Kubernetes), the `Metadata` key (CloudFormation) and the `//` key (Terraform) that carry
 * acknowledgements: a JSON object of rule id to reason, set by the code that made the object.
 */
export const ACKNOWLEDGE_KEY = 'policy.mlstack.dev/acknowledge';
