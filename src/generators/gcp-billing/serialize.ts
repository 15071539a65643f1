/**
 * Row serialization for the synthetic GCP billing export: `serializeGcpBillingRow` and the
 * frozen-object JSON cache behind it (`deepFreeze` marks catalogue objects whose JSON is reused).
 */
import type { GcpBillingRow } from './types.js';

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

export function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
