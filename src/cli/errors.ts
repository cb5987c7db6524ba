/** A failure the CLI reports as one line, with the exit code to use (2 for usage errors). */
export class CliError extends Error {
  constructor(
    message: string,
    public readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/**
 * What to print of an error: its first line, without the noise some frameworks add; for the validation reports of
 * aws-cdk-lib and cdktf (whole-tree rules such as a service without a GPU pool), each error on a line of its own.
 */
export function errorLines(err: Error): string[] {
  const message = err.message || String(err);
  // The CLI's own errors are written to be read whole.
  if (err instanceof CliError) return message.split('\n');
  // A model repository's problems name the file and list each mismatch below it.
  if (err.name === 'RepositoryError') return message.split('\n');
  if (/^Validation failed with the following errors/.test(message)) {
    const errors = [...message.matchAll(/^\s+\[[^\]]+\] (.+)$/gm)].map((m) => m[1].trim());
    if (errors.length) return errors;
  }
  // aws-cdk-lib's template validation report (`--check`): every finding with its construct and rule, without the
  // source locations it attributes them to.
  if (/^ERROR .+ \(.+\)$/m.test(message)) {
    const lines = message
      .split('\n')
      .map((l) => l.trimEnd())
      .filter((l) => l.trim() !== '' && !/^\S+:\d+:\d+$/.test(l.trim()));
    const start = lines.findIndex((l) => l.startsWith('ERROR '));
    return lines.slice(start);
  }
  const first = message.split('\n').find((l) => l.trim() !== '') ?? err.name;
  return [first.trim()];
}
