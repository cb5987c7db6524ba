import { CfnOutput, type Stack } from 'aws-cdk-lib';
import { type OutputRef, placeholder, resolvePlaceholders } from '../../../src/synth/deploy-time';

/** The deploy-time values each stack exported, by output name: their tokens, for a kubectl layer to resolve. */
const TOKENS = new WeakMap<Stack, Map<string, string>>();

/** Exports `value` as the stack output `name` (its key in `cdk deploy --outputs-file`) and returns the placeholder. */
export function exportDeployTimeValue(
  stack: Stack,
  name: string,
  value: string,
  description: string,
): string {
  const ref = placeholder({ stack: stack.stackName, output: name });
  new CfnOutput(stack, name, { value, description });
  const tokens = TOKENS.get(stack) ?? new Map<string, string>();
  tokens.set(name, value);
  TOKENS.set(stack, tokens);
  return ref;
}

/**
 * `json` (a manifest rendered as JSON text) with the placeholders of `stack`'s own outputs replaced by the values'
 * tokens, which CloudFormation resolves when it applies the manifest.
 */
export function withDeployTimeTokens(stack: Stack, json: string): string {
  const tokens = TOKENS.get(stack);
  if (!tokens) return json;
  return resolvePlaceholders(json, new Map(), (ref: OutputRef) =>
    ref.stack === stack.stackName ? tokens.get(ref.output) : undefined,
  ).text;
}
