// The columnar-engine way of the drift benchmark: DuckDB reads both CSV windows into tables (its parallel native
// CSV reader), then hands each numeric column of the current window back sorted (what exact KS needs). Run with
// the path of an @duckdb/node-api install (bench/drift.ts installs it on demand; it is not a dependency).
import { createRequire } from 'node:module';
import process from 'node:process';

const [apiDir, reference, current, features] = process.argv.slice(2);
const { DuckDBInstance } = createRequire(`${apiDir}/`)('@duckdb/node-api');
const db = await DuckDBInstance.create(':memory:');
const c = await db.connect();
await c.run(`CREATE TABLE ref AS SELECT * FROM read_csv('${reference}')`);
await c.run(`CREATE TABLE cur AS SELECT * FROM read_csv('${current}')`);
let values = 0;
for (let i = 0; i < Number(features); i++) {
  const r = await c.runAndReadAll(`SELECT x${i} FROM cur ORDER BY 1`);
  values += r.getColumns()[0].length;
}
process.stdout.write(`${values}\n`);
