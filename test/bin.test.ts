// bin/mlstack.js chooses between the built CLI (dist/) and the TypeScript sources: in a checkout where dist/ is
// older than a source file, the sources run and stderr says so; a fresh dist/ runs silently.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheDir, repo } from './support/cli';

// Under the repository, so that the stub sources find tsx in its node_modules as a checkout's would.
const root = fs.mkdtempSync(path.join(cacheDir(), 'mlstack-bin-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function write(rel: string, text: string, mtime: Date): void {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  fs.utimesSync(file, mtime, mtime);
}

const run = () => spawnSync(process.execPath, [path.join(root, 'bin', 'mlstack.js')], { encoding: 'utf8' });

describe('bin/mlstack.js in a checkout', () => {
  fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(repo, 'bin', 'mlstack.js'), path.join(root, 'bin', 'mlstack.js'));
  const main = (what: string) =>
    `exports.main = async () => { process.stdout.write('${what}\\n'); return 0; };\n`;

  it('runs a dist/ newer than every source, silently', () => {
    write('src/cli/main.ts', main('source'), new Date('2026-01-01T00:00:00Z'));
    write('stacks/x.ts', 'export {};\n', new Date('2026-01-01T00:00:00Z'));
    write('dist/src/cli/main.js', main('built'), new Date('2026-01-02T00:00:00Z'));
    const r = run();
    expect(r.stdout).toBe('built\n');
    expect(r.stderr).toBe('');
  });

  it('runs the sources when one is newer than dist/, and says so', () => {
    write('stacks/x.ts', 'export {};\n', new Date('2026-01-03T00:00:00Z'));
    const r = run();
    expect(r.stdout).toBe('source\n');
    expect(r.stderr).toBe(
      'mlstack: dist/ is older than the sources; running the sources (npm run build refreshes dist/)\n',
    );
  });

  it('runs dist/ where there are no sources (the published package)', () => {
    fs.rmSync(path.join(root, 'src'), { recursive: true });
    fs.rmSync(path.join(root, 'stacks'), { recursive: true });
    const r = run();
    expect(r.stdout).toBe('built\n');
    expect(r.stderr).toBe('');
  });
});
