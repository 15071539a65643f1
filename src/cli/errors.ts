/**
 * Exit codes of the `convergence` command (docs/cli.md) and the one error type commands throw for
 * expected failures: it carries its exit code and is printed as `error: …` without a stack trace.
 */
export const EXIT = {
  /** Done. */
  OK: 0,
  /** The server reported a failure, a run did not succeed, or `validate` found problems. */
  FAILURE: 1,
  /** Usage error: unknown command or flag, missing or malformed argument. */
  USAGE: 2,
  /** The server could not be reached. */
  UNREACHABLE: 3,
  /** Authentication refused (wrong or missing key). */
  AUTH: 4,
  /** Configuration error (`serve`, `keys rotate`): same code as the server's own start-up. */
  CONFIG: 78,
  /** Interrupted (Ctrl-C). */
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An RFC 9457 problem as the API answers it (only the members the CLI uses). */
export interface Problem {
  readonly code: string;
  readonly detail: string;
  readonly status: number;
  readonly [extension: string]: unknown;
}

export class CliError extends Error {
  override name = 'CliError';
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    /** Extra lines printed after the message (what to do about it). */
    readonly hints: readonly string[] = [],
    /** The server's problem body, for `--json` output. */
    readonly problem?: Problem,
  ) {
    super(message);
  }
}

export const usageError = (message: string, ...hints: string[]): CliError => new CliError(EXIT.USAGE, message, hints);
