import { connect, type Connection, type ConnectionOptions, type Env } from './client.js';
import { Output, type Streams } from './output.js';

/**
 * What a command gets: the environment (passed in by bin/convergence.mjs; nothing in src/ reads
 * process.env), the working directory, its output, and an AbortSignal that Ctrl-C fires.
 */
export class Context {
  /** Set from the running command's --json flag before its action runs. */
  json = false;
  /** What the command answered (actions return it; see program.ts). */
  exitCode = 0;
  private readonly interrupt = new AbortController();
  private interruptOwned = false;

  constructor(
    readonly env: Env,
    readonly cwd: string,
    readonly streams: Streams,
  ) {}

  get out(): Output {
    return new Output(this.json, this.streams);
  }

  /** Fires on the first Ctrl-C; commands pass it to requests and waits, and answer exit 130. */
  get signal(): AbortSignal {
    return this.interrupt.signal;
  }

  connect(opts: ConnectionOptions): Connection {
    return connect(opts, this.env, this.cwd);
  }

  /** Called by the SIGINT handler of main. */
  fireInterrupt(): void {
    this.interrupt.abort();
  }

  /** The command handles SIGINT/SIGTERM itself (serve): main's handler stands down. */
  takeOverSignals(): void {
    this.interruptOwned = true;
  }

  get signalsTakenOver(): boolean {
    return this.interruptOwned;
  }
}

/** Wraps an action so that the exit code it answers becomes the process's. */
export function act<A extends unknown[]>(ctx: Context, fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const code = await fn(...args);
    if (typeof code === 'number') ctx.exitCode = code;
  };
}
