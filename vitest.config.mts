import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The example platform, synthesized once by the real CLI for every file that reads a synth output.
    globalSetup: ['test/support/global-setup.ts'],
    // onnxruntime-node and aws-cdk-lib need real Node realms: never 'vmThreads'.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The JSON report is what .ci/run counts from.
    // The slowest files are printed at the end, so that a regression in the suite's time shows in every log.
    reporters: ['default', 'json', './test/support/slowest-reporter.ts'],
    outputFile: { json: '.vitest-results.json' },
    snapshotSerializers: ['test/support/snapshot-serializer.ts'],
  },
});
