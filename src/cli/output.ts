import Table from 'cli-table3';
import ora, { type Ora } from 'ora';

/**
 * Everything the CLI prints goes through here (no console in src/). Results go to stdout — with
 * `--json`, one JSON document and nothing else; messages, warnings and progress go to stderr.
 * Progress is an ora spinner when stderr is a terminal and plain lines otherwise (CI logs, pipes).
 */
export interface Streams {
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
}

export type Cell = string | number | boolean | null | undefined;

export class Output {
  constructor(
    readonly json: boolean,
    private readonly streams: Streams = { stdout: process.stdout, stderr: process.stderr },
  ) {}

  /** A line of the human-readable result (stdout; nothing in `--json` mode). */
  print(text = ''): void {
    if (!this.json) this.streams.stdout.write(`${text}\n`);
  }

  /** The machine-readable result (stdout, `--json` mode only). */
  data(value: unknown): void {
    if (this.json) this.streams.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** `value` as JSON in `--json` mode, else whatever `human` prints. */
  result(value: unknown, human: () => void): void {
    if (this.json) this.data(value);
    else human();
  }

  /** A message for the person at the terminal (stderr, both modes). */
  note(text: string): void {
    this.streams.stderr.write(`${text}\n`);
  }

  warn(text: string): void {
    this.streams.stderr.write(`warning: ${text}\n`);
  }

  error(text: string): void {
    this.streams.stderr.write(`error: ${text}\n`);
  }

  /** A table on stdout (human mode). Cells are shown as text; null and undefined as "-". */
  table(head: readonly string[], rows: readonly (readonly Cell[])[]): void {
    if (this.json) return;
    const t = new Table({ head: [...head], style: { head: [], border: [], compact: true } });
    for (const r of rows) t.push(r.map((c) => (c === null || c === undefined || c === '' ? '-' : String(c))));
    this.streams.stdout.write(`${t.toString()}\n`);
  }

  /** Key/value lines, aligned (human mode). */
  fields(entries: readonly (readonly [string, Cell])[]): void {
    if (this.json) return;
    const width = Math.max(0, ...entries.map(([k]) => k.length));
    for (const [k, v] of entries) this.print(`${`${k}:`.padEnd(width + 2)}${v === null || v === undefined || v === '' ? '-' : String(v)}`);
  }

  /** A terminal that can redraw a line (a pseudo-terminal without a size cannot). */
  get interactive(): boolean {
    return this.streams.stderr.isTTY === true && (this.streams.stderr.columns ?? 0) > 0;
  }

  /** Progress display for long work: a spinner on a terminal, else a line per change (none in `--json` mode). */
  progress(initial: string): Progress {
    if (this.interactive) {
      // ora also stands down in CI environments even on a terminal; then plain lines it is.
      const spinner = ora({ text: initial, stream: this.streams.stderr, discardStdin: false });
      if (spinner.isEnabled) return new SpinnerProgress(spinner.start(), this.streams.stderr);
    }
    return new LineProgress(this.json ? undefined : this.streams.stderr, initial);
  }

  /** Waits until everything written has been handed to the OS (before process.exit). */
  async flush(): Promise<void> {
    await Promise.all([this.streams.stdout, this.streams.stderr].map((s) => new Promise<void>((resolve) => (s.writableLength === 0 ? resolve() : s.write('', () => resolve())))));
  }
}

export interface Progress {
  /** A spinner redrawn in place (true) or plain lines (false): live text may change often only when true. */
  readonly live: boolean;
  /** The current state: the spinner's text, or a line when it changed. */
  update(text: string): void;
  /** A line that stays (printed above the spinner). */
  log(line: string): void;
  /** Ends the display; `line`, when given, stays as the last word (✔/✖ on a terminal). */
  done(line?: string, ok?: boolean): void;
}

class SpinnerProgress implements Progress {
  readonly live = true;
  constructor(
    private readonly spinner: Ora,
    private readonly stream: NodeJS.WriteStream,
  ) {}

  update(text: string): void {
    this.spinner.text = text;
  }

  log(line: string): void {
    this.spinner.clear();
    this.stream.write(`${line}\n`);
    this.spinner.render();
  }

  done(line?: string, ok = true): void {
    if (line === undefined) this.spinner.stop();
    else if (ok) this.spinner.succeed(line);
    else this.spinner.fail(line);
  }
}

class LineProgress implements Progress {
  readonly live = false;
  private last: string | undefined;
  constructor(
    private readonly stream: NodeJS.WriteStream | undefined,
    initial: string,
  ) {
    this.update(initial);
  }

  update(text: string): void {
    if (text === this.last) return;
    this.last = text;
    this.stream?.write(`${text}\n`);
  }

  log(line: string): void {
    this.stream?.write(`${line}\n`);
  }

  done(line?: string): void {
    if (line !== undefined && line !== this.last) this.stream?.write(`${line}\n`);
  }
}
