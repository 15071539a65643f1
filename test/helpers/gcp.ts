import crypto from 'node:crypto';

let cachedKey: string | undefined;

/** A service-account key file shaped like the ones Google issues, with a real RSA key. */
export function serviceAccount(over: Record<string, unknown> = {}): Record<string, unknown> {
  cachedKey ??= crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    type: 'service_account',
    project_id: 'acme-billing-123',
    private_key_id: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
    private_key: cachedKey,
    client_email: 'convergence@acme-billing-123.iam.gserviceaccount.com',
    client_id: '123456789012345678901',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: 'https://oauth2.googleapis.com/token',
    ...over,
  };
}

/** One export row in BigQuery's NDJSON extract form. */
export function exportRow(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    billing_account_id: '01A2B3-C4D5E6-F7A8B9',
    invoice: { month: '202611', publisher_type: null },
    cost_type: 'regular',
    service: { id: '6F81-5844-456A', description: 'Compute Engine' },
    sku: { id: 'CP-COMPUTEENGINE-VMIMAGE-N1-STANDARD-1', description: 'N1 Predefined Instance Core' },
    usage_start_time: '2026-11-20 03:00:00 UTC',
    usage_end_time: '2026-11-20 04:00:00 UTC',
    project: { id: 'web-prod', number: '111', name: 'Web prod', labels: [{ key: 'team', value: 'web' }], ancestry_numbers: '/1/', ancestors: [] },
    labels: [{ key: 'env', value: 'prod' }],
    system_labels: [],
    location: { location: 'us-central1', country: 'US', region: 'us-central1', zone: 'us-central1-a' },
    tags: [],
    export_time: '2026-11-20 09:12:00.123456 UTC',
    cost: 1.25,
    cost_at_list: 1.5,
    currency: 'USD',
    currency_conversion_rate: 1,
    usage: { amount: 3600, unit: 'seconds', amount_in_pricing_units: 1, pricing_unit: 'hour' },
    credits: [{ name: 'Sustained use discount', amount: -0.25, full_name: null, id: 'SUD', type: 'SUSTAINED_USAGE_DISCOUNT' }],
    adjustment_info: null,
    transaction_type: 'GOOGLE',
    seller_name: null,
    ...over,
  };
}
