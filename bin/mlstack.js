#!/usr/bin/env node
// The `mlstack` command: the compiled CLI when the package is built (dist/), else the TypeScript source
// through tsx (a checkout of the repository).
const fs = require('node:fs');
const path = require('node:path');

const built = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
let cli;
if (fs.existsSync(built)) {
  cli = require(built);
} else {
  require('tsx/cjs/api').register();
  cli = require('../src/cli/main.ts');
}
cli.main(process.argv).then((code) => {
  process.exitCode = code;
});
