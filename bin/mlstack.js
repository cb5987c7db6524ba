#!/usr/bin/env node
// The `mlstack` command: the compiled CLI when the package is built (dist/), else the TypeScript source
// through tsx (a checkout of the repository). In a checkout with both, a dist/ older than any source file is
// stale: the sources run, and stderr says so.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const built = path.join(root, 'dist', 'src', 'cli', 'main.js');
const source = path.join(root, 'src', 'cli', 'main.ts');

/** The newest modification time of the TypeScript sources of a checkout (0 when there are none). */
function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
        newest = Math.max(newest, fs.statSync(p).mtimeMs);
    }
  };
  for (const d of ['src', 'constructs', 'stacks']) walk(path.join(root, d));
  if (fs.existsSync(path.join(root, 'index.ts')))
    newest = Math.max(newest, fs.statSync(path.join(root, 'index.ts')).mtimeMs);
  return newest;
}

let useBuilt = fs.existsSync(built);
if (useBuilt && fs.existsSync(source) && newestSource() > fs.statSync(built).mtimeMs) {
  useBuilt = false;
  process.stderr.write(
    'mlstack: dist/ is older than the sources; running the sources (npm run build refreshes dist/)\n',
  );
}
let cli;
if (useBuilt) {
  cli = require(built);
} else {
  require('tsx/cjs/api').register();
  cli = require(source);
}
cli.main(process.argv).then((code) => {
  // On success the event loop drains (a plain aws-cdk-lib App synthesizes itself before exit); on failure nothing
  // more runs, so that such an App does not synthesize again and print its error twice.
  if (code === 0) process.exitCode = 0;
  else process.exit(code);
});
