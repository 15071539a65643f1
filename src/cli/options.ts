import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULT_URL, ENV, type ConnectionOptions } from './client.js';

/** Options shared by the commands that talk to the API, and parsers for repeatable `k=v` flags. */
export interface ClientFlags extends ConnectionOptions {
  readonly json?: boolean;
}

export interface KeyFlags {
  /** Offer --api-key (organization key). */
  readonly org?: boolean;
  /** Offer --root-key. */
  readonly root?: boolean;
}

export function clientOptions(cmd: Command, keys: KeyFlags): Command {
  cmd.option('--url <url>', `API base URL (env ${ENV.url}; default ${DEFAULT_URL})`);
  if (keys.org === true) {
    cmd.option('--api-key <key>', `organization API key (env ${ENV.apiKey}; prefer the environment: flags land in shell history)`);
    cmd.option('--org <slug>', `organization (env ${ENV.org}; default: the one the API key belongs to)`);
  }
  if (keys.root === true) cmd.option('--root-key <key>', `root key (env ${ENV.rootKey}; for a local service, default: data/root-api-key)`);
  return cmd.option('--json', 'print the result as JSON (nothing else on stdout)');
}

/** `--flag k=v` repeated → {k: v}; a value without "=" is a usage error (exit 2). */
export function keyValueOption(flags: string, description: string): Option {
  return new Option(flags, description).argParser((value: string, previous: Record<string, string> | undefined) => {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got ${JSON.stringify(value)}`);
    const key = value.slice(0, eq).trim();
    if (key === '') throw new InvalidArgumentError(`expected key=value, got ${JSON.stringify(value)}`);
    return { ...(previous ?? {}), [key]: value.slice(eq + 1) };
  });
}

export function integerOption(flags: string, description: string, min: number, max: number): Option {
  return new Option(flags, description).argParser((value: string) => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    return Number(value);
  });
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** YYYY-MM-DD (a real calendar day), or `today`/`yesterday` when `relative`. */
export function dateOption(flags: string, description: string, relative = false): Option {
  return new Option(flags, description).argParser((value: string) => {
    if (relative && (value === 'today' || value === 'yesterday')) return value;
    if (!DAY.test(value) || new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) !== value) {
      throw new InvalidArgumentError(`expected a date YYYY-MM-DD${relative ? ', today or yesterday' : ''}, got ${JSON.stringify(value)}`);
    }
    return value;
  });
}

/** provider/domain/pipeline, as in configs/ (custom/configs/{config_id} for an org's own). */
export function pipelinePath(value: string): { provider: string; domain: string; pipeline: string; path: string } {
  const parts = value.split('/');
  if (parts.length !== 3 || parts.some((p) => !/^[a-z0-9][a-z0-9_-]{0,63}$/.test(p))) {
    throw new InvalidArgumentError(`expected provider/domain/pipeline (e.g. demo/sample/costs), got ${JSON.stringify(value)}`);
  }
  const [provider, domain, pipeline] = parts as [string, string, string];
  return { provider, domain, pipeline, path: value };
}
