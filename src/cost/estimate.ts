import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { type Cloud, gpuOfferings, gpuTypesOn } from '../spec/gpu';
import { findPrice, type PriceCatalog, type PriceRow } from './catalog';

/** One priced resource: its monthly cost at minimum and at maximum scale. */
export interface CostLine {
  readonly stack: string;
  /** The construct that made it (first level under the stack), when the output says. */
  readonly construct?: string;
  /** Logical id, Terraform address or Kubernetes object. */
  readonly resource: string;
  readonly type: string;
  /** What is priced, e.g. `0–6 × g6.xlarge`. */
  readonly what: string;
  readonly minMonthly: number;
  readonly maxMonthly: number;
  /** The prices used, e.g. `ec2/g6.xlarge $0.8048/hour (karpenter-aws-2026-01-19)`. */
  readonly prices: readonly string[];
  /** What this line assumes beyond the catalog. */
  readonly assumptions: readonly string[];
}

/** A resource that costs money but has no estimate, and why. */
export interface UnpricedResource {
  readonly stack: string;
  readonly resource: string;
  readonly type: string;
  readonly reason: string;
}

/** The estimate of one stack. */
export interface StackCost {
  readonly stack: string;
  readonly cloud: Cloud;
  readonly region: string;
  readonly lines: readonly CostLine[];
  readonly unpriced: readonly UnpricedResource[];
  /** Resource types with no charge of their own (IAM, routes, Kubernetes objects that run on the nodes …). */
  readonly freeTypes: readonly string[];
  readonly minMonthly: number;
  readonly maxMonthly: number;
}

/** Options of {@link estimateCost}. */
export interface CostOptions {
  /**
   * Data each bucket or storage account holds, in GB (stated in the assumptions).
   * @default 100
   */
  readonly bucketGb?: number;
}

/** The estimate of a synth output. */
export interface CostReport {
  readonly stacks: readonly StackCost[];
  readonly minMonthly: number;
  readonly maxMonthly: number;
  /** What every figure assumes. */
  readonly assumptions: readonly string[];
  /** The catalog files and the sources of the prices used. */
  readonly catalog: PriceCatalog;
}

/**
 * Types with no charge of their own: identity and access, network plumbing without an hourly fee, configuration
 * objects of a priced parent, and deploy-time helpers. Anything neither priced nor here is listed as unpriced.
 */
const FREE_TYPES: ReadonlySet<string> = new Set([
  // AWS
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::IAM::ManagedPolicy',
  'AWS::IAM::InstanceProfile',
  'AWS::IAM::OIDCProvider',
  'AWS::EC2::VPC',
  'AWS::EC2::Subnet',
  'AWS::EC2::RouteTable',
  'AWS::EC2::SubnetRouteTableAssociation',
  'AWS::EC2::Route',
  'AWS::EC2::InternetGateway',
  'AWS::EC2::VPCGatewayAttachment',
  'AWS::EC2::SecurityGroup',
  'AWS::EC2::SecurityGroupIngress',
  'AWS::EC2::SecurityGroupEgress',
  'AWS::EC2::LaunchTemplate',
  'AWS::EKS::PodIdentityAssociation',
  'AWS::EKS::AccessEntry',
  'AWS::EKS::Addon',
  'AWS::S3::BucketPolicy',
  'AWS::SQS::QueuePolicy',
  'AWS::SNS::TopicPolicy',
  'AWS::SNS::Subscription',
  'AWS::RDS::DBSubnetGroup',
  'AWS::RDS::DBParameterGroup',
  'AWS::SecretsManager::SecretTargetAttachment',
  'AWS::Lambda::Permission',
  'AWS::IoT::ThingGroup',
  'AWS::IoT::Policy',
  'AWS::IoT::RoleAlias',
  'AWS::CDK::Metadata',
  // Google Cloud
  'google_project_iam_member',
  'google_service_account',
  'google_service_account_iam_member',
  'google_storage_bucket_iam_member',
  'google_kms_crypto_key_iam_member',
  'google_secret_manager_secret_iam_member',
  'google_kms_key_ring',
  'google_compute_network',
  'google_compute_subnetwork',
  'google_compute_router',
  'google_compute_global_address',
  'google_service_networking_connection',
  'google_sql_database',
  'google_sql_user',
  'google_storage_bucket_object',
  // Azure
  'azurerm_resource_group',
  'azurerm_role_assignment',
  'azurerm_user_assigned_identity',
  'azurerm_federated_identity_credential',
  'azurerm_virtual_network',
  'azurerm_subnet',
  'azurerm_management_lock',
  'azurerm_storage_container',
  'azurerm_storage_management_policy',
  'azurerm_storage_blob',
  'azurerm_postgresql_flexible_server_database',
  'azurerm_postgresql_flexible_server_active_directory_administrator',
  'azurerm_iothub_shared_access_policy',
  'azurerm_key_vault_secret',
  // Terraform-only
  'random_password',
]);

/** Why mlstack does not price a type yet (usage-based, or a fee the catalog has no source for). */
const UNPRICED_REASON: Readonly<Record<string, string>> = {
  'AWS::Logs::LogGroup': 'CloudWatch Logs bills data ingested and stored',
  'AWS::EC2::FlowLog': 'flow logs bill the log data they deliver',
  'AWS::SQS::Queue': 'SQS bills requests',
  'AWS::SNS::Topic': 'SNS bills publishes and deliveries',
  'AWS::Events::Rule':
    'EventBridge rules on AWS service events carry no charge of their own; custom events bill per event',
  'AWS::Lambda::Function': 'Lambda bills requests and duration',
  'AWS::Lambda::LayerVersion': 'layers bill only the storage of the function code',
  'AWS::SSM::Parameter': 'standard parameters carry no charge; API calls of advanced ones bill per call',
  'AWS::GreengrassV2::ComponentVersion': 'Greengrass bills per active device',
  'AWS::GreengrassV2::Deployment': 'Greengrass bills per active device',
  google_compute_router_nat: 'Cloud NAT bills per VM using it and per GB processed',
  google_secret_manager_secret_version: 'priced with its secret',
  google_monitoring_alert_policy: 'alerting bills per condition and per time series queried',
  google_monitoring_notification_channel: 'notification channels carry no charge of their own',
  google_artifact_registry_repository: 'Artifact Registry bills storage and egress',
  google_gke_hub_feature: 'Config Sync is part of GKE Enterprise or billed per vCPU of the members',
  azurerm_iothub_dps: 'Device Provisioning Service bills per operation',
  azurerm_key_vault: 'Key Vault bills per operation and per key',
  azurerm_monitor_action_group: 'action groups bill per notification',
  azurerm_monitor_alert_prometheus_rule_group: 'rule evaluation bills per query',
  azurerm_monitor_data_collection_endpoint: 'data collection bills the data ingested',
  azurerm_monitor_data_collection_rule: 'data collection bills the data ingested',
  azurerm_monitor_data_collection_rule_association: 'data collection bills the data ingested',
  azurerm_private_dns_zone_virtual_network_link: 'links bill per zone and per query',
  'AWS::APS::Workspace': 'Amazon Managed Prometheus bills samples ingested, stored and queried',
  'AWS::APS::Scraper': 'the managed collector bills per hour and per sample',
  'AWS::APS::RuleGroupsNamespace': 'rule evaluation bills query samples',
  google_storage_bucket: 'storage and operations are usage-based',
  azurerm_storage_account: 'storage and operations are usage-based',
  azurerm_monitor_workspace: 'Azure Monitor managed Prometheus bills samples ingested and queried',
  azurerm_log_analytics_workspace: 'Log Analytics bills data ingested and retained',
};

/** The region of a stack whose output names none (an AWS stack without env, for instance). */
const UNKNOWN_REGION = 'unknown-region';

/** Kubernetes kinds with a charge of their own (the rest run on the nodes the estimate prices). */
const PRICED_KINDS = new Set(['NodePool']);

/**
 * Estimates the monthly cost of every stack of a folder written by `mlstack synth`, at minimum and at maximum
 * scale, from `catalog`. Resources without a price are listed with the reason; nothing is silently left out.
 */
export function estimateCost(out: string, catalog: PriceCatalog, options: CostOptions = {}): CostReport {
  const bucketGb = options.bucketGb ?? 100;
  if (!(Number.isFinite(bucketGb) && bucketGb >= 0)) {
    throw new Error(`bucketGb (${bucketGb}) must be a number of GB, 0 or more.`);
  }
  if (!fs.existsSync(out) || !fs.statSync(out).isDirectory()) {
    throw new Error(`'${out}' is not a folder written by 'mlstack synth'.`);
  }
  const stacks: StackCost[] = [
    ...awsStacks(out, catalog, bucketGb),
    ...terraformStacks(out, 'gcp', catalog, bucketGb),
    ...terraformStacks(out, 'azure', catalog, bucketGb),
  ];
  if (stacks.length === 0) {
    throw new Error(`'${out}' holds no aws/, gcp/ or azure/ stack: it is not an 'mlstack synth' output.`);
  }
  const sum = (f: (s: StackCost) => number) => roundCents(stacks.reduce((n, s) => n + f(s), 0));
  return {
    stacks,
    minMonthly: sum((s) => s.minMonthly),
    maxMonthly: sum((s) => s.maxMonthly),
    assumptions: [
      `A month is ${catalog.hoursPerMonth} hours; prices are list prices in USD, before taxes, credits, savings plans, reservations and committed-use discounts.`,
      'Minimum scale: every node pool at its minimum node count; maximum: at its maximum (Karpenter pools: as many nodes as their limits allow).',
      'A pool that may run spot is priced at the spot price where the catalog has one, else at the on-demand price (an upper bound).',
      `Every bucket and storage account holds ${bucketGb} GB (--bucket-gb); requests and retrieval are not included.`,
      'Data transfer, load balancers the cluster creates at run time, and usage-based services (listed as unpriced) are not included.',
    ],
    catalog,
  };
}

/** An amount rounded to cents. */
export function roundCents(n: number): number {
  return Math.round(n * 100) / 100;
}

/** Builds a stack's estimate from its priced lines, unpriced resources and free types. */
function stackCost(
  stack: string,
  cloud: Cloud,
  region: string,
  lines: CostLine[],
  unpriced: UnpricedResource[],
  freeTypes: Set<string>,
): StackCost {
  return {
    stack,
    cloud,
    region,
    lines,
    unpriced,
    freeTypes: [...freeTypes].sort(),
    minMonthly: roundCents(lines.reduce((n, l) => n + l.minMonthly, 0)),
    maxMonthly: roundCents(lines.reduce((n, l) => n + l.maxMonthly, 0)),
  };
}

/** Looks up a stack's prices (its cloud and region) in the catalog. */
class Pricer {
  constructor(
    private readonly catalog: PriceCatalog,
    private readonly cloud: Cloud,
    private readonly region: string,
  ) {}

  /**
   * The price of one unit of `sku` for a month (an hour's price × the hours of a month; a GB-month or month price
   * as it is), spot when asked and the catalog has it, with its description; undefined when the catalog has none.
   */
  public price(
    sku: string,
    spot = false,
  ): { monthly: number; unit: PriceRow['unit']; label: string; assumption?: string } | undefined {
    const row = findPrice(this.catalog, this.cloud, this.region, sku);
    if (!row) return undefined;
    const hourly = row.unit === 'hour';
    const useSpot = spot && hourly && row.spotUsd !== undefined;
    const usd = useSpot ? row.spotUsd! : row.usd;
    const where = row.region === '*' ? '' : ` ${row.region}`;
    return {
      monthly: usd * (hourly ? this.catalog.hoursPerMonth : 1),
      unit: row.unit,
      label: `${sku}${where} $${usd}/${row.unit}${useSpot ? ' spot' : ''} (${row.source})`,
      ...(spot && hourly && !useSpot
        ? { assumption: `${sku} may run on spot; the catalog has no spot price, so it is priced on-demand` }
        : {}),
    };
  }

  public missing(sku: string): string {
    if (this.region === UNKNOWN_REGION) {
      return `no price for ${this.cloud}/${sku} without a region: the stack names none (give it one, or add a '*' row with --prices)`;
    }
    return `no price for ${this.cloud}/${this.region}/${sku} in the catalog; add it with --prices`;
  }
}

/** A node pool: `min`..`max` nodes of one machine, plus per-node extras (attached GPUs, boot disk). */
function poolLine(
  p: Pricer,
  base: { stack: string; construct?: string; resource: string; type: string },
  pool: {
    min: number;
    max: number;
    sku: string;
    spot: boolean;
    extras?: { sku: string; perNode: number; label: string }[];
    assumptions?: string[];
  },
): CostLine | UnpricedResource {
  const machine = p.price(pool.sku, pool.spot);
  if (!machine) return { ...base, reason: p.missing(pool.sku) };
  let perNodeMonthly = machine.monthly;
  const prices = [machine.label];
  const assumptions = [...(pool.assumptions ?? []), ...(machine.assumption ? [machine.assumption] : [])];
  let attached = '';
  for (const x of pool.extras ?? []) {
    const price = p.price(x.sku, pool.spot);
    if (!price) return { ...base, reason: p.missing(x.sku) };
    perNodeMonthly += x.perNode * price.monthly;
    prices.push(`${x.perNode} × ${price.label}`);
    if (price.assumption) assumptions.push(price.assumption);
    // Hourly extras are devices on the node (GPUs); storage is not named in the summary.
    if (price.unit === 'hour') attached += ` + ${x.perNode} ${x.label}`;
  }
  const name = pool.sku.slice(pool.sku.indexOf('/') + 1);
  return {
    ...base,
    what: `${pool.min === pool.max ? pool.min : `${pool.min}–${pool.max}`} × ${name}${attached}${pool.spot ? ' (spot)' : ''}`,
    minMonthly: roundCents(pool.min * perNodeMonthly),
    maxMonthly: roundCents(pool.max * perNodeMonthly),
    prices,
    assumptions,
  };
}

/**
 * A managed service priced by the sum of its parts, each `quantity` × a catalog price (hours for `hour` prices,
 * GB for `GB-month`, units for `month`); the same at minimum and maximum scale.
 */
function serviceLine(
  p: Pricer,
  base: { stack: string; construct?: string; resource: string; type: string },
  parts: { sku: string; quantity: number; label: string }[],
  assumptions: string[] = [],
): CostLine | UnpricedResource {
  let monthly = 0;
  const prices: string[] = [];
  for (const part of parts) {
    const price = p.price(part.sku);
    if (!price) return { ...base, reason: p.missing(part.sku) };
    monthly += part.quantity * price.monthly;
    prices.push(`${part.quantity} × ${price.label}`);
  }
  return {
    ...base,
    what: parts.map((x) => `${x.sku.slice(x.sku.indexOf('/') + 1)} (${x.label})`).join(' + '),
    minMonthly: roundCents(monthly),
    maxMonthly: roundCents(monthly),
    prices,
    assumptions,
  };
}

/** One unit of a monthly-priced resource (a key, a secret, a zone): `note` says what is not priced. */
function unitLine(
  p: Pricer,
  base: { stack: string; construct?: string; resource: string; type: string },
  sku: string,
  label: string,
  note: string,
): CostLine | UnpricedResource {
  return serviceLine(p, base, [{ sku, quantity: 1, label }], [note]);
}

/** A bucket or storage account holding `gb` GB (the stated assumption). */
function bucketLine(
  p: Pricer,
  base: { stack: string; construct?: string; resource: string; type: string },
  sku: string,
  gb: number,
): CostLine | UnpricedResource {
  return serviceLine(
    p,
    base,
    [{ sku, quantity: gb, label: `${gb} GB assumed` }],
    [`holds ${gb} GB (--bucket-gb); requests and retrieval are not priced`],
  );
}

function isLine(x: CostLine | UnpricedResource): x is CostLine {
  return 'what' in x;
}

// ---------------------------------------------------------------- AWS

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
}

function awsStacks(out: string, catalog: PriceCatalog, bucketGb: number): StackCost[] {
  const manifestFile = path.join(out, 'aws', 'manifest.json');
  if (!fs.existsSync(manifestFile)) return [];
  const manifest = readJson(manifestFile) as {
    artifacts?: Record<
      string,
      { type?: string; environment?: string; properties?: { templateFile?: string } }
    >;
  };
  const result: StackCost[] = [];
  for (const [stack, a] of Object.entries(manifest.artifacts ?? {})) {
    if (a.type !== 'aws:cloudformation:stack' || !a.properties?.templateFile) continue;
    const region = /^aws:\/\/[^/]+\/(.+)$/.exec(a.environment ?? '')?.[1] ?? UNKNOWN_REGION;
    const p = new Pricer(catalog, 'aws', region);
    const template = readJson(path.join(out, 'aws', a.properties.templateFile)) as {
      Resources?: Record<string, CfnResource>;
    };
    const constructOf = awsConstructs(path.join(out, 'aws', `${stack}.metadata.json`), stack);
    const lines: CostLine[] = [];
    const unpriced: UnpricedResource[] = [];
    const free = new Set<string>();
    const add = (x: CostLine | UnpricedResource) => (isLine(x) ? lines.push(x) : unpriced.push(x));
    for (const [id, r] of Object.entries(template.Resources ?? {})) {
      const base = { stack, resource: id, type: r.Type, ...optional('construct', constructOf.get(id)) };
      const props = r.Properties ?? {};
      if (r.Type === 'AWS::EKS::Cluster') {
        add(poolLine(p, base, { min: 1, max: 1, sku: 'eks/cluster', spot: false }));
      } else if (r.Type === 'AWS::EKS::Nodegroup') {
        add(eksNodegroup(p, base, props));
      } else if (r.Type === 'AWS::RDS::DBInstance') {
        const multiAz = props.MultiAZ === true || props.MultiAZ === 'true';
        add(
          serviceLine(
            p,
            base,
            [
              {
                sku: `rds/${String(props.Engine ?? 'postgres')}/${String(props.DBInstanceClass)}`,
                quantity: multiAz ? 2 : 1,
                label: multiAz ? 'primary and Multi-AZ standby' : 'instance',
              },
              {
                sku: `rds/storage/${String(props.StorageType ?? 'gp2')}`,
                quantity: Number(props.AllocatedStorage ?? 20) * (multiAz ? 2 : 1),
                label: `${Number(props.AllocatedStorage ?? 20)} GB${multiAz ? ' × 2' : ''}`,
              },
            ],
            [
              ...(multiAz
                ? ['a Multi-AZ instance is priced as two: the primary and its standby, compute and storage']
                : []),
              'backup storage up to the database size carries no charge; beyond it is not priced',
            ],
          ),
        );
      } else if (r.Type === 'AWS::EC2::NatGateway') {
        add(unitLine(p, base, 'ec2/nat-gateway', 'gateway', 'data processed is not priced'));
      } else if (r.Type === 'AWS::EC2::EIP') {
        add(
          unitLine(p, base, 'ec2/public-ipv4', 'address', 'the address is priced for every hour it exists'),
        );
      } else if (r.Type === 'AWS::S3::Bucket') {
        add(bucketLine(p, base, 's3/standard', bucketGb));
      } else if (r.Type === 'AWS::KMS::Key') {
        add(unitLine(p, base, 'kms/key', 'key', 'requests are not priced'));
      } else if (r.Type === 'AWS::SecretsManager::Secret') {
        add(unitLine(p, base, 'secretsmanager/secret', 'secret', 'API calls are not priced'));
      } else if (FREE_TYPES.has(r.Type) || r.Type.startsWith('Custom::')) {
        free.add(r.Type.startsWith('Custom::') ? 'Custom::* (deploy-time custom resources)' : r.Type);
      } else {
        unpriced.push({ ...base, reason: unpricedReason(r.Type) });
      }
    }
    const k8s = kubernetesPools(out, stack, p);
    lines.push(...k8s.lines);
    unpriced.push(...k8s.unpriced);
    for (const t of k8s.free) free.add(t);
    result.push(stackCost(stack, 'aws', region, lines, unpriced, free));
  }
  return result;
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

function unpricedReason(type: string): string {
  return UNPRICED_REASON[type] ?? 'not estimated by mlstack yet';
}

/** Logical id → first construct under the stack, from the assembly's `aws:cdk:logicalId` metadata. */
function awsConstructs(file: string, stack: string): Map<string, string> {
  const map = new Map<string, string>();
  if (!fs.existsSync(file)) return map;
  const meta = readJson(file) as Record<string, { type: string; data: unknown }[]>;
  for (const [p, entries] of Object.entries(meta)) {
    for (const e of entries) {
      if (e.type !== 'aws:cdk:logicalId' || typeof e.data !== 'string') continue;
      const parts = p.split('/').filter(Boolean);
      if (parts[0] === stack && parts.length > 2) map.set(e.data, parts[1]);
    }
  }
  return map;
}

function eksNodegroup(
  p: Pricer,
  base: { stack: string; construct?: string; resource: string; type: string },
  props: Record<string, unknown>,
): CostLine | UnpricedResource {
  const scaling = (props.ScalingConfig ?? {}) as { MinSize?: number; MaxSize?: number; DesiredSize?: number };
  const types = (props.InstanceTypes as string[] | undefined) ?? ['t3.medium'];
  const assumptions: string[] = [];
  if (!props.InstanceTypes) assumptions.push('no InstanceTypes: EKS launches t3.medium');
  if (types.length > 1) assumptions.push(`priced as ${types[0]}, the first of ${types.join(', ')}`);
  const min = Number(scaling.MinSize ?? scaling.DesiredSize ?? 1);
  const max = Number(scaling.MaxSize ?? scaling.DesiredSize ?? min);
  const disk = Number(props.DiskSize ?? 20);
  assumptions.push(`root volumes (${disk} GiB a node) are not priced`);
  return poolLine(p, base, {
    min,
    max,
    sku: `ec2/${types[0]}`,
    spot: props.CapacityType === 'SPOT',
    assumptions,
  });
}

/** vCPUs of an AWS instance type from the GPU catalog, else from its size (`xlarge` = 4, `8xlarge` = 32). */
function awsNode(instanceType: string): { vcpus: number; gpus: number } | undefined {
  for (const gpu of gpuTypesOn('aws')) {
    const o = gpuOfferings('aws', gpu).find((x) => x.instanceType === instanceType);
    if (o) return { vcpus: o.vcpus, gpus: o.gpusPerNode };
  }
  const size = instanceType.split('.')[1] ?? '';
  const m = /^(\d*)xlarge$/.exec(size);
  if (m) return { vcpus: 4 * Number(m[1] || 1), gpus: 0 };
  if (size === 'large') return { vcpus: 2, gpus: 0 };
  if (size === 'medium') return { vcpus: 1, gpus: 0 };
  return undefined;
}

/** Karpenter NodePools of the stack's clusters (`k8s/<stack>/<cluster>/`), and the other objects' kinds. */
function kubernetesPools(
  out: string,
  stack: string,
  p: Pricer,
): { lines: CostLine[]; unpriced: UnpricedResource[]; free: string[] } {
  const lines: CostLine[] = [];
  const unpriced: UnpricedResource[] = [];
  const free = new Set<string>();
  const root = path.join(out, 'k8s', stack);
  if (!fs.existsSync(root)) return { lines, unpriced, free: [] };
  for (const cluster of fs.readdirSync(root).sort()) {
    const dir = path.join(root, cluster);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const file of fs
      .readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()) {
      for (const doc of parseAllDocuments(fs.readFileSync(path.join(dir, file), 'utf8'))) {
        const o = doc.toJS() as {
          apiVersion?: string;
          kind?: string;
          metadata?: { name?: string };
          spec?: unknown;
        };
        if (!o?.kind) continue;
        const resource = `${o.kind}/${o.metadata?.name ?? '?'}`;
        if (o.kind === 'Service' && (o.spec as { type?: string })?.type === 'LoadBalancer') {
          unpriced.push({
            stack,
            resource,
            type: 'Service (LoadBalancer)',
            reason: 'the cloud load balancer it creates is not estimated',
          });
        } else if (PRICED_KINDS.has(o.kind) && o.apiVersion?.startsWith('karpenter.sh/')) {
          const x = karpenterPool(
            p,
            { stack, construct: cluster, resource, type: 'karpenter.sh NodePool' },
            o.spec,
          );
          if (isLine(x)) lines.push(x);
          else unpriced.push(x);
        } else {
          free.add(`Kubernetes ${o.kind} (runs on the priced nodes)`);
        }
      }
    }
  }
  return { lines, unpriced, free: [...free] };
}

interface KarpenterSpec {
  limits?: Record<string, string | number>;
  template?: { spec?: { requirements?: { key: string; operator: string; values?: string[] }[] } };
}

function karpenterPool(
  p: Pricer,
  base: { stack: string; construct: string; resource: string; type: string },
  spec: unknown,
): CostLine | UnpricedResource {
  const s = (spec ?? {}) as KarpenterSpec;
  const req = (key: string) =>
    s.template?.spec?.requirements?.find((r) => r.key === key && r.operator === 'In')?.values ?? [];
  const types = req('node.kubernetes.io/instance-type');
  const capacity = req('karpenter.sh/capacity-type');
  if (types.length === 0) {
    return {
      ...base,
      reason: 'the pool does not name its instance types (node.kubernetes.io/instance-type In …)',
    };
  }
  // The most expensive type bounds the maximum; each type's own node count under the limits.
  let best: { sku: string; nodes: number; monthly: number } | undefined;
  for (const t of types) {
    const node = awsNode(t);
    const price = p.price(`ec2/${t}`);
    if (!node || !price) return { ...base, reason: p.missing(`ec2/${t}`) };
    const bounds: number[] = [];
    const cpu = quantity(s.limits?.cpu);
    const gpu = quantity(s.limits?.['nvidia.com/gpu']);
    if (cpu !== undefined) bounds.push(Math.floor(cpu / node.vcpus));
    if (gpu !== undefined && node.gpus > 0) bounds.push(Math.floor(gpu / node.gpus));
    if (bounds.length === 0) {
      return {
        ...base,
        reason: 'the pool has no cpu or nvidia.com/gpu limit, so its maximum size is unbounded',
      };
    }
    const nodes = Math.min(...bounds);
    const monthly = nodes * price.monthly;
    if (!best || monthly > best.monthly) best = { sku: `ec2/${t}`, nodes, monthly };
  }
  const spot = capacity.includes('spot');
  return poolLine(p, base, {
    min: 0,
    max: best!.nodes,
    sku: best!.sku,
    spot,
    assumptions: [
      'Karpenter starts a node only for pods that need one: 0 nodes at minimum; the maximum is what the pool limits allow',
      ...(types.length > 1 ? [`priced as ${best!.sku.slice(4)}, the dearest of ${types.join(', ')}`] : []),
      ...(spot && capacity.includes('on-demand') ? ['capacity type spot or on-demand'] : []),
    ],
  });
}

/** A Kubernetes quantity as a number (`24`, `500m`); memory suffixes are not used for these limits. */
function quantity(v: string | number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(v.trim());
  if (!m) return undefined;
  return Number(m[1]) / (m[2] === 'm' ? 1000 : 1);
}

// ---------------------------------------------------------------- Terraform (Google Cloud, Azure)

interface TfStack {
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  provider?: Record<string, Record<string, unknown>[]>;
}

function terraformStacks(
  out: string,
  cloud: 'gcp' | 'azure',
  catalog: PriceCatalog,
  bucketGb: number,
): StackCost[] {
  const root = path.join(out, cloud, 'stacks');
  if (!fs.existsSync(root)) return [];
  const result: StackCost[] = [];
  for (const stack of fs.readdirSync(root).sort()) {
    const file = path.join(root, stack, 'cdk.tf.json');
    if (!fs.existsSync(file)) continue;
    const tf = readJson(file) as TfStack;
    const region =
      cloud === 'gcp'
        ? String(tf.provider?.google?.[0]?.region ?? UNKNOWN_REGION)
        : String(firstLocation(tf) ?? UNKNOWN_REGION);
    const p = new Pricer(catalog, cloud, region);
    const lines: CostLine[] = [];
    const unpriced: UnpricedResource[] = [];
    const free = new Set<string>();
    for (const [type, byName] of Object.entries(tf.resource ?? {})) {
      for (const [name, r] of Object.entries(byName)) {
        const meta = (r['//'] as { metadata?: { path?: string } } | undefined)?.metadata?.path;
        const construct = meta?.split('/')[1];
        const base = { stack, resource: `${type}.${name}`, type, ...optional('construct', construct) };
        const x =
          cloud === 'gcp'
            ? gcpResource(p, base, type, r, bucketGb)
            : azureResource(p, base, type, r, bucketGb);
        if (x === 'free') free.add(type);
        else if (x === undefined) unpriced.push({ ...base, reason: unpricedReason(type) });
        else {
          for (const y of Array.isArray(x) ? x : [x]) {
            if (isLine(y)) lines.push(y);
            else unpriced.push(y);
          }
        }
      }
    }
    const k8s = kubernetesPools(out, stack, p);
    lines.push(...k8s.lines);
    unpriced.push(...k8s.unpriced);
    for (const t of k8s.free) free.add(t);
    result.push(stackCost(stack, cloud, region, lines, unpriced, free));
  }
  return result;
}

function firstLocation(tf: TfStack): string | undefined {
  for (const byName of Object.values(tf.resource ?? {})) {
    for (const r of Object.values(byName)) if (typeof r.location === 'string') return r.location;
  }
  return undefined;
}

type Estimated = CostLine | UnpricedResource | (CostLine | UnpricedResource)[] | 'free' | undefined;
type Base = { stack: string; construct?: string; resource: string; type: string };

function gcpResource(
  p: Pricer,
  base: Base,
  type: string,
  r: Record<string, unknown>,
  bucketGb: number,
): Estimated {
  if (type === 'google_sql_database_instance') {
    const settings = (r.settings ?? {}) as {
      tier?: string;
      availability_type?: string;
      disk_size?: number;
      disk_type?: string;
    };
    const m = /^db-custom-(\d+)-(\d+)$/.exec(settings.tier ?? '');
    if (!m) {
      return {
        ...base,
        reason: `tier ${settings.tier ?? '(none)'} is not a db-custom-<vCPUs>-<MB> tier mlstack can price`,
      };
    }
    const ha = settings.availability_type === 'REGIONAL' ? 2 : 1;
    const disk = Number(settings.disk_size ?? 10);
    const memGb = Number(m[2]) / 1024;
    return serviceLine(
      p,
      base,
      [
        { sku: 'cloudsql/vcpu', quantity: Number(m[1]) * ha, label: `${m[1]} vCPU${ha > 1 ? ' × 2' : ''}` },
        { sku: 'cloudsql/memory-gb', quantity: memGb * ha, label: `${memGb} GB${ha > 1 ? ' × 2' : ''}` },
        {
          sku: `cloudsql/${settings.disk_type === 'PD_HDD' ? 'hdd' : 'ssd'}`,
          quantity: disk * ha,
          label: `${disk} GB disk${ha > 1 ? ' × 2' : ''}`,
        },
      ],
      [
        ...(ha > 1
          ? [
              'a regional (high-availability) instance is priced as two: the primary and its standby, compute and disk',
            ]
          : []),
        'backups and logs beyond the free allowance are not priced',
      ],
    );
  }
  if (type === 'google_storage_bucket') {
    return bucketLine(p, base, `gcs/${String(r.storage_class ?? 'STANDARD').toLowerCase()}`, bucketGb);
  }
  if (type === 'google_kms_crypto_key') {
    return unitLine(
      p,
      base,
      'kms/key-version',
      'active version',
      'rotated-out versions and operations are not priced',
    );
  }
  if (type === 'google_secret_manager_secret') {
    return unitLine(
      p,
      base,
      'secretmanager/secret-version',
      'active version',
      'access operations are not priced',
    );
  }
  if (type === 'google_container_node_pool') {
    const auto = r.autoscaling as Record<string, number> | undefined;
    const zones = (r.node_locations as string[] | undefined)?.length;
    const nodeCount = Number(r.node_count ?? r.initial_node_count ?? 1);
    const min = auto
      ? Number(auto.total_min_node_count ?? (auto.min_node_count ?? 0) * (zones ?? 1))
      : nodeCount;
    const max = auto
      ? Number(auto.total_max_node_count ?? (auto.max_node_count ?? 0) * (zones ?? 1))
      : nodeCount;
    const cfg = (r.node_config ?? {}) as {
      machine_type?: string;
      spot?: boolean;
      preemptible?: boolean;
      disk_size_gb?: number;
      disk_type?: string;
      guest_accelerator?: { type: string; count: number }[];
    };
    const machine = cfg.machine_type ?? 'e2-medium';
    const extras = [
      // A2 and G2 machine prices include their GPUs; N1 machines pay for attached GPUs on top.
      ...(machine.startsWith('n1-')
        ? (cfg.guest_accelerator ?? []).map((g) => ({
            sku: `gce-gpu/${g.type}`,
            perNode: Number(g.count ?? 1),
            label: g.type,
          }))
        : []),
      {
        sku: `gce-disk/${cfg.disk_type ?? 'pd-balanced'}`,
        perNode: Number(cfg.disk_size_gb ?? 100),
        label: 'boot disk',
      },
    ];
    return poolLine(p, base, {
      min,
      max,
      sku: `gce/${machine}`,
      spot: cfg.spot === true || cfg.preemptible === true,
      extras,
    });
  }
  if (type === 'google_container_cluster')
    return poolLine(p, base, { min: 1, max: 1, sku: 'gke/cluster', spot: false });
  return FREE_TYPES.has(type) ? 'free' : undefined;
}

function azureResource(
  p: Pricer,
  base: Base,
  type: string,
  r: Record<string, unknown>,
  bucketGb: number,
): Estimated {
  if (type === 'azurerm_postgresql_flexible_server') {
    const ha = r.high_availability ? 2 : 1;
    const gb = Number(r.storage_mb ?? 32768) / 1024;
    return serviceLine(
      p,
      base,
      [
        {
          sku: `postgres-flexible/${String(r.sku_name)}`,
          quantity: ha,
          label: ha > 1 ? 'primary and standby' : 'server',
        },
        { sku: 'postgres-flexible/storage', quantity: gb * ha, label: `${gb} GB${ha > 1 ? ' × 2' : ''}` },
      ],
      [
        ...(ha > 1
          ? ['high availability is priced as two servers: the primary and its standby, compute and storage']
          : []),
        'backup storage up to the server storage carries no charge; beyond it is not priced',
      ],
    );
  }
  if (type === 'azurerm_storage_account') {
    return bucketLine(
      p,
      base,
      `blob/${String(r.access_tier ?? 'Hot').toLowerCase()}-${String(r.account_replication_type ?? 'LRS').toLowerCase()}`,
      bucketGb,
    );
  }
  if (type === 'azurerm_iothub') {
    const sku = (r.sku ?? {}) as { name?: string; capacity?: number };
    return serviceLine(
      p,
      base,
      [
        {
          sku: `iothub/${String(sku.name ?? 'S1')}`,
          quantity: Number(sku.capacity ?? 1),
          label: `${Number(sku.capacity ?? 1)} unit(s)`,
        },
      ],
      ['a unit covers a fixed number of messages a day; devices beyond it need more units'],
    );
  }
  if (type === 'azurerm_private_dns_zone') {
    return unitLine(p, base, 'dns/private-zone', 'zone', 'queries are not priced');
  }
  const pool = (x: Record<string, unknown>, b: Base): CostLine | UnpricedResource => {
    const auto = x.auto_scaling_enabled === true || x.min_count !== undefined;
    const count = Number(x.node_count ?? 1);
    return poolLine(p, b, {
      min: auto ? Number(x.min_count ?? 0) : count,
      max: auto ? Number(x.max_count ?? count) : count,
      sku: `vm/${String(x.vm_size)}`,
      spot: x.priority === 'Spot',
      assumptions: [`OS disks (${Number(x.os_disk_size_gb ?? 128)} GiB a node) are not priced`],
    });
  };
  if (type === 'azurerm_kubernetes_cluster_node_pool') return pool(r, base);
  if (type === 'azurerm_kubernetes_cluster') {
    const tier = String(r.sku_tier ?? 'Free');
    const out: (CostLine | UnpricedResource)[] = [];
    if (tier !== 'Free')
      out.push(poolLine(p, base, { min: 1, max: 1, sku: `aks/cluster-${tier.toLowerCase()}`, spot: false }));
    const def = r.default_node_pool as Record<string, unknown> | undefined;
    if (def) out.push(pool(def, { ...base, resource: `${base.resource}.default_node_pool` }));
    return out;
  }
  return FREE_TYPES.has(type) ? 'free' : undefined;
}
