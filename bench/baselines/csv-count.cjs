// Baseline of the drift benchmark: stream the same CSV through csv-parse (header as column names) and count rows,
// with no statistics. The drift job's time over this is what its analysis costs.
const fs = require('node:fs');
const { parse } = require('csv-parse');

(async () => {
  let rows = 0;
  for await (const record of fs.createReadStream(process.argv[2]).pipe(parse({ columns: true })))
    if (record) rows++;
  process.stdout.write(`${rows}\n`);
})();
