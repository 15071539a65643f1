/**
 * Static catalogue of the synthetic GCP billing export: services and SKUs with list prices,
 * billing accounts and their projects, regions and zones, system labels, credit shares per
 * credit type, adjustment modes.
 */
import { deepFreeze } from './serialize.js';
import type { GcpCreditType, GcpKeyValue, GcpLocation, GcpProject } from './types.js';

export type Scope = 'zone' | 'region' | 'multi' | 'global';

export interface SkuSpec {
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

export interface ServiceSpec {
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

export const SERVICES: readonly ServiceSpec[] = [
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
export const INVOICE_SERVICE = deepFreeze({ id: '', description: 'Invoice' });
export const TAX_SKU = deepFreeze({ id: '', description: 'Tax' });
export const ROUNDING_SKU = deepFreeze({ id: '', description: 'Rounding error' });

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

export const RESELLER = 'Northwind Cloud Partners LLC';

export const REGIONS: Record<GcpBillingAccountSpec['geo'], readonly { region: string; country: string; zones: readonly string[] }[]> = {
  Americas: [
    { region: 'us-central1', country: 'US', zones: ['a', 'b', 'c', 'f'] },
    { region: 'us-east1', country: 'US', zones: ['b', 'c', 'd'] },
  ],
  EMEA: [
    { region: 'europe-west1', country: 'BE', zones: ['b', 'c', 'd'] },
    { region: 'europe-west3', country: 'DE', zones: ['a', 'b', 'c'] },
  ],
};
export const MULTI_REGION: Record<GcpBillingAccountSpec['geo'], GcpLocation> = {
  Americas: { location: 'us', country: 'US', region: null, zone: null },
  EMEA: { location: 'eu', country: null, region: null, zone: null },
};
export const GLOBAL: GcpLocation = deepFreeze({ location: 'global', country: null, region: null, zone: null });

const MACHINE_SPECS = [
  ['e2-standard-4', '4', '16384'],
  ['e2-medium', '2', '4096'],
  ['n1-standard-8', '8', '30720'],
  ['n2-highmem-16', '16', '131072'],
] as const;
export const COMPUTE_SYSTEM_LABELS: readonly GcpKeyValue[][] = deepFreeze(
  MACHINE_SPECS.map(([spec, cores, memory]) => [
    { key: 'compute.googleapis.com/cores', value: cores },
    { key: 'compute.googleapis.com/machine_spec', value: spec },
    { key: 'compute.googleapis.com/memory', value: memory },
  ]),
);

export const CREDIT_SHARE: Record<GcpCreditType, readonly [number, number]> = {
  SUSTAINED_USAGE_DISCOUNT: [0.1, 0.3],
  COMMITTED_USAGE_DISCOUNT: [0.28, 0.55],
  COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE: [0.17, 0.28],
  FREE_TIER: [1, 1],
  PROMOTION: [0.3, 1],
  DISCOUNT: [0.03, 0.12],
};

export const ADJUSTMENT_MODES = ['PARTIAL_CORRECTION', 'COMPLETE_NEGATION', 'MANUAL_ADJUSTMENT'] as const;
export const ADJUSTMENT_TYPES = ['USAGE_CORRECTION', 'PRICE_CORRECTION', 'GOODWILL', 'GENERAL_ADJUSTMENT'] as const;
