import type { PolicyReport } from './check';

/**
 * The report as SARIF 2.1.0, which GitHub code scanning reads: one run, the rules as the tool's rules, each
 * finding a result at its file and line; acknowledged findings carry an in-source suppression with the reason
 * (code scanning shows them as dismissed).
 * @see https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html
 */
export function toSarif(report: PolicyReport, version: string): Record<string, unknown> {
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'mlstack',
            version,
            informationUri: 'https://github.com/mlstack/mlstack/blob/main/docs/policy.md',
            rules: report.rules.map((r) => ({
              id: r.id,
              name: r.id.replace(/-/g, ''),
              shortDescription: { text: r.title },
              fullDescription: { text: r.description },
              help: { text: r.fix },
              defaultConfiguration: { level: r.level },
              properties: { target: r.target },
            })),
          },
        },
        results: report.findings.map((f) => ({
          ruleId: f.rule,
          level: f.level,
          message: { text: `${f.message} (${f.target})` },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: f.file.split('\\').join('/'), uriBaseId: 'SYNTH_OUTPUT' },
                region: { startLine: f.line },
              },
            },
          ],
          ...(f.acknowledged ? { suppressions: [{ kind: 'inSource', justification: f.acknowledged }] } : {}),
        })),
        originalUriBaseIds: { SYNTH_OUTPUT: { description: { text: 'the mlstack synth output folder' } } },
      },
    ],
  };
}
