import { checkAcknowledgement, checkRuleId } from './acknowledge';
import type { PolicyRule } from './rule';
import { BUILTIN_RULES } from './rules';

/**
 * The process's added rules and acknowledgements, kept on `globalThis` so that an app program and the CLI that
 * runs it share them even when each loaded its own copy of mlstack (a linked checkout, a nested install).
 */
const registry = ((globalThis as Record<symbol, unknown>)[Symbol.for('mlstack.policy.registry')] ??= {
  added: [],
  acknowledged: [],
}) as { added: PolicyRule[]; acknowledged: PolicyAcknowledgement[] };
const { added, acknowledged } = registry;

/** A rule's findings acknowledged in the app program, for a stack or everywhere (`PolicyPack.acknowledge`). */
export interface PolicyAcknowledgement {
  /** The rule id. */
  readonly rule: string;
  /** Why the findings are right here: the report shows it beside each. */
  readonly reason: string;
  /**
   * The stack whose findings it covers (the folder under aws/, gcp/stacks/, azure/stacks/, k8s/ or edge/).
   * @default - every stack
   */
  readonly stack?: string;
  /**
   * Only findings whose target (`Kind/namespace/name`, a Terraform address, a logical id) or message contains it.
   * @default - every finding of the rule
   */
  readonly match?: string;
}

/**
 * The policy pack `mlstack synth` and `mlstack check` run: mlstack's rules and those an app adds.
 *
 * @example
 * PolicyPack.addRule({
 *   id: 'MLS-ACME-TEAM-LABEL', level: 'error', target: 'kubernetes',
 *   title: 'Workloads carry a team label', description: '…', fix: 'Add labels.team.',
 *   check: ({ objects }) => objects.filter((o) => o.kind === 'Deployment' && !o.metadata.labels?.team)
 *     .map((o) => ({ object: o, message: `${o.metadata.name} has no team label` })),
 * });
 */
export class PolicyPack {
  /** Adds a rule to every check of this process (call it in the app program, before it synthesizes). */
  public static addRule(rule: PolicyRule): void {
    checkRuleId('PolicyPack.addRule', rule.id);
    if ([...BUILTIN_RULES, ...added].some((r) => r.id === rule.id)) {
      throw new Error(`PolicyPack.addRule: a rule '${rule.id}' exists already.`);
    }
    added.push(rule);
  }

  /**
   * Acknowledges a rule's findings outside the code that makes the objects — for what the program decides as a
   * whole, e.g. that it pins images by tag — with the reason, for one stack or all, optionally only findings that
   * `match`. `mlstack synth` records them in `policy/acknowledgements.json`, so that `mlstack check` on the output
   * sees them too. Prefer acknowledging the object itself (acknowledgeObject, acknowledgeTerraform): the reason then
   * sits beside the code that needs it.
   */
  public static acknowledge(
    rule: string,
    reason: string,
    scope: Pick<PolicyAcknowledgement, 'stack' | 'match'> = {},
  ): void {
    checkAcknowledgement('PolicyPack.acknowledge', rule, reason);
    const ack = { rule, reason, ...scope };
    // A program that defines the same platform twice (one function per cloud) acknowledges once.
    if (!acknowledged.some((a) => JSON.stringify(a) === JSON.stringify(ack))) acknowledged.push(ack);
  }

  /** The acknowledgements of this process (`PolicyPack.acknowledge`). */
  public static acknowledgements(): PolicyAcknowledgement[] {
    return [...acknowledged];
  }

  /** mlstack's rules and the added ones. */
  public static rules(): PolicyRule[] {
    return [...BUILTIN_RULES, ...added];
  }
}
