import { ConfigError, loadConfig } from './config/config.js';
import { resolveRootKey } from './config/root-key.js';
import { createLogger, createRuntime } from './compose.js';

/**
 * Process entry point: configuration, the one-time root key notice, the server, and an orderly
 * shutdown on SIGTERM/SIGINT (stop accepting, finish requests, checkpoint the database).
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`convergence: configuration error: ${e.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw e;
  }
  const logger = createLogger(config);
  const root = resolveRootKey(config);
  if (root.source === 'generated') {
    // Shown once, on the terminal only (not through the structured log).
    process.stdout.write(
      `\n  Root API key generated (shown once; also saved with mode 0600 in ${root.file}):\n\n    ${root.key}\n\n` +
        '  Use it in the X-CA-Root-Key header. Set CA_ROOT_API_KEY to choose your own.\n\n',
    );
  } else if (root.source === 'file') {
    logger.info({ file: root.file }, 'root API key read from the data directory');
  }

  const runtime = await createRuntime(config, root.key, logger);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    runtime.close().then(
      () => process.exit(0),
      (e: unknown) => {
        logger.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  const address = await runtime.app.listen({ port: config.port, host: config.host });
  logger.info(
    { address, environment: config.environment, control_store: config.controlStore, warehouse: config.warehouse, data_dir: config.dataDir, api_docs: config.enableApiDocs },
    'convergence listening',
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`convergence: failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  // A master key that cannot be used is a configuration problem like any other.
  process.exit(e instanceof Error && e.name === 'KeyringError' ? 78 : 1);
});
