import type { Change, DiffArea, DiffReport } from './index';

const AREA_NAMES: Record<DiffArea, string> = {
  aws: 'AWS (CloudFormation)',
  gcp: 'Google Cloud (Terraform)',
  azure: 'Azure (Terraform)',
  k8s: 'Kubernetes',
  models: 'Model repositories',
  dashboards: 'Grafana dashboards',
  edge: 'Edge packages',
};
const AREAS: DiffArea[] = ['aws', 'gcp', 'azure', 'k8s', 'models', 'dashboards', 'edge'];
const KIND_MARK = { add: '➕ add', update: '✏️ update', replace: '♻️ replace', remove: '🗑️ remove' } as const;

/** The default size cap: GitHub comments hold 65,536 characters. */
export const DEFAULT_MAX_CHARS = 60_000;

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/**
 * The report as Markdown for a pull-request comment: a summary table per area and stack, destroyed or replaced
 * stateful resources called out at the top, then one collapsible section per stack, cut at `maxChars` with a note
 * of what was left out.
 */
export function renderMarkdown(report: DiffReport, maxChars = DEFAULT_MAX_CHARS): string {
  const head = ['## mlstack diff', ''];
  if (report.changes.length === 0) return [...head, 'No changes.', ''].join('\n');

  const danger = report.changes.filter((c) => c.stateful && (c.kind === 'remove' || c.kind === 'replace'));
  if (danger.length) {
    head.push(
      `> [!CAUTION]`,
      `> **${danger.length} stateful resource${danger.length > 1 ? 's' : ''} would be destroyed or replaced** (data goes with the old resource):`,
      ...danger.map(
        (c) =>
          `> - ${verb(c)} \`${c.id}\` (${c.type}) in ${AREA_NAMES[c.area]} stack \`${c.stack}\`` +
          (c.replacedBy?.length ? ` — because of ${c.replacedBy.map((p) => `\`${p}\``).join(', ')}` : ''),
      ),
      '',
    );
  }

  head.push('| area | stack | add | update | replace | remove |', '|---|---|---:|---:|---:|---:|');
  const groups = groupBy(report.changes);
  for (const { area, stack, changes } of groups) {
    const n = (k: Change['kind']) => changes.filter((c) => c.kind === k).length;
    head.push(
      `| ${AREA_NAMES[area]} | \`${stack}\` | ${n('add')} | ${n('update')} | ${n('replace')} | ${n('remove')} |`,
    );
  }
  head.push(
    '',
    '_Legend: ➕ add · ✏️ update in place · ♻️ replace (the old resource is deleted) · 🗑️ remove · ⚠️ holds data (database, bucket, cluster, node pool, secret, key) · `path`: old → new._',
    '',
  );

  const sections = groups.map(({ area, stack, changes }) => section(area, stack, changes));
  const out = [...head];
  let used = out.join('\n').length;
  let cut = 0;
  for (const s of sections) {
    if (used + s.length + 200 > maxChars) {
      cut++;
      continue;
    }
    out.push(s);
    used += s.length + 1;
  }
  if (cut) {
    out.push(
      `_${cut} of ${sections.length} detail sections left out to stay under ${maxChars} characters; run \`mlstack diff --format json\` for the whole report._`,
      '',
    );
  }
  return out.join('\n');
}

function groupBy(changes: readonly Change[]): { area: DiffArea; stack: string; changes: Change[] }[] {
  const out: { area: DiffArea; stack: string; changes: Change[] }[] = [];
  for (const area of AREAS) {
    const stacks = [...new Set(changes.filter((c) => c.area === area).map((c) => c.stack))].sort();
    for (const stack of stacks)
      out.push({ area, stack, changes: changes.filter((c) => c.area === area && c.stack === stack) });
  }
  return out;
}

function section(area: DiffArea, stack: string, changes: Change[]): string {
  const lines = [
    `<details><summary>${AREA_NAMES[area]} · <code>${stack}</code> · ${changes.length} change${changes.length > 1 ? 's' : ''}</summary>`,
    '',
    '| change | resource | type | paths |',
    '|---|---|---|---|',
  ];
  for (const c of changes) {
    const paths = (c.replacedBy?.length ? c.replacedBy : c.paths).slice(0, 8);
    const more = (c.replacedBy?.length ? c.replacedBy : c.paths).length - paths.length;
    const values = new Map((c.values ?? []).map((v) => [v.path, v]));
    const describe = (p: string) => {
      const v = values.get(p);
      return v ? `\`${cell(p)}\`: ${shown(v.old)} → ${shown(v.new)}` : `\`${cell(p)}\``;
    };
    lines.push(
      `| ${KIND_MARK[c.kind]}${c.stateful ? ' ⚠️' : ''} | \`${cell(c.id)}\` | ${cell(c.type)} | ${paths.map(describe).join(', ')}${more > 0 ? ` (+${more})` : ''} |`,
    );
  }
  const patches = changes.filter((c) => c.patch);
  for (const c of patches) lines.push('', `\`${c.id}\``, '', '```diff', c.patch!.trimEnd(), '```');
  lines.push('', '</details>', '');
  return lines.join('\n');
}

/** A value for a table cell: `(none)` when absent, short, in code. */
function shown(v: unknown): string {
  if (v === undefined) return '_(none)_';
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  const short = text.length > 60 ? `${text.slice(0, 57)}…` : text;
  return `\`${cell(short).replace(/`/g, "'")}\``;
}

function verb(c: Change): string {
  if (c.kind === 'remove')
    return c.orphaned ? 'remove from the stack (retained, no longer managed)' : 'destroy';
  return c.mayReplace ? 'may replace' : 'replace';
}
