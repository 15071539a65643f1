/**
 * A deterministic synthetic Google Cloud Billing "standard usage cost" export
 * (`gcp_billing_export_v1_…`, providers.md §1.2), written the way a BigQuery extract job writes it:
 * one newline-delimited JSON object per row, or the same rows as Parquet.
 *
 * Glossary:
 * - *usage day*: the UTC date of `usage_start_time`. One file per usage day; late re-exported rows
 *   stay in their usage day's file and only their `export_time` is later.
 * - *micros*: money as integer millionths of the billing currency. Every cost and credit is drawn
 *   as an integer number of micros; the JSON number is that integer divided by 10^6, so the file
 *   and the totals (summed as BigInt) agree exactly.
 *
 * Same seed and arguments → byte-identical files; each day has its own PRNG stream derived from
 * (seed, day), so days can be generated independently. Rows are produced by a generator and
 * streamed to disk, so memory stays constant whatever `rowsPerDay` is.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { DuckDbDatabase, type DuckDbSession } from '../duckdb/duckdb-database.js';

// ---------------------------------------------------------------------------------------------
// Row shape (BigQuery column names and nesting)

export const GCP_COST_TYPES = ['regular', 'tax', 'adjustment', 'rounding_error'] as const;
export type GcpCostType = (typeof GCP_COST_TYPES)[number];

export const GCP_CREDIT_TYPES = [
  'SUSTAINED_USAGE_DISCOUNT',
  'COMMITTED_USAGE_DISCOUNT',
  'COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE',
  'FREE_TIER',
  'PROMOTION',
  'DISCOUNT',
] as const;
export type GcpCreditType = (typeof GCP_CREDIT_TYPES)[number];

export const GCP_BILLING_FORMATS = ['ndjson', 'parquet'] as const;
export type GcpBillingFormat = (typeof GCP_BILLING_FORMATS)[number];

export interface GcpKeyValue {
  key: string;
  value: string;
}
export interface GcpTag {
  key: string;
  value: string;
  inherited: boolean;
  namespace: string;
}
export interface GcpProject {
  id: string;
  number: string;
  name: string;
  labels: GcpKeyValue[];
  ancestry_numbers: string;
  ancestors: { resource_name: string; display_name: string }[];
}
export interface GcpLocation {
  location: string;
  country: string | null;
  region: string | null;
  zone: string | null;
}
export interface GcpCredit {
  name: string;
  amount: number;
  full_name: string;
  id: string;
  type: GcpCreditType;
}
export interface GcpAdjustmentInfo {
  id: string;
  description: string;
  mode: string;
  type: string;
}

/** One exported row; properties are declared (and serialized) in the export's column order. */
export interface GcpBillingRow {
  billing_account_id: string;
  service: { id: string; description: string };
  sku: { id: string; description: string };
  usage_start_time: string;
  usage_end_time: string;
  project: GcpProject | null;
  labels: GcpKeyValue[];
  system_labels: GcpKeyValue[];
  location: GcpLocation;
  tags: GcpTag[];
  export_time: string;
  cost: number;
  cost_at_list: number;
  currency: string;
  currency_conversion_rate: number;
  usage: { amount: number; unit: string; amount_in_pricing_units: number; pricing_unit: string };
  credits: GcpCredit[];
  invoice: { month: string; publisher_type: string };
  cost_type: GcpCostType;
  adjustment_info: GcpAdjustmentInfo | null;
  transaction_type: 'GOOGLE' | 'THIRD_PARTY_RESELLER';
  seller_name: string;
}

/** What `gcpBillingRows` yields: the row and its money as exact micros of `currency`. */
export interface GeneratedGcpBillingRow {
  row: GcpBillingRow;
  costMicros: bigint;
  /** Σ credits[].amount in micros (≤ 0). */
  creditsMicros: bigint;
  currency: string;
}

/**
 * Parquet column types. NDJSON carries the same columns, with timestamps as strings and numbers
 * as JSON numbers; these are the types the conversion reads them as (timestamps are parsed).
 */
const KV = 'STRUCT("key" VARCHAR, "value" VARCHAR)[]';
export const GCP_BILLING_PARQUET_COLUMNS = [
  ['billing_account_id', 'VARCHAR'],
  ['service', 'STRUCT(id VARCHAR, description VARCHAR)'],
  ['sku', 'STRUCT(id VARCHAR, description VARCHAR)'],
  ['usage_start_time', 'TIMESTAMP WITH TIME ZONE'],
  ['usage_end_time', 'TIMESTAMP WITH TIME ZONE'],
  [
    'project',
    `STRUCT(id VARCHAR, "number" VARCHAR, "name" VARCHAR, labels ${KV}, ancestry_numbers VARCHAR, ancestors STRUCT(resource_name VARCHAR, display_name VARCHAR)[])`,
  ],
  ['labels', KV],
  ['system_labels', KV],
  ['location', 'STRUCT("location" VARCHAR, country VARCHAR, region VARCHAR, zone VARCHAR)'],
  ['tags', 'STRUCT("key" VARCHAR, "value" VARCHAR, inherited BOOLEAN, "namespace" VARCHAR)[]'],
  ['export_time', 'TIMESTAMP WITH TIME ZONE'],
  ['cost', 'DOUBLE'],
  ['cost_at_list', 'DOUBLE'],
  ['currency', 'VARCHAR'],
  ['currency_conversion_rate', 'DOUBLE'],
  ['usage', 'STRUCT(amount DOUBLE, unit VARCHAR, amount_in_pricing_units DOUBLE, pricing_unit VARCHAR)'],
  ['credits', 'STRUCT("name" VARCHAR, amount DOUBLE, full_name VARCHAR, id VARCHAR, "type" VARCHAR)[]'],
  ['invoice', 'STRUCT("month" VARCHAR, publisher_type VARCHAR)'],
  ['cost_type', 'VARCHAR'],
  ['adjustment_info', 'STRUCT(id VARCHAR, description VARCHAR, "mode" VARCHAR, "type" VARCHAR)'],
  ['transaction_type', 'VARCHAR'],
  ['seller_name', 'VARCHAR'],
] as const satisfies readonly (readonly [keyof GcpBillingRow, string])[];

// ---------------------------------------------------------------------------------------------
// Catalogue: accounts, projects, services, SKUs

type Scope = 'zone' | 'region' | 'multi' | 'global';

interface SkuSpec {
  id: string;
  description: string;
  unit: string;
  pricingUnit: string;
  /** Base units (`usage.unit`) per pricing unit. */
  perPricingUnit: number;
  /** List price in USD per pricing unit. */
  usdPerPricingUnit: number;
  /** Pricing units per hourly row: [min, max], skewed towards min. */
  qty: readonly [number, number];
  scope: Scope;
  credits: readonly GcpCreditType[];
  compute?: true;
}

interface ServiceSpec {
  id: string;
  description: string;
  weight: number;
  skus: readonly SkuSpec[];
}

const GIB = 2 ** 30;
const TIB = 2 ** 40;
const HOUR = 3600;
/** Google prices storage per gibibyte month; a month here is 730 hours. */
const MONTH = 730 * HOUR;

const sku = (
  id: string,
  description: string,
  unit: string,
  pricingUnit: string,
  perPricingUnit: number,
  usdPerPricingUnit: number,
  qty: readonly [number, number],
  scope: Scope,
  credits: readonly GcpCreditType[] = [],
  compute?: true,
): SkuSpec => ({ id, description, unit, pricingUnit, perPricingUnit, usdPerPricingUnit, qty, scope, credits, ...(compute ? { compute } : {}) });

const SERVICES: readonly ServiceSpec[] = [
  {
    id: '6F81-5844-456A',
    description: 'Compute Engine',
    weight: 30,
    skus: [
      sku('CF4E-A0C7-E3BF', 'E2 Instance Core running in Americas', 'seconds', 'hour', HOUR, 0.021811, [1, 64], 'zone', ['COMMITTED_USAGE_DISCOUNT'], true),
      sku('F449-33EC-A5EF', 'E2 Instance Ram running in Americas', 'byte-seconds', 'gibibyte hour', GIB * HOUR, 0.002923, [4, 256], 'zone', ['COMMITTED_USAGE_DISCOUNT'], true),
      sku('2E27-4F75-95CD', 'N1 Predefined Instance Core running in Americas', 'seconds', 'hour', HOUR, 0.031611, [1, 32], 'zone', ['SUSTAINED_USAGE_DISCOUNT', 'COMMITTED_USAGE_DISCOUNT'], true),
      sku('6AE1-525F-8B80', 'Balanced PD Capacity', 'byte-seconds', 'gibibyte month', GIB * MONTH, 0.1, [0.01, 2], 'zone'),
    ],
  },
  {
    id: '24E6-581D-38E5',
    description: 'BigQuery',
    weight: 15,
    skus: [
      sku('F17B-412E-CB64', 'Analysis', 'bytes', 'tebibyte', TIB, 6.25, [0.0001, 2], 'multi', ['FREE_TIER']),
      sku('3C1B-8D4E-7A20', 'Active Logical Storage', 'byte-seconds', 'gibibyte month', GIB * MONTH, 0.02, [0.05, 2], 'multi', ['FREE_TIER']),
      sku('9E5A-2F71-C3D8', 'Long Term Logical Storage', 'byte-seconds', 'gibibyte month', GIB * MONTH, 0.01, [0.05, 2], 'multi'),
      sku('B4C2-6E19-0F57', 'Streaming Insert', 'bytes', 'gibibyte', GIB, 0.05, [0.001, 20], 'multi'),
    ],
  },
  {
    id: '95FF-2EF5-5EA1',
    description: 'Cloud Storage',
    weight: 15,
    skus: [
      sku('E5F0-6A5D-7BAD', 'Standard Storage US Multi-region', 'byte-seconds', 'gibibyte month', GIB * MONTH, 0.026, [0.01, 2], 'multi', ['FREE_TIER']),
      sku('22EB-AAE8-FBCD', 'Download Worldwide Destinations (excluding Asia & Australia)', 'bytes', 'gibibyte', GIB, 0.12, [0.001, 50], 'global'),
      sku('1E7D-CBB0-AF0C', 'Multi-Region Standard Class A Operations', 'requests', 'requests', 1, 0.00001, [10, 200_000], 'multi', ['FREE_TIER']),
    ],
  },
  {
    id: '9662-B51E-5089',
    description: 'Cloud SQL',
    weight: 10,
    skus: [
      sku('6C3F-9A12-E4B7', 'Cloud SQL for PostgreSQL: Zonal - vCPU in Americas', 'seconds', 'hour', HOUR, 0.0413, [1, 16], 'region', ['COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE']),
      sku('A7D0-3B58-21FE', 'Cloud SQL for PostgreSQL: Zonal - RAM in Americas', 'byte-seconds', 'gibibyte hour', GIB * HOUR, 0.007, [4, 104], 'region', ['COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE']),
      sku('58E2-F0C6-9D31', 'Cloud SQL for PostgreSQL: Zonal - Standard storage in Americas', 'byte-seconds', 'gibibyte month', GIB * MONTH, 0.17, [0.01, 1], 'region'),
    ],
  },
  {
    id: 'E505-1604-58F8',
    description: 'Networking',
    weight: 15,
    skus: [
      sku('9DE9-9092-B3BC', 'Network Internet Data Transfer Out from Americas to Americas', 'bytes', 'gibibyte', GIB, 0.12, [0.001, 100], 'region'),
      sku('DE9E-AFBC-A15A', 'Network Inter Zone Data Transfer Out', 'bytes', 'gibibyte', GIB, 0.01, [0.001, 200], 'zone'),
      sku('D0CC-50DF-59D2', 'Network Inter Zone Data Transfer In', 'bytes', 'gibibyte', GIB, 0, [0.001, 200], 'zone'),
      sku('3B5A-77E4-2C09', 'Cloud NAT Gateway Uptime', 'seconds', 'hour', HOUR, 0.0014, [1, 4], 'region'),
    ],
  },
  {
    id: 'C7E2-9256-1C43',
    description: 'Vertex AI',
    weight: 8,
    skus: [
      sku('FDAB-647C-5A22', 'Gemini 2.5 Flash Input Text Tokens', 'count', 'count', 1, 0.0000003, [10_000, 50_000_000], 'global', ['PROMOTION']),
      sku('AF56-1BF9-492A', 'Gemini 2.5 Flash Output Text Tokens', 'count', 'count', 1, 0.0000025, [1_000, 10_000_000], 'global', ['PROMOTION']),
      sku('0E3C-5B8A-D761', 'Online Prediction N1 Predefined Instance Core running in Americas', 'seconds', 'hour', HOUR, 0.0361, [1, 16], 'region', ['COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE']),
    ],
  },
  {
    id: 'CCD8-9BF1-090E',
    description: 'Kubernetes Engine',
    weight: 7,
    skus: [
      sku('B561-BFBD-1264', 'Regional Kubernetes Clusters', 'seconds', 'hour', HOUR, 0.1, [0.5, 1], 'region', ['FREE_TIER']),
      sku('8D1E-4A07-BB5C', 'Autopilot Pod mCPU Requests (us-central1)', 'seconds', 'hour', HOUR / 1000, 0.0000445, [250, 32_000], 'region', ['COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE']),
    ],
  },
];

/** Tax and rounding lines are not tied to a product; they name the invoice itself. */
const INVOICE_SERVICE = deepFreeze({ id: '', description: 'Invoice' });
const TAX_SKU = deepFreeze({ id: '', description: 'Tax' });
const ROUNDING_SKU = deepFreeze({ id: '', description: 'Rounding error' });

export interface GcpBillingProjectSpec {
  project: GcpProject;
  apps: readonly string[];
  env: string;
  costCenter: string | null;
}

export interface GcpBillingAccountSpec {
  id: string;
  currency: 'USD' | 'EUR';
  weight: number;
  geo: 'Americas' | 'EMEA';
  seller: string;
  /** Sales tax / VAT in basis points of the day's net charges. */
  taxBasisPoints: number;
  /** Negotiated discount off list by service id (cost_at_list stays the list price). */
  negotiated: Readonly<Record<string, number>>;
  /** Credit programmes the account has on every SKU, besides the SKU's own. */
  extraCredits: readonly GcpCreditType[];
  org: { number: string; domain: string };
  projects: readonly GcpBillingProjectSpec[];
}

function project(
  org: { number: string; domain: string },
  folder: { number: string; name: string },
  id: string,
  number: string,
  name: string,
  labels: Record<string, string>,
  apps: readonly string[],
): GcpBillingProjectSpec {
  return {
    project: {
      id,
      number,
      name,
      labels: Object.entries(labels).map(([key, value]) => ({ key, value })),
      ancestry_numbers: `/${org.number}/${folder.number}/`,
      ancestors: [
        { resource_name: `projects/${number}`, display_name: id },
        { resource_name: `folders/${folder.number}`, display_name: folder.name },
        { resource_name: `organizations/${org.number}`, display_name: org.domain },
      ],
    },
    apps,
    env: labels['env'] ?? 'dev',
    costCenter: labels['cost-center'] ?? null,
  };
}

const ACME = { number: '612345678901', domain: 'acme.example' };
const GLOBEX = { number: '834712906153', domain: 'globex.example' };
const INITECH = { number: '190283746512', domain: 'initech.example' };

export const GCP_BILLING_ACCOUNTS: readonly GcpBillingAccountSpec[] = [
  {
    id: '01A2B3-C4D5E6-F7A8B9',
    currency: 'USD',
    weight: 50,
    geo: 'Americas',
    seller: 'Google LLC',
    taxBasisPoints: 825,
    negotiated: { '6F81-5844-456A': 0.08, '24E6-581D-38E5': 0.05 },
    extraCredits: ['DISCOUNT'],
    org: ACME,
    projects: [
      project(ACME, { number: '298765432109', name: 'Production' }, 'acme-prod-web', '482915736104', 'Acme Prod Web', { env: 'prod', team: 'web', 'cost-center': 'cc-1042' }, ['checkout', 'storefront', 'search']),
      project(ACME, { number: '298765432109', name: 'Production' }, 'acme-prod-data', '731042958316', 'Acme Prod Data', { env: 'prod', team: 'data', 'cost-center': 'cc-2077' }, ['etl', 'warehouse']),
      project(ACME, { number: '405918273640', name: 'Non-production' }, 'acme-staging', '164829305712', 'Acme Staging', { env: 'staging', team: 'platform' }, ['checkout', 'etl']),
      project(ACME, { number: '405918273640', name: 'Non-production' }, 'acme-sandbox-jdoe', '905173648221', 'Sandbox jdoe', {}, ['scratch']),
    ],
  },
  {
    id: '0B7C3D-19E2F4-6A5B8C',
    currency: 'USD',
    weight: 20,
    geo: 'Americas',
    seller: 'Google LLC',
    taxBasisPoints: 600,
    negotiated: {},
    extraCredits: ['PROMOTION'],
    org: GLOBEX,
    projects: [
      project(GLOBEX, { number: '571930846215', name: 'Research' }, 'globex-ml-research', '925361748209', 'Globex ML Research', { env: 'research', team: 'ml', 'cost-center': 'r-310' }, ['training', 'inference']),
      project(GLOBEX, { number: '571930846215', name: 'Research' }, 'globex-analytics', '308174925563', 'Globex Analytics', { env: 'prod', team: 'bi' }, ['dashboards']),
    ],
  },
  {
    id: '01E4F7-A2B3C4-D5E6F7',
    currency: 'EUR',
    weight: 30,
    geo: 'EMEA',
    seller: 'Google Cloud EMEA Limited',
    taxBasisPoints: 1900,
    negotiated: { '6F81-5844-456A': 0.05 },
    extraCredits: ['DISCOUNT'],
    org: INITECH,
    projects: [
      project(INITECH, { number: '660192837465', name: 'Shop' }, 'initech-eu-shop', '647209183552', 'Initech EU Shop', { env: 'prod', team: 'shop', 'cost-center': 'de-4410' }, ['cart', 'catalog', 'payments']),
      project(INITECH, { number: '660192837465', name: 'Shop' }, 'initech-eu-dev', '550918273641', 'Initech EU Dev', { env: 'dev', team: 'shop' }, ['cart', 'catalog']),
    ],
  },
];

const RESELLER = 'Northwind Cloud Partners LLC';

const REGIONS: Record<GcpBillingAccountSpec['geo'], readonly { region: string; country: string; zones: readonly string[] }[]> = {
  Americas: [
    { region: 'us-central1', country: 'US', zones: ['a', 'b', 'c', 'f'] },
    { region: 'us-east1', country: 'US', zones: ['b', 'c', 'd'] },
  ],
  EMEA: [
    { region: 'europe-west1', country: 'BE', zones: ['b', 'c', 'd'] },
    { region: 'europe-west3', country: 'DE', zones: ['a', 'b', 'c'] },
  ],
};
const MULTI_REGION: Record<GcpBillingAccountSpec['geo'], GcpLocation> = {
  Americas: { location: 'us', country: 'US', region: null, zone: null },
  EMEA: { location: 'eu', country: null, region: null, zone: null },
};
const GLOBAL: GcpLocation = deepFreeze({ location: 'global', country: null, region: null, zone: null });

const MACHINE_SPECS = [
  ['e2-standard-4', '4', '16384'],
  ['e2-medium', '2', '4096'],
  ['n1-standard-8', '8', '30720'],
  ['n2-highmem-16', '16', '131072'],
] as const;
const COMPUTE_SYSTEM_LABELS: readonly GcpKeyValue[][] = deepFreeze(
  MACHINE_SPECS.map(([spec, cores, memory]) => [
    { key: 'compute.googleapis.com/cores', value: cores },
    { key: 'compute.googleapis.com/machine_spec', value: spec },
    { key: 'compute.googleapis.com/memory', value: memory },
  ]),
);

const CREDIT_SHARE: Record<GcpCreditType, readonly [number, number]> = {
  SUSTAINED_USAGE_DISCOUNT: [0.1, 0.3],
  COMMITTED_USAGE_DISCOUNT: [0.28, 0.55],
  COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE: [0.17, 0.28],
  FREE_TIER: [1, 1],
  PROMOTION: [0.3, 1],
  DISCOUNT: [0.03, 0.12],
};

const ADJUSTMENT_MODES = ['PARTIAL_CORRECTION', 'COMPLETE_NEGATION', 'MANUAL_ADJUSTMENT'] as const;
const ADJUSTMENT_TYPES = ['USAGE_CORRECTION', 'PRICE_CORRECTION', 'GOODWILL', 'GENERAL_ADJUSTMENT'] as const;

interface CreditTemplate {
  name: string;
  full_name: string;
  id: string;
  type: GcpCreditType;
  share: readonly [number, number];
}

/** Per-account lookups built once: locations, SKU variants for the account's geography, credits. */
interface AccountWorld {
  spec: GcpBillingAccountSpec;
  zones: readonly GcpLocation[];
  regions: readonly GcpLocation[];
  multi: GcpLocation;
  /** Indexed like ALL_SKUS. */
  skus: readonly { id: string; description: string }[];
  credits: readonly (readonly CreditTemplate[])[];
  labelSets: readonly (readonly GcpKeyValue[][])[];
  tagSets: readonly (readonly GcpTag[][])[];
}

const ALL_SKUS: readonly SkuSpec[] = SERVICES.flatMap((s) => s.skus);
const SKU_INDEX = new Map(ALL_SKUS.map((s, i) => [s, i]));
const SERVICE_REFS = new Map(SERVICES.map((s) => [s, deepFreeze({ id: s.id, description: s.description })]));
const SKU_SERVICE = new Map(SERVICES.flatMap((svc) => svc.skus.map((s) => [s, svc] as const)));

/** Frozen: rows share these objects (and their cached JSON), so no consumer may change them. */
const WORLD: readonly AccountWorld[] = deepFreeze(GCP_BILLING_ACCOUNTS.map(buildAccountWorld));

function buildAccountWorld(spec: GcpBillingAccountSpec): AccountWorld {
  const regionDefs = REGIONS[spec.geo];
  const regions = regionDefs.map((r) => ({ location: r.region, country: r.country, region: r.region, zone: null }));
  const zones = regionDefs.flatMap((r) => r.zones.map((z) => ({ location: `${r.region}-${z}`, country: r.country, region: r.region, zone: `${r.region}-${z}` })));
  const skus = ALL_SKUS.map((s) => (spec.geo === 'Americas' ? { id: s.id, description: s.description } : emeaVariant(s)));
  const templates = creditTemplates(spec);
  const credits = ALL_SKUS.map((s) => [...new Set([...s.credits, ...spec.extraCredits])].map((t) => templates(t, s)));
  const labelSets = spec.projects.map((p) => [
    [],
    ...p.apps.map((app) => [
      { key: 'app', value: app },
      { key: 'env', value: p.env },
    ]),
    ...p.apps.map((app) => [
      { key: 'app', value: app },
      { key: 'component', value: `${app}-worker` },
      { key: 'env', value: p.env },
    ]),
  ]);
  const tagSets = spec.projects.map((p) => {
    const env: GcpTag = { key: 'environment', value: p.env, inherited: true, namespace: spec.org.number };
    const sets: GcpTag[][] = [[], [], [env]];
    if (p.costCenter !== null) sets.push([env, { key: 'cost_center', value: p.costCenter, inherited: false, namespace: p.project.id }]);
    return sets;
  });
  return { spec, zones, regions, multi: MULTI_REGION[spec.geo], skus, credits, labelSets, tagSets };
}

/** The same product sold in Europe has its own SKU id and a description naming EMEA. */
function emeaVariant(s: SkuSpec): { id: string; description: string } {
  const description = s.description
    .replace(/Americas/g, 'EMEA')
    .replace('US Multi-region', 'EU Multi-region')
    .replace('(us-central1)', '(europe-west1)');
  if (description === s.description) return { id: s.id, description };
  const h = (fnv1a(description, 0x811c9dc5) * 0x10000 + (fnv1a(description, 0x01000193) & 0xffff)).toString(16).toUpperCase().padStart(12, '0');
  return { id: `${h.slice(0, 4)}-${h.slice(4, 8)}-${h.slice(8, 12)}`, description };
}

function creditTemplates(spec: GcpBillingAccountSpec): (type: GcpCreditType, s: SkuSpec) => CreditTemplate {
  const suffix = String(fnv1a(spec.id, 0x811c9dc5)).padStart(10, '0');
  return (type, s) => {
    const share = CREDIT_SHARE[type];
    const of = (name: string, full_name: string, id: string): CreditTemplate => ({ name, full_name, id, type, share });
    switch (type) {
      case 'SUSTAINED_USAGE_DISCOUNT':
        return of('Sustained Usage Discount', 'Sustained Usage Discount', `SustainedUsageDiscount:${suffix}`);
      case 'COMMITTED_USAGE_DISCOUNT': {
        const resource = s.unit === 'seconds' ? 'CPU' : 'RAM';
        return of(`Committed use discount: ${resource}`, `Committed use discount: ${resource} (3 year)`, `CommittedUsageDiscount:${resource}:${suffix}`);
      }
      case 'COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE': {
        const service = SKU_SERVICE.get(s)?.description ?? 'Google Cloud';
        return of('Committed use discount - dollar based', `Committed use discount - dollar based: ${service}`, `CommittedUsageDiscountDollarBase:${suffix}`);
      }
      case 'FREE_TIER':
        return of('Free tier', `Free tier: ${SKU_SERVICE.get(s)?.description ?? 'Google Cloud'}`, `FreeTier:${s.id}`);
      case 'PROMOTION':
        return spec.extraCredits.includes('PROMOTION')
          ? of('Google for Startups Cloud Program', 'Google for Startups Cloud Program credit', `Promotion:${suffix}`)
          : of('Vertex AI trial credit', 'Vertex AI generative AI trial credit', `Promotion:genai:${suffix}`);
      case 'DISCOUNT':
        return of('Spending based discount', 'Spending based discount (contractual)', `Discount:${suffix}`);
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Seeded randomness

/** 32-bit FNV-1a, for stable derived ids. */
function fnv1a(s: string, basis: number): number {
  let h = basis >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Uniform draws from pure-rand's xoroshiro128+. Only +, ×, floor and round are applied to the
 * draws (no exp/log), so the same seed gives the same bits on every platform.
 */
class Rng {
  private readonly g: ReturnType<typeof xoroshiro128plus>;

  constructor(seed: number, epochDay: number) {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 2 ** 32) >>> 0;
    const h = fmix32(fmix32(fmix32(lo ^ 0x9e3779b9) ^ hi) ^ epochDay);
    this.g = xoroshiro128plus(h | 0);
    // xoroshiro's first outputs from a 32-bit seed are weakly mixed.
    for (let i = 0; i < 16; i++) this.g.next();
  }

  /** [0, 1) with 32 bits of resolution. */
  float(): number {
    return (this.g.next() >>> 0) * 2.3283064365386963e-10;
  }

  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.float() * xs.length)] as T;
  }

  weighted<T>(xs: readonly T[], cumulative: readonly number[]): T {
    const total = cumulative[cumulative.length - 1] ?? 0;
    const x = this.float() * total;
    let i = 0;
    while (i < cumulative.length - 1 && x >= (cumulative[i] ?? 0)) i++;
    return xs[i] as T;
  }

  hex(length: number): string {
    let s = '';
    while (s.length < length) s += (this.g.next() >>> 0).toString(16).padStart(8, '0');
    return s.slice(0, length);
  }
}

const cumulative = (weights: readonly number[]): number[] => {
  let sum = 0;
  return weights.map((w) => (sum += w));
};
const ACCOUNT_CUM = cumulative(GCP_BILLING_ACCOUNTS.map((a) => a.weight));
const SERVICE_CUM = cumulative(SERVICES.map((s) => s.weight));

// ---------------------------------------------------------------------------------------------
// Money and time

/** Exact decimal text of `micros` / 10^6: no exponent, no trailing zeros ("-1.5", "0.000001", "0"). */
export function formatMicros(micros: bigint): string {
  const negative = micros < 0n;
  const abs = negative ? -micros : micros;
  const whole = abs / 1_000_000n;
  const fraction = (abs % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction === '' ? '' : `.${fraction}`}`;
}

/**
 * The JSON number for an integer number of micros. Below 10^15 micros the decimal has at most 15
 * significant digits, so the double nearest to it prints back as exactly that decimal.
 */
function microsToNumber(micros: number): number {
  if (!Number.isSafeInteger(micros) || Math.abs(micros) >= 1e15) throw new RangeError(`amount out of range: ${micros} micros`);
  return micros / 1e6;
}

const DAY_MS = 86_400_000;
const HOUR_US = 3_600_000_000;
const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Epoch milliseconds of 00:00 UTC of a `YYYY-MM-DD` calendar date, or undefined if it is not one. */
export function parseUtcDay(day: string): number | undefined {
  const m = DAY_RE.exec(day);
  if (m === null) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return new Date(ms).toISOString().slice(0, 10) === day ? ms : undefined;
}

const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/**
 * BigQuery extract renderings of a TIMESTAMP, all of which a reader must accept:
 * `2026-11-20 03:00:00 UTC`, `2026-11-20 03:00:00.123456 UTC` and `2026-11-20T03:00:00Z`.
 */
const TS_FORMATS = ['utc', 'utc-micros', 'iso'] as const;
type TsFormat = 0 | 1 | 2;

function formatTimestamp(epochMicros: number, format: TsFormat): string {
  const iso = new Date(Math.floor(epochMicros / 1000)).toISOString();
  const date = iso.slice(0, 10);
  const time = iso.slice(11, 19);
  switch (TS_FORMATS[format]) {
    case 'utc':
      return `${date} ${time} UTC`;
    case 'utc-micros':
      return `${date} ${time}.${String(epochMicros % 1e6).padStart(6, '0')} UTC`;
    case 'iso':
      return `${date}T${time}Z`;
  }
}

const LA_MONTH = new Intl.DateTimeFormat('en-US', { timeZone: 'America/Los_Angeles', year: 'numeric', month: '2-digit' });

/** Invoice months follow US Pacific time, so the first UTC hours of a month bill to the previous one. */
function invoiceMonth(ms: number): string {
  const parts = LA_MONTH.formatToParts(ms);
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}${get('month')}`;
}

// ---------------------------------------------------------------------------------------------
// Rows

export interface GcpBillingRowsOptions {
  /** Usage day, `YYYY-MM-DD` (UTC). */
  day: string;
  /** Rows in the day, tax rows included; at least one per billing account. */
  rowsPerDay: number;
  seed: number;
}

/** Share of rows exported 1–5 days after their usage day. */
const LATE_SHARE = 0.07;
const ADJUSTMENT_SHARE = 0.004;
const ROUNDING_SHARE = 0.003;
const RESELLER_SHARE = 0.015;
const EMPTY: never[] = deepFreeze([]);

/**
 * The rows of one usage day, lazily: regular usage (with occasional adjustment and rounding_error
 * rows) spread over the 24 hourly windows, then one tax row per billing account.
 */
export function* gcpBillingRows(opts: GcpBillingRowsOptions): Generator<GeneratedGcpBillingRow, void, undefined> {
  const problems = rowsOptionProblems(opts);
  if (problems.length > 0) throw new RangeError(problems.join('; '));
  const dayMs = parseUtcDay(opts.day) as number;
  const epochDay = dayMs / DAY_MS;
  const rng = new Rng(opts.seed, epochDay);
  const dayUs = dayMs * 1000;

  // Per-day constants: the EUR rate of the day and the renderings of each hourly window.
  // One division of integers, so the rate prints as its 4 decimals.
  const eurRate = rng.int(9_150, 9_250) / 10_000;
  const windows = Array.from({ length: 24 }, (_, h) => {
    const start = dayUs + h * HOUR_US;
    const end = start + HOUR_US;
    return {
      start: ([0, 1, 2] as const).map((f) => formatTimestamp(start, f)),
      end: ([0, 1, 2] as const).map((f) => formatTimestamp(end, f)),
      endUs: end,
      invoice: deepFreeze({ month: invoiceMonth(start / 1000), publisher_type: 'GOOGLE' }),
    };
  });
  const netByAccount = WORLD.map(() => 0n);

  const drawFormat = (): TsFormat => {
    const r = rng.float();
    return r < 0.5 ? 0 : r < 0.85 ? 1 : 2;
  };
  /** Normal rows land a few hours after their window; late ones on day D+1…D+5. */
  const drawExport = (endUs: number, late: boolean): number =>
    late ? dayUs + rng.int(1, 5) * DAY_MS * 1000 + Math.floor(rng.float() * DAY_MS * 1000) : endUs + 15 * 60e6 + Math.floor(rng.float() * 5 * HOUR_US);

  const usageRows = opts.rowsPerDay - WORLD.length;
  for (let i = 0; i < usageRows; i++) {
    const hour = Math.floor((i * 24) / usageRows);
    const w = windows[hour] as (typeof windows)[number];
    const a = rng.weighted(WORLD, ACCOUNT_CUM);
    const accountIndex = WORLD.indexOf(a);
    const rate = a.spec.currency === 'USD' ? 1 : eurRate;
    const fmt = drawFormat();
    const kindDraw = rng.float();
    const kind: GcpCostType = kindDraw < ADJUSTMENT_SHARE ? 'adjustment' : kindDraw < ADJUSTMENT_SHARE + ROUNDING_SHARE ? 'rounding_error' : 'regular';
    const late = rng.chance(kind === 'adjustment' ? 0.8 : kind === 'rounding_error' ? 0.5 : LATE_SHARE);
    const exportTime = formatTimestamp(drawExport(w.endUs, late), fmt);
    const reseller = a.spec.currency === 'USD' && rng.chance(RESELLER_SHARE);
    const transactionType = reseller ? 'THIRD_PARTY_RESELLER' : 'GOOGLE';
    const sellerName = reseller ? RESELLER : a.spec.seller;

    let row: GcpBillingRow;
    let costMicros: number;
    let creditsMicros = 0;
    if (kind === 'rounding_error') {
      costMicros = (rng.chance(0.5) ? -1 : 1) * rng.int(1, 9_999);
      const cost = microsToNumber(costMicros);
      row = {
        billing_account_id: a.spec.id,
        service: INVOICE_SERVICE,
        sku: ROUNDING_SKU,
        usage_start_time: w.start[fmt] as string,
        usage_end_time: w.end[fmt] as string,
        project: null,
        labels: EMPTY,
        system_labels: EMPTY,
        location: GLOBAL,
        tags: EMPTY,
        export_time: exportTime,
        cost,
        cost_at_list: cost,
        currency: a.spec.currency,
        currency_conversion_rate: rate,
        usage: { amount: 0, unit: 'count', amount_in_pricing_units: 0, pricing_unit: 'count' },
        credits: EMPTY,
        invoice: w.invoice,
        cost_type: kind,
        adjustment_info: null,
        transaction_type: transactionType,
        seller_name: sellerName,
      };
    } else {
      const projectIndex = rng.int(0, a.spec.projects.length - 1);
      const p = a.spec.projects[projectIndex] as GcpBillingProjectSpec;
      const service = rng.weighted(SERVICES, SERVICE_CUM);
      const s = rng.pick(service.skus);
      const skuIndex = SKU_INDEX.get(s) as number;
      const u = rng.float();
      const qty = s.qty[0] + (s.qty[1] - s.qty[0]) * u * u * u;
      let amount = Math.max(1, Math.round(qty * s.perPricingUnit));
      const listUsdMicros = (amount / s.perPricingUnit) * s.usdPerPricingUnit * 1e6;
      const discount = a.spec.negotiated[service.id] ?? 0;
      let listMicros = Math.round(listUsdMicros * rate);
      costMicros = Math.round(listUsdMicros * (1 - discount) * rate);
      let credits: GcpCredit[] = EMPTY;
      let adjustment: GcpAdjustmentInfo | null = null;

      if (kind === 'adjustment') {
        const mode = rng.pick(ADJUSTMENT_MODES);
        const type = mode === 'COMPLETE_NEGATION' ? 'USAGE_CORRECTION' : rng.pick(ADJUSTMENT_TYPES);
        if (mode === 'COMPLETE_NEGATION') {
          amount = -amount;
          costMicros = -costMicros;
          listMicros = -listMicros;
        } else if (mode === 'PARTIAL_CORRECTION') {
          const share = 0.05 + 0.45 * rng.float();
          const sign = rng.chance(0.5) ? -1 : 1;
          costMicros = sign * Math.max(1, Math.round(costMicros * share));
          listMicros = sign * Math.max(1, Math.round(listMicros * share));
          amount = 0;
        } else {
          // A manual credit memo for a fixed sum.
          costMicros = -rng.int(1, 50) * 1_000_000;
          listMicros = costMicros;
          amount = 0;
        }
        adjustment = {
          id: `${rng.hex(8)}-${rng.hex(4)}-${rng.hex(4)}-${rng.hex(4)}-${rng.hex(12)}`,
          description: `${type === 'GOODWILL' ? 'Goodwill credit' : 'Billing correction'} for ${a.skus[skuIndex]?.description ?? s.description}`,
          mode,
          type,
        };
      } else if (costMicros > 0) {
        const candidates = a.credits[skuIndex] ?? [];
        const r = rng.float();
        const count = candidates.length === 0 ? 0 : r < 0.06 && candidates.length > 1 ? 2 : r < 0.3 ? 1 : 0;
        if (count > 0) {
          credits = [];
          const first = rng.int(0, candidates.length - 1);
          let remaining = costMicros;
          for (let c = 0; c < count; c++) {
            const t = candidates[(first + c) % candidates.length] as CreditTemplate;
            const share = t.share[0] + (t.share[1] - t.share[0]) * rng.float();
            const micros = Math.floor(remaining * share);
            if (micros <= 0) continue;
            remaining -= micros;
            creditsMicros -= micros;
            credits.push({ name: t.name, amount: microsToNumber(-micros), full_name: t.full_name, id: t.id, type: t.type });
          }
        }
      }

      row = {
        billing_account_id: a.spec.id,
        service: SERVICE_REFS.get(service) as { id: string; description: string },
        sku: a.skus[skuIndex] as { id: string; description: string },
        usage_start_time: w.start[fmt] as string,
        usage_end_time: w.end[fmt] as string,
        project: p.project,
        labels: rng.pick(a.labelSets[projectIndex] ?? EMPTY),
        system_labels: s.compute ? rng.pick(COMPUTE_SYSTEM_LABELS) : EMPTY,
        location: s.scope === 'zone' ? rng.pick(a.zones) : s.scope === 'region' ? rng.pick(a.regions) : s.scope === 'multi' ? a.multi : GLOBAL,
        tags: rng.pick(a.tagSets[projectIndex] ?? EMPTY),
        export_time: exportTime,
        cost: microsToNumber(costMicros),
        cost_at_list: microsToNumber(listMicros),
        currency: a.spec.currency,
        currency_conversion_rate: rate,
        usage: { amount, unit: s.unit, amount_in_pricing_units: amount / s.perPricingUnit, pricing_unit: s.pricingUnit },
        credits,
        invoice: w.invoice,
        cost_type: kind,
        adjustment_info: adjustment,
        transaction_type: transactionType,
        seller_name: sellerName,
      };
    }
    const cost = BigInt(costMicros);
    const creditSum = BigInt(creditsMicros);
    netByAccount[accountIndex] = (netByAccount[accountIndex] as bigint) + cost + creditSum;
    yield { row, costMicros: cost, creditsMicros: creditSum, currency: a.spec.currency };
  }

  // One tax row per account, on the day's net charges (never negative).
  const last = windows[23] as (typeof windows)[number];
  for (let i = 0; i < WORLD.length; i++) {
    const a = WORLD[i] as AccountWorld;
    const net = netByAccount[i] as bigint;
    const tax = net > 0n ? (net * BigInt(a.spec.taxBasisPoints) + 5_000n) / 10_000n : 0n;
    const fmt = drawFormat();
    const cost = microsToNumber(Number(tax));
    const row: GcpBillingRow = {
      billing_account_id: a.spec.id,
      service: INVOICE_SERVICE,
      sku: TAX_SKU,
      usage_start_time: last.start[fmt] as string,
      usage_end_time: last.end[fmt] as string,
      project: null,
      labels: EMPTY,
      system_labels: EMPTY,
      location: a.multi,
      tags: EMPTY,
      export_time: formatTimestamp(last.endUs + 2 * HOUR_US + Math.floor(rng.float() * 8 * HOUR_US), fmt),
      cost,
      cost_at_list: cost,
      currency: a.spec.currency,
      currency_conversion_rate: a.spec.currency === 'USD' ? 1 : eurRate,
      usage: { amount: 0, unit: 'count', amount_in_pricing_units: 0, pricing_unit: 'count' },
      credits: EMPTY,
      invoice: last.invoice,
      cost_type: 'tax',
      adjustment_info: null,
      transaction_type: 'GOOGLE',
      seller_name: a.spec.seller,
    };
    yield { row, costMicros: tax, creditsMicros: 0n, currency: a.spec.currency };
  }
}

function rowsOptionProblems(opts: GcpBillingRowsOptions): string[] {
  const problems: string[] = [];
  if (parseUtcDay(opts.day) === undefined) problems.push(`day must be a calendar date YYYY-MM-DD, got ${JSON.stringify(opts.day)}`);
  if (!Number.isSafeInteger(opts.rowsPerDay) || opts.rowsPerDay < WORLD.length) {
    problems.push(`rowsPerDay must be an integer ≥ ${WORLD.length} (one tax row per billing account), got ${opts.rowsPerDay}`);
  }
  if (!Number.isSafeInteger(opts.seed) || opts.seed < 0) problems.push(`seed must be a non-negative integer, got ${opts.seed}`);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Serialization

/**
 * `JSON.stringify(row)`, faster: the catalogue objects rows share (project, SKU, location, label
 * sets, …) are frozen, and a frozen object's JSON is computed once and reused. Objects that are
 * not frozen are serialized afresh, so a hand-built row is still serialized correctly.
 */
export function serializeGcpBillingRow(r: GcpBillingRow): string {
  return (
    `{"billing_account_id":${JSON.stringify(r.billing_account_id)},"service":${json(r.service)},"sku":${json(r.sku)}` +
    `,"usage_start_time":${JSON.stringify(r.usage_start_time)},"usage_end_time":${JSON.stringify(r.usage_end_time)}` +
    `,"project":${json(r.project)},"labels":${json(r.labels)},"system_labels":${json(r.system_labels)},"location":${json(r.location)}` +
    `,"tags":${json(r.tags)},"export_time":${JSON.stringify(r.export_time)},"cost":${JSON.stringify(r.cost)},"cost_at_list":${JSON.stringify(r.cost_at_list)}` +
    `,"currency":${JSON.stringify(r.currency)},"currency_conversion_rate":${JSON.stringify(r.currency_conversion_rate)},"usage":${json(r.usage)}` +
    `,"credits":${json(r.credits)},"invoice":${json(r.invoice)},"cost_type":${JSON.stringify(r.cost_type)},"adjustment_info":${json(r.adjustment_info)}` +
    `,"transaction_type":${JSON.stringify(r.transaction_type)},"seller_name":${JSON.stringify(r.seller_name)}}`
  );
}

const frozenJson = new WeakMap<object, string>();
function json(v: object | null): string {
  if (v === null || !Object.isFrozen(v)) return JSON.stringify(v);
  let s = frozenJson.get(v);
  if (s === undefined) frozenJson.set(v, (s = JSON.stringify(v)));
  return s;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Files

export interface GcpBillingExportOptions {
  outDir: string;
  /** First usage day, `YYYY-MM-DD` (UTC). */
  start: string;
  /** Number of consecutive usage days (one file each). */
  days: number;
  /** Rows per file, tax rows included. */
  rowsPerDay: number;
  seed: number;
  format: GcpBillingFormat;
  /** Called after each file is complete. */
  onFile?: (file: GeneratedGcpBillingFile) => void;
}

export interface CurrencyTotals {
  rows: number;
  /** Σ cost, exact decimal. */
  cost: string;
  /** Σ credits[].amount, exact decimal (≤ 0). */
  credits: string;
  /** cost + credits. */
  net: string;
}

export interface GcpBillingTotals {
  seed: number;
  /** Usage day → currency → totals. */
  days: Record<string, Record<string, CurrencyTotals>>;
}

export interface GeneratedGcpBillingFile {
  day: string;
  path: string;
  rows: number;
  bytes: number;
  millis: number;
  totals: Record<string, CurrencyTotals>;
}

export interface GcpBillingExportResult {
  files: string[];
  totals: GcpBillingTotals;
  totalsFile: string;
}

export const MAX_DAYS = 3660;

/** What is wrong with the options, one message per problem (empty when they are usable). */
export function gcpBillingOptionProblems(opts: Omit<GcpBillingExportOptions, 'onFile'>): string[] {
  const problems: string[] = [];
  if (typeof opts.outDir !== 'string' || opts.outDir.trim() === '') problems.push('outDir must be a non-empty path');
  if (!Number.isSafeInteger(opts.days) || opts.days < 1 || opts.days > MAX_DAYS) problems.push(`days must be an integer from 1 to ${MAX_DAYS}, got ${opts.days}`);
  if (!(GCP_BILLING_FORMATS as readonly string[]).includes(opts.format)) problems.push(`format must be one of ${GCP_BILLING_FORMATS.join(', ')}, got ${JSON.stringify(opts.format)}`);
  problems.push(...rowsOptionProblems({ day: opts.start, rowsPerDay: opts.rowsPerDay, seed: opts.seed }).map((p) => p.replace(/^day /, 'start ')));
  return problems;
}

export const gcpBillingFileName = (day: string, format: GcpBillingFormat): string => `gcp_billing_export_v1_${day}.${format}`;

/**
 * Writes one file per usage day into `outDir` and `totals.json` beside them. Files are written
 * under a temporary name and renamed when complete; Parquet is converted from a temporary NDJSON
 * file by an in-memory DuckDB confined to `outDir`.
 */
export async function generateGcpBillingExport(opts: GcpBillingExportOptions): Promise<GcpBillingExportResult> {
  const problems = gcpBillingOptionProblems(opts);
  if (problems.length > 0) throw new RangeError(problems.join('; '));
  const outDir = path.resolve(opts.outDir);
  fs.mkdirSync(outDir, { recursive: true });
  const startMs = parseUtcDay(opts.start) as number;
  const totals: GcpBillingTotals = { seed: opts.seed, days: {} };
  const files: string[] = [];
  let db: DuckDbDatabase | undefined;
  let session: DuckDbSession | undefined;
  try {
    for (let d = 0; d < opts.days; d++) {
      const began = performance.now();
      const day = isoDay(startMs + d * DAY_MS);
      const file = path.join(outDir, gcpBillingFileName(day, opts.format));
      const ndjson = opts.format === 'ndjson' ? `${file}.tmp` : path.join(outDir, `.${gcpBillingFileName(day, 'ndjson')}.tmp`);
      const sums = new Map<string, { rows: number; cost: bigint; credits: bigint }>();
      try {
        await pipeline(Readable.from(ndjsonChunks(gcpBillingRows({ day, rowsPerDay: opts.rowsPerDay, seed: opts.seed }), sums)), fs.createWriteStream(ndjson));
        if (opts.format === 'ndjson') {
          fs.renameSync(ndjson, file);
        } else {
          db ??= await DuckDbDatabase.open(':memory:', { readableDirectories: [outDir] });
          session ??= await db.session();
          await ndjsonToParquet(session, ndjson, `${file}.tmp`);
          fs.renameSync(`${file}.tmp`, file);
        }
      } finally {
        fs.rmSync(ndjson, { force: true });
        fs.rmSync(`${file}.tmp`, { force: true });
      }
      const dayTotals = Object.fromEntries(
        [...sums.entries()]
          .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
          .map(([currency, s]) => [currency, { rows: s.rows, cost: formatMicros(s.cost), credits: formatMicros(s.credits), net: formatMicros(s.cost + s.credits) }]),
      );
      totals.days[day] = dayTotals;
      files.push(file);
      opts.onFile?.({ day, path: file, rows: opts.rowsPerDay, bytes: fs.statSync(file).size, millis: performance.now() - began, totals: dayTotals });
    }
  } finally {
    await db?.close();
  }
  const totalsFile = path.join(outDir, 'totals.json');
  fs.writeFileSync(`${totalsFile}.tmp`, `${JSON.stringify(totals, null, 2)}\n`);
  fs.renameSync(`${totalsFile}.tmp`, totalsFile);
  return { files, totals, totalsFile };
}

/** ~256 KiB strings of NDJSON lines, summing money per currency on the way. */
function* ndjsonChunks(rows: Iterable<GeneratedGcpBillingRow>, sums: Map<string, { rows: number; cost: bigint; credits: bigint }>): Generator<string> {
  let chunk = '';
  for (const r of rows) {
    let s = sums.get(r.currency);
    if (s === undefined) sums.set(r.currency, (s = { rows: 0, cost: 0n, credits: 0n }));
    s.rows++;
    s.cost += r.costMicros;
    s.credits += r.creditsMicros;
    chunk += `${serializeGcpBillingRow(r.row)}\n`;
    if (chunk.length >= 262_144) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}

const TIMESTAMP_COLUMNS = new Set<string>(['usage_start_time', 'usage_end_time', 'export_time']);
const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/**
 * Timestamps arrive as text in any of the three extract renderings; strptime takes the
 * ` UTC` and `Z` forms explicitly and the cast is the strict fallback (it fails on anything else).
 */
const parseTimestampSql = (column: string): string =>
  `coalesce(timezone('UTC', try_strptime(${column}, ['%Y-%m-%d %H:%M:%S.%f UTC', '%Y-%m-%d %H:%M:%S UTC', '%Y-%m-%dT%H:%M:%SZ'])), CAST(${column} AS TIMESTAMPTZ))`;

async function ndjsonToParquet(session: DuckDbSession, ndjson: string, parquet: string): Promise<void> {
  const columns = GCP_BILLING_PARQUET_COLUMNS.map(([name, type]) => `${name}: ${sqlString(TIMESTAMP_COLUMNS.has(name) ? 'VARCHAR' : type)}`).join(', ');
  const select = GCP_BILLING_PARQUET_COLUMNS.map(([name]) => (TIMESTAMP_COLUMNS.has(name) ? `${parseTimestampSql(name)} AS ${name}` : name)).join(', ');
  await session.execute(
    `COPY (SELECT ${select} FROM read_json(${sqlString(ndjson)}, format = 'newline_delimited', columns = {${columns}})) ` +
      `TO ${sqlString(parquet)} (FORMAT parquet, COMPRESSION zstd)`,
  );
}
