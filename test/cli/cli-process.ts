import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/server-process.js';

/**
 * The real `convergence` command as a child process (bin/convergence.mjs, always from the source
 * through tsx so the tests see the code under test), with only the environment the test gives.
 */
export const BIN = path.join(REPO_ROOT, 'bin', 'convergence.mjs');

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  readonly exited: Promise<CliResult>;
}

export function spawnCli(args: readonly string[], env: Record<string, string> = {}, opts: { input?: string; cwd?: string } = {}): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', CONVERGENCE_CLI_FROM_SOURCE: '1', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  const err: string[] = [];
  child.stdout?.on('data', (d: Buffer) => out.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => err.push(d.toString()));
  child.stdin?.end(opts.input ?? '');
  const exited = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout: out.join(''), stderr: err.join('') })));
  return { child, stdout: () => out.join(''), stderr: () => err.join(''), exited };
}

/** Runs the command to its end. */
export function cli(args: readonly string[], env: Record<string, string> = {}, opts: { input?: string; cwd?: string } = {}): Promise<CliResult> {
  return spawnCli(args, env, opts).exited;
}

/** A port nothing listens on (taken, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** No stack trace in what the user sees. */
export const hasStackTrace = (text: string): boolean => /^\s+at .+[(:]\d+/m.test(text) || /\bError: .*\n\s+at /.test(text);

/** Resolves when `probe` holds on the process's output (or rejects when it exits first / times out). */
export function outputMatches(p: CliProcess, probe: (stdout: string, stderr: string) => boolean, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for output:\n${p.stdout()}\n${p.stderr()}`)), timeoutMs);
    const check = (): void => {
      if (probe(p.stdout(), p.stderr())) {
        clearTimeout(timer);
        resolve();
      }
    };
    p.child.stdout?.on('data', check);
    p.child.stderr?.on('data', check);
    void p.exited.then((r) => {
      clearTimeout(timer);
      if (probe(r.stdout, r.stderr)) resolve();
      else reject(new Error(`exited with ${r.code} before the output appeared:\n${r.stdout}\n${r.stderr}`));
    });
    check();
  });
}
