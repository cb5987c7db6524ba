// Docs that cannot drift: every TypeScript snippet of the README and docs/ compiles against the code, the README's
// constructs table lists exactly the exported constructs with pages that exist, and docs/design.md's capability
// table names exactly the files of each cloud folder.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Construct } from 'constructs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as api from '../index';
import { repo } from './support/cli';

const docs = ['README.md', ...fs.readdirSync(path.join(repo, 'docs')).map((f) => `docs/${f}`)].filter((f) =>
  f.endsWith('.md'),
);

/** The ```ts blocks of a Markdown file, with the line each starts on. */
function snippets(file: string): { line: number; code: string }[] {
  const lines = fs.readFileSync(path.join(repo, file), 'utf8').split('\n');
  const out: { line: number; code: string }[] = [];
  let start = -1;
  lines.forEach((l, i) => {
    if (start < 0 && /^```(ts|typescript)\s*$/.test(l)) start = i + 1;
    else if (start >= 0 && /^```\s*$/.test(l)) {
      out.push({ line: start + 1, code: lines.slice(start, i).join('\n') });
      start = -1;
    }
  });
  return out;
}

/**
 * The names a snippet may use without declaring them: what the page is about. Anything else must be imported
 * from `mlstack`, `mlstack/aws`, `mlstack/gcp`, `mlstack/azure` or a package, as a user would.
 */
const AMBIENT = `
declare const stack: import('mlstack').IMlStack;
declare const cluster: import('mlstack').GpuCluster;
declare const service: import('mlstack').TritonService;
declare const mlflow: import('mlstack').MlflowTracking;
declare const monitoring: import('mlstack').DcgmMonitoring;
declare const fleet: import('mlstack').EdgeFleet;
declare const existingText: string;
`;

describe('the docs', () => {
  it('have TypeScript snippets that compile against the code, as a user imports it', () => {
    const dir = path.join(repo, 'node_modules', '.cache', 'mlstack-doc-snippets');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const where = new Map<string, string>();
    for (const file of docs) {
      snippets(file).forEach((s, i) => {
        const name = path.join(dir, `${file.replace(/[/.]/g, '_')}_${i}.ts`);
        // Each snippet is a module of its own, so that two pages may declare the same names.
        fs.writeFileSync(name, `${s.code}\nexport {};\n`);
        where.set(name, `${file}:${s.line}`);
      });
    }
    expect(where.size).toBeGreaterThanOrEqual(10);
    fs.writeFileSync(path.join(dir, 'ambient.d.ts'), AMBIENT);
    const program = ts.createProgram([...where.keys(), path.join(dir, 'ambient.d.ts')], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      esModuleInterop: true,
      skipLibCheck: true,
      resolveJsonModule: true,
      types: ['node'],
      typeRoots: [path.join(repo, 'node_modules', '@types')],
      paths: {
        mlstack: [path.join(repo, 'index.ts')],
        'mlstack/aws': [path.join(repo, 'stacks', 'aws', 'index.ts')],
        'mlstack/gcp': [path.join(repo, 'stacks', 'gcp', 'index.ts')],
        'mlstack/azure': [path.join(repo, 'stacks', 'azure', 'index.ts')],
        'mlstack/inference': [path.join(repo, 'src', 'inference', 'index.ts')],
        'mlstack/policy': [path.join(repo, 'src', 'policy', 'index.ts')],
      },
    });
    const errors: string[] = [];
    for (const [file, label] of where) {
      const sf = program.getSourceFile(file)!;
      for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
        const { line } = sf.getLineAndCharacterOfPosition(d.start ?? 0);
        const [doc, first] = label.split(':');
        errors.push(
          `${doc}:${Number(first) + line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
        );
      }
    }
    expect(errors).toEqual([]);
  });

  it("list every exported construct in the README's constructs table, with a page that exists", () => {
    const readme = fs.readFileSync(path.join(repo, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('## Constructs'), readme.indexOf('## Layout'));
    const rows = [...table.matchAll(/^\| `(\w+)`\s+\|[^|]+\|\s*\[([^\]]+)\]\(([^)]+)\)\s*\|$/gm)];
    const exported = Object.entries(api)
      .filter(([, v]) => typeof v === 'function' && v.prototype instanceof Construct)
      .map(([k]) => k)
      .sort();
    expect(rows.map((r) => r[1]).sort()).toEqual(exported);
    for (const r of rows) {
      expect(r[2]).toBe(r[3]);
      expect(fs.existsSync(path.join(repo, r[3])), r[3]).toBe(true);
    }
    expect(table).not.toMatch(/planned/i);
  });

  it("name in docs/design.md's capability table exactly the files of each cloud folder", () => {
    const design = fs.readFileSync(path.join(repo, 'docs', 'design.md'), 'utf8');
    const table = design.slice(
      design.indexOf('| capability '),
      design.indexOf('\n\n', design.indexOf('| capability ')),
    );
    const columns = { aws: 1, gcp: 2, azure: 3 } as const;
    for (const [cloud, column] of Object.entries(columns)) {
      const named = table
        .split('\n')
        .slice(2)
        .flatMap((row) =>
          [...(row.split('|')[column + 1] ?? '').matchAll(/`([\w/.-]+\.ts)`/g)].map((m) => m[1]),
        )
        .sort();
      const folder = path.join(repo, 'stacks', cloud);
      const files = [
        ...fs.readdirSync(folder).filter((f) => f.endsWith('.ts') && f !== 'index.ts'),
        ...(fs.existsSync(path.join(folder, 'private'))
          ? fs.readdirSync(path.join(folder, 'private')).map((f) => `private/${f}`)
          : []),
      ].sort();
      expect(named, cloud).toEqual(files);
    }
  });
});
