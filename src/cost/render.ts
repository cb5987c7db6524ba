import type { CostReport, StackCost } from './estimate';

/** An amount in USD for people: `$1,175.01`, `−$12.50`; whole dollars with `cents: false`. */
export function formatUsd(n: number, cents = true): string {
  const digits = cents
    ? { minimumFractionDigits: 2, maximumFractionDigits: 2 }
    : { maximumFractionDigits: 0 };
  return `${n < 0 ? '−' : ''}$${Math.abs(n).toLocaleString('en-US', digits)}`;
}

const usd = (n: number) => formatUsd(n);

/** The sources of the prices a report used, with their dates. */
function usedSources(report: CostReport): string[] {
  const keys = new Set<string>();
  for (const s of report.stacks) {
    for (const l of s.lines) for (const p of l.prices) keys.add(/\(([^)]+)\)$/.exec(p)?.[1] ?? '');
  }
  return [...keys]
    .filter((k) => report.catalog.sources[k])
    .sort()
    .map((k) => {
      const src = report.catalog.sources[k];
      return `${k}: ${src.title}, ${src.date}, ${src.url}${src.note ? ` — ${src.note}` : ''}`;
    });
}

/** A stack's unpriced resources by type and reason. */
function groupUnpriced(s: StackCost): { type: string; reason: string; resources: string[] }[] {
  const groups = new Map<string, { type: string; reason: string; resources: string[] }>();
  for (const u of s.unpriced) {
    const key = `${u.type}\n${u.reason}`;
    const g = groups.get(key) ?? { type: u.type, reason: u.reason, resources: [] };
    g.resources.push(u.resource);
    groups.set(key, g);
  }
  return [...groups.values()];
}

function stackAssumptions(s: StackCost): string[] {
  return [...new Set(s.lines.flatMap((l) => l.assumptions.map((a) => `${l.resource}: ${a}`)))];
}

/** A plain-text table per stack, then the unpriced resources, the assumptions and the sources. */
export function renderCostTable(report: CostReport): string {
  const out: string[] = [];
  for (const s of report.stacks) {
    out.push(`${s.stack} (${s.cloud}, ${s.region})`);
    const rows = s.lines.map((l) => [
      l.construct ?? '',
      l.resource,
      l.what,
      usd(l.minMonthly),
      usd(l.maxMonthly),
    ]);
    rows.push(['', 'total', '', usd(s.minMonthly), usd(s.maxMonthly)]);
    const head = ['construct', 'resource', 'what', 'min/month', 'max/month'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) =>
      r
        .map((c, i) => (i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
        .join('  ')
        .trimEnd();
    out.push(`  ${line(head)}`, ...rows.map((r) => `  ${line(r)}`));
    if (s.unpriced.length) {
      out.push(`  unpriced (${s.unpriced.length}):`);
      for (const g of groupUnpriced(s)) {
        const names = g.resources.length > 3 ? [...g.resources.slice(0, 3), '…'] : g.resources;
        out.push(`    ${g.type} × ${g.resources.length} (${names.join(', ')}): ${g.reason}`);
      }
    }
    const assumptions = stackAssumptions(s);
    if (assumptions.length) out.push('  assumptions:', ...assumptions.map((a) => `    ${a}`));
    out.push('');
  }
  out.push(`all stacks: ${usd(report.minMonthly)} to ${usd(report.maxMonthly)} a month`, '');
  out.push('assumptions:', ...report.assumptions.map((a) => `  ${a}`), '');
  out.push('prices from:', ...usedSources(report).map((s) => `  ${s}`), '');
  return out.join('\n');
}

/** Markdown, for a pull request comment or a job summary. */
export function renderCostMarkdown(report: CostReport): string {
  const out: string[] = [
    `### Monthly cost: ${usd(report.minMonthly)} to ${usd(report.maxMonthly)}`,
    '',
    '| stack | construct | resource | what | min/month | max/month |',
    '|---|---|---|---|--:|--:|',
  ];
  for (const s of report.stacks) {
    for (const l of s.lines) {
      out.push(
        `| ${s.stack} | ${l.construct ?? ''} | \`${l.resource}\` | ${l.what} | ${usd(l.minMonthly)} | ${usd(l.maxMonthly)} |`,
      );
    }
    out.push(`| **${s.stack}** | | | **total** | **${usd(s.minMonthly)}** | **${usd(s.maxMonthly)}** |`);
  }
  const unpriced = report.stacks.flatMap((s) => s.unpriced.map((u) => ({ ...u })));
  if (unpriced.length) {
    out.push('', `<details><summary>Unpriced (${unpriced.length})</summary>`, '');
    for (const u of unpriced) out.push(`- ${u.stack} \`${u.resource}\` (${u.type}): ${u.reason}`);
    out.push('', '</details>');
  }
  out.push('', '<details><summary>Assumptions and sources</summary>', '');
  for (const a of [...report.assumptions, ...report.stacks.flatMap(stackAssumptions)]) out.push(`- ${a}`);
  for (const s of usedSources(report)) out.push(`- ${s}`);
  out.push('', '</details>', '');
  return out.join('\n');
}

/** JSON, for scripts. */
export function renderCostJson(report: CostReport): string {
  const { catalog, ...rest } = report;
  return `${JSON.stringify({ ...rest, catalog: { files: catalog.files, sources: catalog.sources } }, null, 2)}\n`;
}
