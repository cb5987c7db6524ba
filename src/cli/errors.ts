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
