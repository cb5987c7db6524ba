import type { LRParser } from '@lezer/lr';

// The package is ESM with a CommonJS build; mlstack is CommonJS.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parser } = require('@prometheus-io/lezer-promql') as { parser: LRParser };

/** What an expression reads, by Prometheus's own grammar (@prometheus-io/lezer-promql). */
export interface PromqlAnalysis {
  /** Syntax errors, with their offset. */
  readonly errors: readonly string[];
  /** Metric names of its selectors, in order, repeated as often as they appear. */
  readonly metrics: readonly string[];
}

/** Parses `expr`; returns its syntax errors and the metric names of its selectors. */
export function analysePromql(expr: string): PromqlAnalysis {
  const errors: string[] = [];
  const metrics: string[] = [];
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) {
        errors.push(`error at ${node.from}: ${JSON.stringify(expr.slice(node.from, node.from + 20))}`);
      }
      if (node.name === 'VectorSelector') {
        const id = node.node.getChild('Identifier');
        if (id) metrics.push(expr.slice(id.from, id.to));
      }
    },
  });
  return { errors, metrics };
}

/**
 * `expr` with a `label="value"` matcher added to every selector, e.g. `cluster="ml"`: for a project-wide query
 * engine (Cloud Monitoring's PromQL) to read one cluster's series as that cluster's own Prometheus would.
 */
export function withMatcher(expr: string, label: string, value: string): string {
  const matcher = `${label}=${JSON.stringify(value)}`;
  const inserts: { at: number; text: string }[] = [];
  parser.parse(expr).iterate({
    enter(node) {
      if (node.name !== 'VectorSelector') return;
      const matchers = node.node.getChild('LabelMatchers');
      if (matchers) {
        const empty = expr.slice(matchers.from, matchers.to).replace(/\s/g, '') === '{}';
        inserts.push({ at: matchers.from + 1, text: empty ? matcher : `${matcher}, ` });
      } else {
        const id = node.node.getChild('Identifier');
        if (id) inserts.push({ at: id.to, text: `{${matcher}}` });
      }
    },
  });
  let out = expr;
  for (const i of inserts.sort((a, b) => b.at - a.at)) out = out.slice(0, i.at) + i.text + out.slice(i.at);
  return out;
}
