import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const CWD = path.resolve('/srv/convergence');
const KEY_32 = 'k'.repeat(32);
const MASTER = Buffer.alloc(32, 7).toString('base64');
const load = (env: Record<string, string | undefined>, cwd = CWD) => loadConfig(env, cwd);

/** Runs loadConfig and returns the ConfigError it throws (fails the test if it does not throw one). */
function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    load(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadConfig defaults (development)', () => {
  const c = load({});

  it('server', () => {
    expect(c.environment).toBe('development');
    expect(c.port).toBe(8080);
    expect(c.host).toBe('127.0.0.1');
    expect(c.enableApiDocs).toBe(true);
    expect(c.logLevel).toBe('info');
    expect(c.bodyLimitBytes).toBe(1024 * 1024);
    expect(c.rateLimitPerKey).toBe(600);
    expect(c.rateLimitPerAddress).toBe(1200);
    expect(c.apiKeyCacheTtlMs).toBe(10_000);
    expect(c.workerConcurrency).toBe(4);
    expect(c.schedulerEnabled).toBe(true);
    expect(c.corsOrigins).toEqual([]);
    expect(c.outboundAllowlist).toEqual([]);
  });

  it('paths resolve against cwd', () => {
    expect(c.dataDir).toBe(path.join(CWD, 'data'));
    expect(c.duckdbPath).toBe(path.join(CWD, 'data', 'convergence.duckdb'));
    expect(c.importDir).toBe(path.join(CWD, 'import'));
    expect(path.isAbsolute(c.configsDir)).toBe(true);
    expect(path.basename(c.configsDir)).toBe('configs');
  });

  it('stores and keys', () => {
    expect(c.rootApiKey).toBeUndefined();
    expect(c.controlStore).toBe('duckdb');
    expect(c.warehouse).toBe('duckdb');
    expect(c.databaseUrl).toBeUndefined();
    expect(c.gcpProjectId).toBeUndefined();
    expect(c.bigqueryLocation).toBe('US');
    expect(c.providerBaseUrls).toEqual({
      openai: 'https://api.openai.com',
      anthropic: 'https://api.anthropic.com',
      deepseek: 'https://api.deepseek.com',
    });
  });

  it('does not read process.env when an env object is given', () => {
    // Whatever the test runner's environment holds, an empty env object gives the defaults.
    expect(load({}).port).toBe(8080);
  });

  it('treats empty and blank values as unset, and trims values', () => {
    expect(load({ PORT: '', HOST: '   ', ENVIRONMENT: ' ' })).toMatchObject({ port: 8080, host: '127.0.0.1', environment: 'development' });
    expect(load({ PORT: ' 9090 ', HOST: ' 10.0.0.1 ' })).toMatchObject({ port: 9090, host: '10.0.0.1' });
  });
});

describe('paths', () => {
  it('relative data dir resolves against cwd; duckdb file against the data dir', () => {
    const c = load({ CONVERGENCE_DATA_DIR: 'var/state', CONVERGENCE_DUCKDB_FILE: 'x.duckdb' }, '/opt/app');
    expect(c.dataDir).toBe(path.resolve('/opt/app/var/state'));
    expect(c.duckdbPath).toBe(path.resolve('/opt/app/var/state/x.duckdb'));
  });

  it('absolute paths are kept', () => {
    const c = load({ CONVERGENCE_DATA_DIR: '/data', CONVERGENCE_DUCKDB_FILE: '/elsewhere/db.duckdb', CONVERGENCE_CONFIGS_DIR: '/etc/cfg' });
    expect(c.dataDir).toBe(path.resolve('/data'));
    expect(c.duckdbPath).toBe(path.resolve('/elsewhere/db.duckdb'));
    expect(c.configsDir).toBe(path.resolve('/etc/cfg'));
  });
});

describe('environment-dependent defaults', () => {
  it('production: host 0.0.0.0, API docs off unless enabled', () => {
    const c = load({ ENVIRONMENT: 'production', CA_ROOT_API_KEY: KEY_32, CONVERGENCE_MASTER_KEY: MASTER });
    expect(c.environment).toBe('production');
    expect(c.host).toBe('0.0.0.0');
    expect(c.enableApiDocs).toBe(false);
    expect(load({ ENVIRONMENT: 'production', CA_ROOT_API_KEY: KEY_32, CONVERGENCE_MASTER_KEY: MASTER, ENABLE_API_DOCS: 'true' }).enableApiDocs).toBe(true);
  });

  it('staging: host 0.0.0.0, API docs on by default', () => {
    const c = load({ ENVIRONMENT: 'staging', CA_ROOT_API_KEY: KEY_32 });
    expect(c.host).toBe('0.0.0.0');
    expect(c.enableApiDocs).toBe(true);
  });

  it('development: API docs can be turned off', () => {
    expect(load({ ENABLE_API_DOCS: 'off' }).enableApiDocs).toBe(false);
  });
});

describe('booleans', () => {
  it.each(['true', '1', 'yes', 'on', 'TRUE', 'Yes', ' On '])('%j is true', (v) => {
    expect(load({ SCHEDULER_ENABLED: 'false', ENABLE_API_DOCS: v }).enableApiDocs).toBe(true);
  });

  it.each(['false', '0', 'no', 'off', 'FALSE', 'No', ' OFF '])('%j is false', (v) => {
    expect(load({ SCHEDULER_ENABLED: v }).schedulerEnabled).toBe(false);
  });

  it.each(['maybe', 'ture', '2', 'enabled', 'y'])('%j is a ConfigError naming the variable', (v) => {
    const e = configError({ SCHEDULER_ENABLED: v });
    expect(e.message).toMatch(/^SCHEDULER_ENABLED must be true or false/);
    expect(e.message).toContain(v);
  });
});

describe('integers', () => {
  it('accepts the range bounds', () => {
    expect(load({ PORT: '0' }).port).toBe(0);
    expect(load({ PORT: '65535' }).port).toBe(65535);
    expect(load({ WORKER_CONCURRENCY: '256' }).workerConcurrency).toBe(256);
    expect(load({ API_KEY_CACHE_TTL_MS: '0' }).apiKeyCacheTtlMs).toBe(0);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '65536'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['PORT', '1e3'],
    ['PORT', '0x50'],
    ['WORKER_CONCURRENCY', '0'],
    ['WORKER_CONCURRENCY', '257'],
    ['BODY_LIMIT_BYTES', '1023'],
    ['RATE_LIMIT_PER_KEY', '0'],
    ['API_KEY_CACHE_TTL_MS', '3600001'],
  ])('%s=%s is a ConfigError naming the variable and the range', (name, value) => {
    const e = configError({ [name]: value });
    expect(e.message).toMatch(new RegExp(`^${name} must be an integer between \\d+ and \\d+ \\(got "${value.replace('.', '\\.')}"\\)`));
  });
});

describe('enums', () => {
  it('ENVIRONMENT=prod lists the allowed values', () => {
    expect(configError({ ENVIRONMENT: 'prod' }).message).toBe('ENVIRONMENT must be one of development, staging, production (got "prod")');
  });

  it('values are case-sensitive', () => {
    expect(configError({ ENVIRONMENT: 'Production' }).message).toMatch(/^ENVIRONMENT must be one of/);
  });

  it('CONTROL_STORE, WAREHOUSE and LOG_LEVEL are checked too', () => {
    expect(configError({ CONTROL_STORE: 'sqlite' }).message).toMatch(/^CONTROL_STORE must be one of duckdb, postgres/);
    expect(configError({ WAREHOUSE: 'snowflake' }).message).toMatch(/^WAREHOUSE must be one of duckdb, bigquery/);
    expect(configError({ LOG_LEVEL: 'verbose' }).message).toMatch(/^LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent/);
    expect(load({ LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
  });
});

describe('startup rules', () => {
  it.each(['production', 'staging'])('%s requires a root key of at least 32 characters', (environment) => {
    expect(configError({ ENVIRONMENT: environment }).message).toMatch(new RegExp(`ENVIRONMENT=${environment} requires CA_ROOT_API_KEY of at least 32`));
    expect(configError({ ENVIRONMENT: environment, CA_ROOT_API_KEY: 'k'.repeat(31) }).message).toMatch(/at least 32/);
    // Surrounding whitespace does not count.
    expect(configError({ ENVIRONMENT: environment, CA_ROOT_API_KEY: ` ${'k'.repeat(31)} ` }).message).toMatch(/at least 32/);
    const c = load({ ENVIRONMENT: environment, CA_ROOT_API_KEY: KEY_32, CONVERGENCE_MASTER_KEY: MASTER });
    expect(c.rootApiKey).toBe(KEY_32);
  });

  it('production requires a key-encryption key for credentials (KMS or a master key)', () => {
    expect(configError({ ENVIRONMENT: 'production', CA_ROOT_API_KEY: KEY_32 }).message).toMatch(/KMS_KEY_NAME or CONVERGENCE_MASTER_KEY/);
    expect(load({ ENVIRONMENT: 'production', CA_ROOT_API_KEY: KEY_32, KMS_KEY_NAME: 'projects/p/locations/l/keyRings/r/cryptoKeys/k' }).kmsKeyName).toMatch(/cryptoKeys/);
    // Staging may use the generated key file.
    expect(load({ ENVIRONMENT: 'staging', CA_ROOT_API_KEY: KEY_32 }).masterKey).toBeUndefined();
    expect(configError({ CONVERGENCE_PREVIOUS_MASTER_KEYS: MASTER }).message).toMatch(/only meaningful with CONVERGENCE_MASTER_KEY/);
  });

  it('development accepts a short root key or none', () => {
    expect(load({ CA_ROOT_API_KEY: 'short' }).rootApiKey).toBe('short');
  });

  it('CONTROL_STORE=postgres requires DATABASE_URL', () => {
    expect(configError({ CONTROL_STORE: 'postgres' }).message).toBe('CONTROL_STORE=postgres requires DATABASE_URL');
    const c = load({ CONTROL_STORE: 'postgres', DATABASE_URL: 'postgres://u@localhost/db' });
    expect(c.controlStore).toBe('postgres');
    expect(c.databaseUrl).toBe('postgres://u@localhost/db');
  });

  it('WAREHOUSE=bigquery requires GCP_PROJECT_ID', () => {
    expect(configError({ WAREHOUSE: 'bigquery' }).message).toBe('WAREHOUSE=bigquery requires GCP_PROJECT_ID');
    const c = load({ WAREHOUSE: 'bigquery', GCP_PROJECT_ID: 'my-project', BIGQUERY_LOCATION: 'EU' });
    expect(c).toMatchObject({ warehouse: 'bigquery', gcpProjectId: 'my-project', bigqueryLocation: 'EU' });
  });
});

describe('provider base URLs', () => {
  it.each(['ftp://api.openai.com', 'file:///etc/passwd', 'api.openai.com', 'javascript:alert(1)', 'not a url'])(
    '%j is a ConfigError',
    (v) => {
      expect(configError({ OPENAI_BASE_URL: v }).message).toBe(`OPENAI_BASE_URL must be an http(s) URL (got "${v}")`);
    },
  );

  it('each provider variable is checked', () => {
    expect(configError({ ANTHROPIC_BASE_URL: 'ws://x' }).message).toMatch(/^ANTHROPIC_BASE_URL /);
    expect(configError({ DEEPSEEK_BASE_URL: 'ws://x' }).message).toMatch(/^DEEPSEEK_BASE_URL /);
  });

  it('trailing slashes are stripped; http is allowed (local mocks)', () => {
    const c = load({
      OPENAI_BASE_URL: 'https://proxy.example.com/openai/',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:9999///',
      DEEPSEEK_BASE_URL: 'https://api.deepseek.com/v1',
    });
    expect(c.providerBaseUrls).toEqual({
      openai: 'https://proxy.example.com/openai',
      anthropic: 'http://127.0.0.1:9999',
      deepseek: 'https://api.deepseek.com/v1',
    });
  });
});

describe('lists', () => {
  it('CORS_ORIGINS: comma separated, trimmed, empty entries dropped', () => {
    expect(load({ CORS_ORIGINS: 'https://a.example.com, https://b.example.com ,,  ,http://localhost:3000' }).corsOrigins).toEqual([
      'https://a.example.com',
      'https://b.example.com',
      'http://localhost:3000',
    ]);
    expect(load({ CORS_ORIGINS: 'https://only.example.com' }).corsOrigins).toEqual(['https://only.example.com']);
    expect(load({ CORS_ORIGINS: ' , ' }).corsOrigins).toEqual([]);
  });

  it('OUTBOUND_ALLOWLIST uses the same parsing', () => {
    expect(load({ OUTBOUND_ALLOWLIST: 'api.openai.com,api.anthropic.com' }).outboundAllowlist).toEqual(['api.openai.com', 'api.anthropic.com']);
  });
});
