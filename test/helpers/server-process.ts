import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/**
 * The real server as a child process (`node --import tsx src/main.ts`), on a free port, for
 * end-to-end tests of start-up, restarts and signals. Waits on what the process prints, never on
 * fixed delays.
 */
export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  stdout(): string;
  stderr(): string;
  /** Sends a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface Exited {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function launch(env: Record<string, string>): { child: ChildProcess; out: string[]; err: string[]; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: REPO_ROOT,
    // Only what the test gives: the service must need nothing else from the environment.
    env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  const err: string[] = [];
  child.stdout?.on('data', (d: Buffer) => out.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => err.push(d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, out, err, exited };
}

export async function startServer(env: Record<string, string>, timeoutMs = 20_000): Promise<ServerProcess> {
  const { child, out, err, exited } = launch(env);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within ${timeoutMs} ms:\n${out.join('')}\n${err.join('')}`)), timeoutMs);
    const check = (): void => {
      for (const line of out.join('').split('\n')) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { msg?: string; address?: string };
        if (entry.msg === 'convergence listening' && entry.address !== undefined) {
          clearTimeout(timer);
          resolve(entry.address.replace('0.0.0.0', '127.0.0.1'));
        }
      }
    };
    child.stdout?.on('data', check);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${out.join('')}\n${err.join('')}`));
    });
  });
  return {
    child,
    url,
    stdout: () => out.join(''),
    stderr: () => err.join(''),
    async stop(signal = 'SIGTERM') {
      child.kill(signal);
      return exited;
    },
  };
}

/** Runs the server expecting it to refuse to start. */
export async function runUntilExit(env: Record<string, string>): Promise<Exited> {
  const { out, err, exited } = launch(env);
  const { code } = await exited;
  return { code, stdout: out.join(''), stderr: err.join('') };
}

export async function call(base: string, method: string, url: string, headers: Record<string, string> = {}, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}
