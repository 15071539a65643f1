/**
 * Lookups derived once from the catalogue: per-account locations, SKU variants for the account's
 * geography (EMEA ids and descriptions), credit templates, label and tag sets, SKU indexes.
 */
import { CREDIT_SHARE, GCP_BILLING_ACCOUNTS, MULTI_REGION, REGIONS, SERVICES, type GcpBillingAccountSpec, type SkuSpec } from './catalogue.js';
import { fnv1a } from './random.js';
import { deepFreeze } from './serialize.js';
import type { GcpCreditType, GcpKeyValue, GcpLocation, GcpTag } from './types.js';

export interface CreditTemplate {
  name: string;
  full_name: string;
  id: string;
  type: GcpCreditType;
  share: readonly [number, number];
}

/** Per-account lookups built once: locations, SKU variants for the account's geography, credits. */
export interface AccountWorld {
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
export const SKU_INDEX = new Map(ALL_SKUS.map((s, i) => [s, i]));
export const SERVICE_REFS = new Map(SERVICES.map((s) => [s, deepFreeze({ id: s.id, description: s.description })]));
const SKU_SERVICE = new Map(SERVICES.flatMap((svc) => svc.skus.map((s) => [s, svc] as const)));

/** Frozen: rows share these objects (and their cached JSON), so no consumer may change them. */
export const WORLD: readonly AccountWorld[] = deepFreeze(GCP_BILLING_ACCOUNTS.map(buildAccountWorld));

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
