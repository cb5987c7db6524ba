// Cost estimates: the built-in catalog's coverage and sources, user price files, hand-computed totals on the
// example platform for each cloud (with round test prices), and that every resource of the output is priced,
// free or listed as unpriced.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { estimateCost, loadPriceCatalog, PriceCatalogError, type StackCost } from '../src/cost';
import { type Cloud, gpuOfferings, gpuTypesOn } from '../src/spec/gpu';
import { mlstack } from './support/cli';

const example = inject('example').out;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-cost-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function priceFile(name: string, content: unknown): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** Round test prices for every sku the example uses, in a user price file. */
const TEST_SOURCE = {
  test: { title: 'round test prices', url: 'https://example.test/prices', date: '2026-11-30' },
};
const row = (cloud: Cloud, sku: string, usd: number, extra: Record<string, unknown> = {}) => ({
  cloud,
  region: '*',
  sku,
  unit: sku.startsWith('gce-disk/') ? 'GB-month' : 'hour',
  usd,
  source: 'test',
  ...extra,
});
const TEST_PRICES = {
  sources: TEST_SOURCE,
  prices: [
    row('aws', 'eks/cluster', 0.1),
    row('aws', 'ec2/m6i.xlarge', 0.2),
    row('aws', 'ec2/g6.xlarge', 1, { spotUsd: 0.4 }),
    row('aws', 'ec2/p4de.24xlarge', 30),
    row('aws', 'rds/postgres/db.m7g.large', 0.1),
    row('aws', 'rds/storage/gp3', 0.1, { unit: 'GB-month' }),
    row('aws', 'ec2/nat-gateway', 0.05),
    row('aws', 'ec2/public-ipv4', 0.005),
    row('aws', 's3/standard', 0.02, { unit: 'GB-month' }),
    row('aws', 'kms/key', 1, { unit: 'month' }),
    row('aws', 'secretsmanager/secret', 0.4, { unit: 'month' }),
    row('gcp', 'gke/cluster', 0.1),
    row('gcp', 'gce/e2-standard-4', 0.1),
    row('gcp', 'gce/g2-standard-4', 1, { spotUsd: 0.3 }),
    row('gcp', 'gce/a2-ultragpu-1g', 5),
    row('gcp', 'gce-disk/pd-balanced', 0.1),
    row('gcp', 'cloudsql/vcpu', 0.04),
    row('gcp', 'cloudsql/memory-gb', 0.007),
    row('gcp', 'cloudsql/ssd', 0.2, { unit: 'GB-month' }),
    row('gcp', 'gcs/standard', 0.02, { unit: 'GB-month' }),
    row('gcp', 'kms/key-version', 0.06, { unit: 'month' }),
    row('gcp', 'secretmanager/secret-version', 0.06, { unit: 'month' }),
    row('azure', 'aks/cluster-standard', 0.1),
    row('azure', 'vm/Standard_D4s_v5', 0.2),
    row('azure', 'vm/Standard_NC4as_T4_v3', 0.5, { spotUsd: 0.2 }),
    row('azure', 'vm/Standard_NC24ads_A100_v4', 4),
    row('azure', 'postgres-flexible/GP_Standard_D2ds_v5', 0.2),
    row('azure', 'postgres-flexible/storage', 0.1, { unit: 'GB-month' }),
    row('azure', 'blob/hot-zrs', 0.02, { unit: 'GB-month' }),
    row('azure', 'iothub/S1', 25, { unit: 'month' }),
    row('azure', 'dns/private-zone', 0.5, { unit: 'month' }),
  ],
};

describe('the built-in price catalog', () => {
  const catalog = loadPriceCatalog();

  it('gives every row a source with a title, an address and a date', () => {
    expect(catalog.prices.length).toBeGreaterThan(60);
    for (const p of catalog.prices) {
      const src = catalog.sources[p.source];
      expect(src, `${p.cloud}/${p.sku}`).toBeDefined();
      expect(src.url).toMatch(/^https:\/\//);
      expect(src.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
  });

  it('prices every AWS instance type the GPU catalog can resolve to; the gaps on Google Cloud and Azure are known', () => {
    const missing = (cloud: Cloud, prefix: string) =>
      [...new Set(gpuTypesOn(cloud).flatMap((g) => gpuOfferings(cloud, g).map((o) => o.instanceType)))]
        .filter((t) => !catalog.prices.some((p) => p.cloud === cloud && p.sku === `${prefix}${t}`))
        .sort();
    expect(missing('aws', 'ec2/')).toEqual([]);
    // No dated source for A3 (H100) machine prices was at hand; Azure VM prices have none yet (docs/cost.md).
    expect(missing('gcp', 'gce/')).toEqual([
      'a3-highgpu-1g',
      'a3-highgpu-2g',
      'a3-highgpu-4g',
      'a3-highgpu-8g',
    ]);
    expect(missing('azure', 'vm/')).toHaveLength(
      new Set(gpuTypesOn('azure').flatMap((g) => gpuOfferings('azure', g).map((o) => o.instanceType))).size,
    );
  });

  it('takes a user price file that replaces and adds rows, and names the file, row and field of a bad one', () => {
    const own = priceFile('own.json', {
      sources: {
        negotiated: { title: 'our EDP prices', url: 'https://intranet.example/prices', date: '2026-10-01' },
      },
      prices: [
        {
          cloud: 'aws',
          region: 'us-east-1',
          sku: 'ec2/g6.xlarge',
          unit: 'hour',
          usd: 0.6,
          source: 'negotiated',
        },
        {
          cloud: 'azure',
          region: 'westeurope',
          sku: 'vm/Standard_D4s_v5',
          unit: 'hour',
          usd: 0.21,
          source: 'negotiated',
        },
      ],
    });
    const merged = loadPriceCatalog([own]);
    const g6 = merged.prices.filter((p) => p.cloud === 'aws' && p.sku === 'ec2/g6.xlarge');
    expect(g6).toEqual([expect.objectContaining({ usd: 0.6, source: 'negotiated', file: 1 })]);
    expect(merged.prices.some((p) => p.cloud === 'azure')).toBe(true);
    expect(merged.files).toHaveLength(2);

    const bad: [string, unknown, string][] = [
      ['not-json.json', '{', 'not valid JSON'],
      ['no-prices.json', { sources: {} }, '"prices" must be a list of prices'],
      [
        'unit.json',
        { sources: TEST_SOURCE, prices: [{ ...row('aws', 'ec2/x', 1), unit: 'day' }] },
        'prices[0].unit is "day"; use one of hour, GB-month, month',
      ],
      [
        'negative.json',
        { sources: TEST_SOURCE, prices: [row('aws', 'ec2/x', -1)] },
        'prices[0].usd is -1; give a price in USD, 0 or more',
      ],
      [
        'undated.json',
        { sources: { s: { title: 't', url: 'https://x' } }, prices: [] },
        `source 's' has no "date"`,
      ],
      [
        'cloud.json',
        { sources: TEST_SOURCE, prices: [row('oci' as Cloud, 'x', 1)] },
        'prices[0].cloud is "oci"',
      ],
    ];
    for (const [name, content, message] of bad) {
      const file = priceFile(name, content);
      expect(() => loadPriceCatalog([file]), name).toThrow(PriceCatalogError);
      expect(() => loadPriceCatalog([file]), name).toThrow(`${file}: `);
      expect(() => loadPriceCatalog([file]), name).toThrow(message);
    }
    expect(() =>
      loadPriceCatalog([
        priceFile('orphan.json', { prices: [{ ...row('aws', 'ec2/x', 1), source: 'nowhere' }] }),
      ]),
    ).toThrow("price aws/*/ec2/x names source 'nowhere', which no catalog file defines");
    expect(() => loadPriceCatalog([path.join(tmp, 'missing.json')])).toThrow('no such price file');
  });
});

describe('estimateCost on the example platform, with round test prices', () => {
  const report = estimateCost(example, loadPriceCatalog([priceFile('test-prices.json', TEST_PRICES)]));
  const stack = (cloud: Cloud): StackCost => report.stacks.find((s) => s.cloud === cloud)!;
  const line = (s: StackCost, resource: string) => s.lines.find((l) => l.resource.includes(resource))!;

  it('AWS: control plane, managed node group, Karpenter pools sized by their limits, spot where priced', () => {
    const aws = stack('aws');
    expect(aws.region).toBe('us-east-1');
    // EKS 0.1 × 730 = 73; node group 2 × m6i.xlarge 0.2 × 730 = 292.
    expect(line(aws, 'Gpus46654719')).toMatchObject({ construct: 'Gpus', minMonthly: 73, maxMonthly: 73 });
    expect(line(aws, 'GpusPoolsystem')).toMatchObject({
      what: '2 × m6i.xlarge',
      minMonthly: 292,
      maxMonthly: 292,
    });
    // Karpenter: limits nvidia.com/gpu 6 of 1-GPU g6.xlarge → 6 nodes at the 0.4 spot price: 6 × 0.4 × 730.
    expect(line(aws, 'NodePool/mlstack-inference')).toMatchObject({
      what: '0–6 × g6.xlarge (spot)',
      minMonthly: 0,
      maxMonthly: 1752,
    });
    // cpu 8 of 4-vCPU m6i.xlarge → 2; 16 GPUs of 8-GPU p4de.24xlarge → 2 at 30 × 730.
    expect(line(aws, 'NodePool/mlstack-system')).toMatchObject({ maxMonthly: 292 });
    expect(line(aws, 'NodePool/mlstack-training')).toMatchObject({
      what: '0–2 × p4de.24xlarge',
      maxMonthly: 43800,
    });
    // Managed services, the same at both scales. Multi-AZ RDS: 2 × 0.1 × 730 + 2 × 20 GB × 0.1 = 150; two NAT
    // gateways 2 × 0.05 × 730 = 73 and their addresses 2 × 0.005 × 730 = 7.3; five buckets of the assumed 100 GB
    // 5 × 100 × 0.02 = 10; two KMS keys 2; one secret 0.4.
    expect(aws.lines.find((l) => l.type === 'AWS::RDS::DBInstance')).toMatchObject({
      minMonthly: 150,
      maxMonthly: 150,
    });
    const services = 150 + 73 + 7.3 + 10 + 2 + 0.4;
    expect(aws.minMonthly).toBeCloseTo(73 + 292 + services, 2);
    expect(aws.maxMonthly).toBeCloseTo(73 + 292 + 1752 + 292 + 43800 + services, 2);
  });

  it('Google Cloud: node pools with their boot disks, spot prices for spot pools, the cluster fee', () => {
    const gcp = stack('gcp');
    expect(gcp.region).toBe('us-central1');
    // system: 2–4 × (0.1 × 730 + 50 GB × 0.1) = 2–4 × 78.
    expect(line(gcp, 'Pool-system')).toMatchObject({
      what: '2–4 × e2-standard-4',
      minMonthly: 156,
      maxMonthly: 312,
    });
    // inference (spot): 0–6 × (0.3 × 730 + 200 GB × 0.1) = 6 × 239.
    expect(line(gcp, 'Pool-inference')).toMatchObject({ minMonthly: 0, maxMonthly: 1434 });
    // training: 0–2 × (5 × 730 + 500 GB × 0.1) = 2 × 3700.
    expect(line(gcp, 'Pool-training')).toMatchObject({ maxMonthly: 7400 });
    expect(line(gcp, 'google_container_cluster')).toMatchObject({ minMonthly: 73 });
    // Regional Cloud SQL db-custom-2-7680: 2 × (2 vCPU × 0.04 + 7.5 GB × 0.007) × 730 + 2 × 20 GB × 0.2 = 201.45;
    // three buckets 3 × 100 × 0.02 = 6; a KMS key version and a secret version 0.06 each.
    expect(line(gcp, 'google_sql_database_instance')).toMatchObject({ minMonthly: 201.45 });
    const services = 201.45 + 6 + 0.06 + 0.06;
    expect(gcp.minMonthly).toBeCloseTo(156 + 73 + services, 2);
    expect(gcp.maxMonthly).toBeCloseTo(312 + 1434 + 7400 + 73 + services, 2);
  });

  it('Azure: the Standard tier fee, the default pool, spot and on-demand user pools', () => {
    const azure = stack('azure');
    expect(azure.region).toBe('westeurope');
    expect(line(azure, '.default_node_pool')).toMatchObject({
      what: '2–4 × Standard_D4s_v5',
      minMonthly: 292,
      maxMonthly: 584,
    });
    expect(line(azure, 'Pool-inference')).toMatchObject({
      what: '0–6 × Standard_NC4as_T4_v3 (spot)',
      maxMonthly: 876,
    });
    expect(line(azure, 'Pool-training')).toMatchObject({ maxMonthly: 5840 });
    // Zone-redundant PostgreSQL: 2 × 0.2 × 730 + 2 × 32 GB × 0.1 = 298.4; three ZRS accounts 3 × 100 × 0.02 = 6;
    // one S1 IoT Hub unit 25; the private DNS zone 0.5.
    expect(line(azure, 'azurerm_postgresql_flexible_server')).toMatchObject({ minMonthly: 298.4 });
    const services = 298.4 + 6 + 25 + 0.5;
    expect(azure.minMonthly).toBeCloseTo(73 + 292 + services, 2);
    expect(azure.maxMonthly).toBeCloseTo(73 + 584 + 876 + 5840 + services, 2);
    expect(report.maxMonthly).toBeCloseTo(
      stack('aws').maxMonthly + stack('gcp').maxMonthly + stack('azure').maxMonthly,
      2,
    );
  });

  it('accounts for every resource of the output: priced, free, or unpriced with a reason', () => {
    for (const s of report.stacks) {
      const resources = outputResources(s);
      const accounted = new Set([...s.lines.map((l) => l.resource), ...s.unpriced.map((u) => u.resource)]);
      for (const r of resources) {
        const covered =
          accounted.has(r.id) ||
          [...accounted].some((a) => a.startsWith(`${r.id}.`)) ||
          s.freeTypes.includes(r.type) ||
          (r.type.startsWith('Custom::') && s.freeTypes.some((t) => t.startsWith('Custom::')));
        expect(covered, `${s.stack} ${r.id} (${r.type})`).toBe(true);
      }
      for (const u of s.unpriced) expect(u.reason, u.resource).not.toBe('');
    }
    // Usage-based services stay listed, with what they bill.
    expect(stack('aws').unpriced.find((u) => u.type === 'AWS::APS::Workspace')?.reason).toBe(
      'Amazon Managed Prometheus bills samples ingested, stored and queried',
    );
  });
});

describe('estimateCost on hand-written outputs', () => {
  it('prices an N1 pool with its attached T4s, on-demand and spot, with the built-in catalog', () => {
    const out = path.join(tmp, 'n1-out');
    const tf = {
      provider: { google: [{ project: 'p', region: 'us-central1' }] },
      resource: {
        google_container_node_pool: {
          t4: {
            node_count: 2,
            node_config: {
              machine_type: 'n1-standard-4',
              guest_accelerator: [{ type: 'nvidia-tesla-t4', count: 1 }],
            },
          },
          t4spot: {
            autoscaling: { total_min_node_count: 0, total_max_node_count: 3 },
            node_config: {
              machine_type: 'n1-standard-4',
              spot: true,
              disk_size_gb: 50,
              guest_accelerator: [{ type: 'nvidia-tesla-t4', count: 1 }],
            },
          },
        },
      },
    };
    fs.mkdirSync(path.join(out, 'gcp', 'stacks', 'n1'), { recursive: true });
    fs.writeFileSync(path.join(out, 'gcp', 'stacks', 'n1', 'cdk.tf.json'), JSON.stringify(tf));
    const [stack] = estimateCost(out, loadPriceCatalog()).stacks;
    // n1-standard-4 $0.19 + one T4 $0.35 an hour, 730 hours, plus 100 GB pd-balanced at $0.10: 404.2 a node.
    expect(stack.lines.find((l) => l.resource.endsWith('.t4'))).toMatchObject({
      what: '2 × n1-standard-4 + 1 nvidia-tesla-t4',
      minMonthly: 808.4,
      maxMonthly: 808.4,
    });
    // Spot: $0.04 + $0.11 an hour, and a 50 GB disk: (0.15 × 730 + 5) × 3.
    expect(stack.lines.find((l) => l.resource.endsWith('.t4spot'))).toMatchObject({
      what: '0–3 × n1-standard-4 + 1 nvidia-tesla-t4 (spot)',
      minMonthly: 0,
      maxMonthly: 343.5,
    });
  });

  it('says a stack without a region cannot take regional prices', () => {
    const out = path.join(tmp, 'no-region');
    fs.mkdirSync(path.join(out, 'aws'), { recursive: true });
    fs.writeFileSync(
      path.join(out, 'aws', 'manifest.json'),
      JSON.stringify({
        artifacts: {
          s: {
            type: 'aws:cloudformation:stack',
            environment: 'aws://unknown-account/unknown-region',
            properties: { templateFile: 's.template.json' },
          },
        },
      }),
    );
    fs.writeFileSync(
      path.join(out, 'aws', 's.template.json'),
      JSON.stringify({
        Resources: {
          Cluster: { Type: 'AWS::EKS::Cluster', Properties: {} },
          Nodes: {
            Type: 'AWS::EKS::Nodegroup',
            Properties: { InstanceTypes: ['g6.xlarge'], ScalingConfig: { MinSize: 1, MaxSize: 2 } },
          },
        },
      }),
    );
    const [stack] = estimateCost(out, loadPriceCatalog()).stacks;
    // The control plane fee holds in every region; EC2 prices are regional.
    expect(stack.lines.map((l) => l.resource)).toEqual(['Cluster']);
    expect(stack.unpriced).toEqual([
      expect.objectContaining({
        resource: 'Nodes',
        reason:
          "no price for aws/ec2/g6.xlarge without a region: the stack names none (give it one, or add a '*' row with --prices)",
      }),
    ]);
  });
});

/** Every resource of a stack's CloudFormation template or Terraform JSON, read independently of the estimator. */
function outputResources(s: StackCost): { id: string; type: string }[] {
  if (s.cloud === 'aws') {
    const t = JSON.parse(fs.readFileSync(path.join(example, 'aws', `${s.stack}.template.json`), 'utf8')) as {
      Resources: Record<string, { Type: string }>;
    };
    return Object.entries(t.Resources).map(([id, r]) => ({ id, type: r.Type }));
  }
  const tf = JSON.parse(
    fs.readFileSync(path.join(example, s.cloud, 'stacks', s.stack, 'cdk.tf.json'), 'utf8'),
  ) as { resource: Record<string, Record<string, unknown>> };
  return Object.entries(tf.resource).flatMap(([type, byName]) =>
    Object.keys(byName).map((name) => ({ id: `${type}.${name}`, type })),
  );
}

describe('mlstack synth', () => {
  it('ends with the monthly cost range of each stack and where the details are', () => {
    const { stdout } = inject('example');
    expect(stdout).toMatch(
      /^cost ml-platform-aws: \$353 to \$44,231 a month at list prices, \d+ resource\(s\) unpriced$/m,
    );
    expect(stdout).toMatch(/^cost ml-platform-gcp: \$\d[\d,]* to \$[\d,]+ a month at list prices/m);
    expect(stdout).toMatch(/^cost details, assumptions and sources: mlstack cost .+ \(docs\/cost\.md\)$/m);
  });
});

describe('mlstack cost (child process)', () => {
  it('prints the estimate as JSON with the built-in catalog, and refuses an unknown format', async () => {
    const r = await mlstack(['cost', example, '--format', 'json']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as {
      stacks: StackCost[];
      maxMonthly: number;
      catalog: { sources: object };
    };
    expect(json.stacks.map((s) => s.stack).sort()).toEqual([
      'ml-platform-aws',
      'ml-platform-azure',
      'ml-platform-gcp',
    ]);
    // p4de.24xlarge at $27.44705 an hour (karpenter-aws-2026-01-19): 2 × 27.44705 × 730.
    const aws = json.stacks.find((s) => s.cloud === 'aws')!;
    expect(aws.lines.find((l) => l.resource === 'NodePool/mlstack-training')!.maxMonthly).toBe(40072.69);
    expect(Object.keys(json.catalog.sources)).toContain('karpenter-aws-2026-01-19');

    const md = await mlstack(['cost', example, '--format', 'markdown']);
    expect(md.stdout).toMatch(/^### Monthly cost: \$[\d,.]+ to \$[\d,.]+/);
    for (const [args, line] of [
      [[example, '--format', 'csv'], "--format 'csv' is not a format: use table, markdown or json."],
      [
        [path.join(tmp, 'nothing')],
        `'${path.join(tmp, 'nothing')}' is not a folder written by 'mlstack synth'.`,
      ],
      [
        [example, '--prices', path.join(tmp, 'none.json')],
        `${path.join(tmp, 'none.json')}: no such price file`,
      ],
      [[example, '--bucket-gb', 'lots'], '--bucket-gb ("lots") must be a non-negative integer.'],
    ] as const) {
      const bad = await mlstack(['cost', ...args]);
      expect(bad.code, line).toBe(2);
      expect(bad.stderr).toBe(`mlstack: ${line}\n`);
    }
    // Buckets at 1 TB instead of the 100 GB default: the assumption is printed, and priced with a price file.
    const big = await mlstack([
      'cost',
      example,
      '--format',
      'json',
      '--bucket-gb',
      '1000',
      '--prices',
      priceFile('s3.json', {
        sources: TEST_SOURCE,
        prices: [row('aws', 's3/standard', 0.02, { unit: 'GB-month' })],
      }),
    ]);
    const bigJson = JSON.parse(big.stdout) as { stacks: StackCost[]; assumptions: string[] };
    expect(bigJson.assumptions).toContain(
      'Every bucket and storage account holds 1000 GB (--bucket-gb); requests and retrieval are not included.',
    );
    const buckets = bigJson.stacks
      .find((s) => s.cloud === 'aws')!
      .lines.filter((l) => l.type === 'AWS::S3::Bucket');
    expect(buckets.map((l) => l.maxMonthly)).toEqual([20, 20, 20, 20, 20]);
  });
});
