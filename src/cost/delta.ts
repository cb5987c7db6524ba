import { type CostLine, type CostReport, roundCents, type UnpricedResource } from './estimate';
import { formatUsd } from './render';

/** How one priced resource's monthly cost changes. */
export interface CostLineDelta {
  readonly stack: string;
  readonly resource: string;
  readonly type: string;
  readonly construct?: string;
  readonly kind: 'add' | 'remove' | 'change';
  /** What was priced before and after, e.g. `0–6 × g6.xlarge` → `0–8 × g6.xlarge`. */
  readonly before?: string;
  readonly after?: string;
  readonly deltaMin: number;
  readonly deltaMax: number;
}

/** Monthly cost of the base and the head, at minimum and maximum scale, and their differences. */
export interface CostTotals {
  readonly baseMin: number;
  readonly baseMax: number;
  readonly headMin: number;
  readonly headMax: number;
  readonly deltaMin: number;
  readonly deltaMax: number;
}

/** How one stack's monthly cost changes. */
export interface StackCostDelta extends CostTotals {
  readonly stack: string;
  readonly lines: readonly CostLineDelta[];
  /** Unpriced resources the change adds or changes: their cost is not in the delta. */
  readonly unpricedChanged: readonly UnpricedResource[];
}

/** The monthly cost of a change: base and head priced with the same catalog. */
export interface CostDelta extends CostTotals {
  readonly stacks: readonly StackCostDelta[];
}

/** The totals of base and head, and their differences in cents. */
function totals(base: { min: number; max: number }, head: { min: number; max: number }): CostTotals {
  return {
    baseMin: base.min,
    baseMax: base.max,
    headMin: head.min,
    headMax: head.max,
    deltaMin: roundCents(head.min - base.min),
    deltaMax: roundCents(head.max - base.max),
  };
}

/**
 * Compares two estimates resource by resource. `changed`: ids of resources the diff found changed (logical ids,
 * Terraform addresses), so that unpriced resources that changed are called out.
 */
export function costDelta(
  base: CostReport,
  head: CostReport,
  changed: ReadonlySet<string> = new Set(),
): CostDelta {
  const names = [...new Set([...base.stacks, ...head.stacks].map((s) => s.stack))].sort();
  const stacks: StackCostDelta[] = [];
  for (const name of names) {
    const b = base.stacks.find((s) => s.stack === name);
    const h = head.stacks.find((s) => s.stack === name);
    const before = new Map((b?.lines ?? []).map((l) => [l.resource, l]));
    const after = new Map((h?.lines ?? []).map((l) => [l.resource, l]));
    const lines: CostLineDelta[] = [];
    for (const id of [...new Set([...before.keys(), ...after.keys()])].sort()) {
      const x = before.get(id);
      const y = after.get(id);
      const deltaMin = roundCents((y?.minMonthly ?? 0) - (x?.minMonthly ?? 0));
      const deltaMax = roundCents((y?.maxMonthly ?? 0) - (x?.maxMonthly ?? 0));
      if (x && y && deltaMin === 0 && deltaMax === 0 && x.what === y.what) continue;
      const l = (y ?? x) as CostLine;
      lines.push({
        stack: name,
        resource: id,
        type: l.type,
        ...(l.construct ? { construct: l.construct } : {}),
        kind: !x ? 'add' : !y ? 'remove' : 'change',
        ...(x ? { before: x.what } : {}),
        ...(y ? { after: y.what } : {}),
        deltaMin,
        deltaMax,
      });
    }
    const wasUnpriced = new Set((b?.unpriced ?? []).map((u) => u.resource));
    const range = (x?: { minMonthly: number; maxMonthly: number }) => ({
      min: x?.minMonthly ?? 0,
      max: x?.maxMonthly ?? 0,
    });
    stacks.push({
      stack: name,
      ...totals(range(b), range(h)),
      lines,
      unpricedChanged: (h?.unpriced ?? []).filter(
        (u) =>
          !wasUnpriced.has(u.resource) ||
          changed.has(u.resource) ||
          [...changed].some((c) => u.resource.startsWith(`${c}.`)),
      ),
    });
  }
  const sum = (f: (s: StackCostDelta) => number) => roundCents(stacks.reduce((n, s) => n + f(s), 0));
  return {
    stacks,
    ...totals(
      { min: sum((s) => s.baseMin), max: sum((s) => s.baseMax) },
      { min: sum((s) => s.headMin), max: sum((s) => s.headMax) },
    ),
  };
}

/** A limit on the monthly cost increase: an amount in USD, or a percentage of the base. */
export type CostThreshold = { readonly usd: number } | { readonly percent: number };

/**
 * Parses `--fail-on-cost-increase`: `500` (USD a month) or `10%`.
 * @throws Error naming the value and the two forms
 */
export function parseCostThreshold(value: string): CostThreshold {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(value);
  if (!m) {
    throw new Error(
      `--fail-on-cost-increase (${JSON.stringify(value)}) must be an amount in USD a month (500) or a percentage of the base (10%).`,
    );
  }
  return m[2] ? { percent: Number(m[1]) } : { usd: Number(m[1]) };
}

/**
 * Whether the change raises the monthly cost at maximum scale (the bill a pool at its limits runs up) or at minimum
 * scale beyond `threshold`.
 */
export function exceedsCostThreshold(delta: CostDelta, threshold: CostThreshold): boolean {
  const over = (increase: number, base: number) =>
    'usd' in threshold
      ? increase > threshold.usd
      : increase > 0 && (base === 0 || (increase / base) * 100 > threshold.percent);
  return over(delta.deltaMax, delta.baseMax) || over(delta.deltaMin, delta.baseMin);
}

const usd = (n: number) => formatUsd(n);
const signed = (n: number) => (n > 0 ? `+${usd(n)}` : n < 0 ? usd(n) : '$0.00');

/** The cost section of the diff comment: the monthly delta per stack and per resource, min and max. */
export function renderCostDeltaMarkdown(delta: CostDelta): string {
  const out = [
    `### Monthly cost: ${signed(delta.deltaMin)} at minimum scale, ${signed(delta.deltaMax)} at maximum`,
    '',
    `${usd(delta.baseMin)}–${usd(delta.baseMax)} → ${usd(delta.headMin)}–${usd(delta.headMax)} a month, at list prices (\`mlstack cost\` prints every price, source and assumption).`,
    '',
  ];
  const changed = delta.stacks.filter((s) => s.lines.length > 0 || s.unpricedChanged.length > 0);
  if (changed.length === 0) return [...out, 'No priced resource changes.', ''].join('\n');
  out.push('| stack | resource | change | Δ min/month | Δ max/month |', '|---|---|---|--:|--:|');
  for (const s of changed) {
    if (s.lines.length === 0) continue;
    for (const l of s.lines) {
      const what =
        l.kind === 'add'
          ? `➕ ${l.after}`
          : l.kind === 'remove'
            ? `🗑️ ${l.before}`
            : `${l.before} → ${l.after}`;
      out.push(
        `| \`${s.stack}\` | \`${l.resource}\` | ${what} | ${signed(l.deltaMin)} | ${signed(l.deltaMax)} |`,
      );
    }
    out.push(`| **\`${s.stack}\`** | | **total** | **${signed(s.deltaMin)}** | **${signed(s.deltaMax)}** |`);
  }
  const unpriced = changed.flatMap((s) => s.unpricedChanged);
  if (unpriced.length) {
    out.push(
      '',
      `Not in the delta — ${unpriced.length} added or changed resource${unpriced.length > 1 ? 's' : ''} without a price: ${unpriced
        .slice(0, 10)
        .map((u) => `\`${u.resource}\` (${u.reason})`)
        .join('; ')}${unpriced.length > 10 ? '; …' : ''}.`,
    );
  }
  out.push('');
  return out.join('\n');
}
