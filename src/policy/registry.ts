import { type PolicyRule, RULE_ID } from './rule';
import { BUILTIN_RULES } from './rules';

const added: PolicyRule[] = [];

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
    if (!RULE_ID.test(rule.id)) {
      throw new Error(
        `PolicyPack.addRule: '${rule.id}' is not a rule id; use upper-case words joined by '-'.`,
      );
    }
    if ([...BUILTIN_RULES, ...added].some((r) => r.id === rule.id)) {
      throw new Error(`PolicyPack.addRule: a rule '${rule.id}' exists already.`);
    }
    added.push(rule);
  }

  /** mlstack's rules and the added ones. */
  public static rules(): PolicyRule[] {
    return [...BUILTIN_RULES, ...added];
  }
}
