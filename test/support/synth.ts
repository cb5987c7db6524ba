import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Testing } from 'cdktf';
import type { IMlStack } from '../../stacks/ml-stack';
import { AwsMlStack, type AwsMlStackProps } from '../../stacks/aws';
import { GcpMlStack } from '../../stacks/gcp';
import { AzureMlStack } from '../../stacks/azure';
import type { Cloud } from '../../src/spec/gpu';

/** Terraform JSON as parsed from `cdk.tf.json`. */
export interface TerraformJson {
  resource: Record<string, Record<string, Record<string, unknown>>>;
  data?: Record<string, Record<string, Record<string, unknown>>>;
  output?: Record<string, { value: unknown }>;
  provider: Record<string, unknown[]>;
  terraform: Record<string, unknown>;
}

/** A new AWS app whose synth runs the CloudFormation validator (findings fail synth) and cdk-nag's AwsSolutions. */
export function awsApp(): App {
  const app = new App({
    context: { 'aws:cdk:disable-asset-staging': true, '@aws-cdk/core:validateAgainstDefaultRules': true },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return app;
}

/** An AwsMlStack in a checked app. */
export function awsStack(props: AwsMlStackProps = {}, id = 'test'): AwsMlStack {
  return new AwsMlStack(awsApp(), id, props);
}

/** Synthesizes the whole app (so the validation plugins run; a finding throws) and returns the stack's template. */
export function awsTemplate(stack: AwsMlStack): Template {
  (stack.node.root as App).synth();
  return Template.fromStack(stack);
}

/** A GcpMlStack in a test app. */
export function gcpStack(id = 'test'): GcpMlStack {
  return new GcpMlStack(Testing.app(), id, { project: 'acme-ml-test', region: 'us-central1' });
}

/** An AzureMlStack in a test app. */
export function azureStack(id = 'test'): AzureMlStack {
  return new AzureMlStack(Testing.app(), id, {
    subscriptionId: '00000000-0000-0000-0000-000000000000',
    location: 'westeurope',
  });
}

/** A stack of the given cloud. */
export function stackFor(cloud: Cloud): IMlStack {
  return cloud === 'aws' ? awsStack() : cloud === 'gcp' ? gcpStack() : azureStack();
}

/** Synthesizes a Terraform stack (with cdktf's validations) and parses it. */
export function terraformJson(stack: GcpMlStack | AzureMlStack): { text: string; json: TerraformJson } {
  const text = Testing.synth(stack, true);
  return { text, json: JSON.parse(text) as TerraformJson };
}

/** The one resource of a type in Terraform JSON (fails when there is not exactly one). */
export function onlyResource(json: TerraformJson, type: string): Record<string, unknown> {
  const all = Object.values(json.resource[type] ?? {});
  if (all.length !== 1) throw new Error(`expected one ${type}, found ${all.length}`);
  return all[0];
}

/** Every resource of a type, by its `name` attribute. */
export function resourcesByName(json: TerraformJson, type: string): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const r of Object.values(json.resource[type] ?? {})) out[String(r.name)] = r;
  return out;
}

/** The resources of one construct (Terraform names start with its id), by type; types without any are left out. */
export function resourcesOf(json: TerraformJson, constructId: string): TerraformJson['resource'] {
  return Object.fromEntries(
    Object.entries(json.resource)
      .map(
        ([type, rs]) =>
          [
            type,
            Object.fromEntries(Object.entries(rs).filter(([id]) => id.startsWith(constructId))),
          ] as const,
      )
      .filter(([, rs]) => Object.keys(rs).length > 0),
  );
}
