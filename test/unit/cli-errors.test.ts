import { describe, expect, it } from 'vitest';
import { CliError, errorLines } from '../../src/cli/errors';

describe('errorLines', () => {
  it('prints the first line of an error, and a CliError whole', () => {
    expect(errorLines(new Error('first\nsecond'))).toEqual(['first']);
    expect(errorLines(new CliError('a\nb', 2))).toEqual(['a', 'b']);
  });

  it("prints every finding of aws-cdk-lib's template validation, without the locations it guesses", () => {
    const err = new Error(
      [
        'src/cli/synth.ts:53:7',
        "ERROR DelaySeconds: 'soon' is not of type 'integer' (CloudFormation Validate)",
        '   invalid/Queue (Queue) aws-cdk-lib.CfnResource',
        "   Acknowledge with 'CloudFormation-Validate::F3012'",
        '',
        'Validation failed. A copy of this report can be found in: out/aws/validation-report.json',
      ].join('\n'),
    );
    expect(errorLines(err)).toEqual([
      "ERROR DelaySeconds: 'soon' is not of type 'integer' (CloudFormation Validate)",
      '   invalid/Queue (Queue) aws-cdk-lib.CfnResource',
      "   Acknowledge with 'CloudFormation-Validate::F3012'",
      'Validation failed. A copy of this report can be found in: out/aws/validation-report.json',
    ]);
  });
});
