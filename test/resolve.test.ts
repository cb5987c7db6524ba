// Values known only after deploy: the placeholders synth writes, the outputs files they are read from, and
// `mlstack resolve` (the real CLI, a child process) on the example platform's output.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { placeholder, placeholdersIn, readOutputsFile, resolvePlaceholders } from '../src/synth/deploy-time';
import { listFiles } from '../src/synth/files';
import { mlstack } from './support/cli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-resolve-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const write = (name: string, data: unknown) => {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, JSON.stringify(data));
  return f;
};

describe('deploy-time placeholders', () => {
  it('name a stack and an output, and are found once each in order', () => {
    const a = placeholder({ stack: 'ml-azure', output: 'AppClientId' });
    expect(a).toBe('${mlstack:output:ml-azure/AppClientId}');
    const b = placeholder({ stack: 'ml-aws', output: 'WorkspaceId' });
    expect(placeholdersIn(`x: ${a}\ny: https://h/${b}/q\nz: ${a}`)).toEqual([
      { stack: 'ml-azure', output: 'AppClientId' },
      { stack: 'ml-aws', output: 'WorkspaceId' },
    ]);
  });

  it('refuse an output name CloudFormation would refuse', () => {
    expect(() => placeholder({ stack: 's', output: 'client-id' })).toThrow(/letters and digits/);
  });

  it('resolve inside longer strings and report what is missing', () => {
    const text = `url: https://aps/${placeholder({ stack: 's', output: 'Ws' })}/ and ${placeholder({ stack: 's', output: 'Nope' })}`;
    const r = resolvePlaceholders(text, new Map([['s', { Ws: 'ws-123' }]]));
    expect(r.text).toBe('url: https://aps/ws-123/ and ${mlstack:output:s/Nope}');
    expect(r.missing).toEqual([{ stack: 's', output: 'Nope' }]);
  });

  it('read cdk deploy --outputs-file and terraform output -json files', () => {
    const cdk = write('cdk.json', { 'ml-aws': { WorkspaceId: 'ws-1', Port: 8080 }, other: { X: 'y' } });
    expect(readOutputsFile(cdk)).toEqual(
      new Map([
        ['ml-aws', { WorkspaceId: 'ws-1', Port: '8080' }],
        ['other', { X: 'y' }],
      ]),
    );
    const tf = write('tf.json', { AppClientId: { sensitive: false, type: 'string', value: 'c1' } });
    expect(readOutputsFile(tf, 'ml-azure')).toEqual(new Map([['ml-azure', { AppClientId: 'c1' }]]));
    expect(() => readOutputsFile(tf)).toThrow(/terraform output -json.*pass it as <stack>=/);
    const bad = path.join(tmp, 'bad.json');
    fs.writeFileSync(bad, '{ not json');
    expect(() => readOutputsFile(bad)).toThrow(
      new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not a JSON`),
    );
  });
});

describe('mlstack resolve (child process) on the example platform', () => {
  const { out } = inject('example');
  const azure = path.join(out, 'k8s', 'ml-platform-azure', 'ml-platform');
  const needed = [
    ...new Set(
      listFiles(azure).flatMap((f) =>
        placeholdersIn(fs.readFileSync(path.join(azure, f), 'utf8')).map((r) => r.output),
      ),
    ),
  ];

  it('finds the Azure client ids as the only deploy-time values of the Azure cluster', () => {
    expect(needed.sort()).toEqual(
      expect.arrayContaining(['ClassifierClassifierClientId', 'DriftDriftClientId', 'MlflowMlflowClientId']),
    );
    // Terraform exports each one under that name.
    const tf = JSON.parse(
      fs.readFileSync(path.join(out, 'azure', 'stacks', 'ml-platform-azure', 'cdk.tf.json'), 'utf8'),
    ) as { output: Record<string, { value: string }> };
    for (const name of needed)
      expect(tf.output[name]?.value, name).toMatch(/^\$\{azurerm_\w+\.[\w-]+\.\w+\}$/);
  });

  it('fills every placeholder from terraform output -json and writes the same files', async () => {
    const values = Object.fromEntries(
      needed.map((n, i) => [n, { value: `00000000-0000-0000-0000-00000000000${i}` }]),
    );
    const outputs = write('azure-outputs.json', values);
    const to = path.join(tmp, 'resolved');
    const r = await mlstack(['resolve', azure, '--outputs', `ml-platform-azure=${outputs}`, '--to', to]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`resolved ${needed.length} value\\(s\\) \\(\\d+ placeholder\\(s\\)\\) in \\d+ file\\(s\\)`),
    );
    expect(listFiles(to)).toEqual(listFiles(azure));
    for (const f of listFiles(to))
      expect(placeholdersIn(fs.readFileSync(path.join(to, f), 'utf8')), f).toEqual([]);
    const sa = parse(
      fs.readFileSync(
        path.join(
          to,
          listFiles(to).find((f) => /serviceaccount-classifier-classifier/.test(f))!,
        ),
        'utf8',
      ),
    ) as { metadata: { annotations: Record<string, string> } };
    expect(sa.metadata.annotations['azure.workload.identity/client-id']).toBe(
      values.ClassifierClassifierClientId.value,
    );
  });

  it("fills the AWS cluster's KEDA server address from cdk deploy --outputs-file, the output the template exports", async () => {
    const aws = path.join(out, 'k8s', 'ml-platform-aws', 'ml-platform');
    const template = JSON.parse(
      fs.readFileSync(path.join(out, 'aws', 'ml-platform-aws.template.json'), 'utf8'),
    ) as {
      Outputs: Record<string, unknown>;
    };
    expect(template.Outputs).toHaveProperty('MlPlatformPrometheusServerAddress');
    const address = 'https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-0123456789';
    const outputs = write('aws-outputs.json', {
      'ml-platform-aws': { MlPlatformPrometheusServerAddress: address, SomethingElse: 'x' },
    });
    const to = path.join(tmp, 'aws');
    const r = await mlstack(['resolve', aws, '--outputs', outputs, '--to', to]);
    expect(r.code).toBe(0);
    const so = parse(
      fs.readFileSync(
        path.join(
          to,
          listFiles(to).find((f) => /scaledobject-classifier/.test(f))!,
        ),
        'utf8',
      ),
    ) as { spec: { triggers: { metadata: { serverAddress: string } }[] } };
    expect(so.spec.triggers[0].metadata.serverAddress).toBe(address);
  });

  it('writes nothing and names each missing value with the command that gives it', async () => {
    const outputs = write('partial.json', { ClassifierClassifierClientId: { value: 'c' } });
    const to = path.join(tmp, 'partial');
    const r = await mlstack(['resolve', out, '--outputs', `ml-platform-azure=${outputs}`, '--to', to]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /value\(s\) known only after deploy are not in the outputs given; nothing was written/,
    );
    expect(r.stderr).toMatch(
      /ml-platform-azure\/DriftDriftClientId: after 'terraform apply' in .*terraform -chdir=.*azure\/stacks\/ml-platform-azure output -json/,
    );
    expect(fs.existsSync(to)).toBe(false);
  });

  it('rejects a missing folder with exit code 2', async () => {
    const r = await mlstack(['resolve', path.join(tmp, 'nope'), '--outputs', 'x.json', '--to', tmp]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not a folder/);
  });
});
