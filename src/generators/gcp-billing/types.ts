/**
 * Row shape of the synthetic GCP billing export: BigQuery column names and nesting, the enumerated
 * column values (cost and credit types), the output formats and the Parquet column types.
 */

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
