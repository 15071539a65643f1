import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { randomBase62 } from '../crypto/random.js';
import type { Context } from './context.js';
import { CliError, EXIT } from './errors.js';

/**
 * The service in this process: `serve` (as `npm start` does: src/main.ts) and the embedded
 * service of `demo`. The composition root is loaded on demand, so client commands never load DuckDB.
 */
export interface ServiceOverrides {
  readonly port?: number;
  readonly host?: string;
  readonly dataDir?: string;
  readonly importDir?: string;
  readonly logLevel?: Config['logLevel'];
}

export function serviceConfig(ctx: Context, over: ServiceOverrides): Config {
  let config: Config;
  try {
    config = loadConfig(ctx.env, ctx.cwd);
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(EXIT.CONFIG, `configuration error: ${e.message}`);
    throw e;
  }
  const dataDir = over.dataDir === undefined ? config.dataDir : path.resolve(ctx.cwd, over.dataDir);
  return {
    ...config,
    ...(over.port === undefined ? {} : { port: over.port }),
    ...(over.host === undefined ? {} : { host: over.host }),
    ...(over.logLevel === undefined ? {} : { logLevel: over.logLevel }),
    dataDir,
    duckdbPath: over.dataDir === undefined ? config.duckdbPath : path.join(dataDir, path.basename(config.duckdbPath)),
    importDir: over.importDir === undefined ? config.importDir : path.resolve(ctx.cwd, over.importDir),
  };
}

const startFailure = (e: unknown): CliError =>
  new CliError(e instanceof Error && (e.name === 'KeyringError' || e.name === 'ConfigError') ? EXIT.CONFIG : EXIT.FAILURE, `failed to start: ${e instanceof Error ? e.message : String(e)}`);

/** `serve`: start, print the generated root key once (as npm start does), stop in order on SIGTERM/SIGINT. */
export async function serve(ctx: Context, over: ServiceOverrides): Promise<number> {
  const config = serviceConfig(ctx, over);
  const [{ createLogger, createRuntime }, { resolveRootKey }] = await Promise.all([import('../compose.js'), import('../config/root-key.js')]);
  const logger = createLogger(config);
  let root;
  try {
    root = resolveRootKey(config);
  } catch (e) {
    throw startFailure(e);
  }
  if (root.source === 'generated') {
    ctx.streams.stdout.write(
      `\n  Root API key generated (shown once; also saved with mode 0600 in ${root.file}):\n\n    ${root.key}\n\n` +
        '  Use it in the X-CA-Root-Key header. Set CA_ROOT_API_KEY to choose your own.\n\n',
    );
  } else if (root.source === 'file') {
    logger.info({ file: root.file }, 'root API key read from the data directory');
  }
  ctx.takeOverSignals();
  let runtime: Awaited<ReturnType<typeof createRuntime>>;
  try {
    runtime = await createRuntime(config, root.key, logger);
  } catch (e) {
    throw startFailure(e);
  }
  const rt = runtime;
  return new Promise<number>((resolve, reject) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      rt.close().then(
        () => resolve(EXIT.OK),
        (e: unknown) => {
          logger.error({ err: e }, 'shutdown failed');
          resolve(EXIT.FAILURE);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    rt.app.listen({ port: config.port, host: config.host }).then(
      (address) =>
        logger.info(
          { address, environment: config.environment, control_store: config.controlStore, warehouse: config.warehouse, data_dir: config.dataDir, api_docs: config.enableApiDocs },
          'convergence listening',
        ),
      (e: unknown) => {
        stopping = true;
        void rt.close().finally(() => reject(startFailure(e)));
      },
    );
  });
}

export interface EmbeddedService {
  readonly url: string;
  readonly dataDir: string;
  readonly importDir: string;
  /** A root key made up for this process; never shown. */
  readonly rootKey: string;
  close(): Promise<void>;
}

/** The service on a free loopback port for this process only (demo); logs go to stderr. */
export async function startEmbedded(ctx: Context, over: ServiceOverrides & { dataDir: string; importDir: string }): Promise<EmbeddedService> {
  const config = { ...serviceConfig(ctx, over), port: 0, host: '127.0.0.1', schedulerEnabled: false };
  fs.mkdirSync(config.importDir, { recursive: true });
  const { createLogger, createRuntime } = await import('../compose.js');
  const rootKey = `ca_root_${randomBase62(40)}`;
  let runtime;
  try {
    runtime = await createRuntime(config, rootKey, createLogger(config, ctx.streams.stderr));
  } catch (e) {
    throw startFailure(e);
  }
  try {
    const address = await runtime.app.listen({ port: 0, host: '127.0.0.1' });
    return { url: address, dataDir: config.dataDir, importDir: config.importDir, rootKey, close: () => runtime.close() };
  } catch (e) {
    await runtime.close();
    throw startFailure(e);
  }
}
