// Preloaded into a measured process: writes its peak resident memory (KiB) to $MLSTACK_BENCH_RSS on exit.
const fs = require('node:fs');
process.on('exit', () => {
  if (process.env.MLSTACK_BENCH_RSS)
    fs.writeFileSync(process.env.MLSTACK_BENCH_RSS, String(process.resourceUsage().maxRSS));
});
