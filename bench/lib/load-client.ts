// The HTTP load generator of B1, run as its own process (so it does not share the event loop of the
// server it measures): autocannon against one URL, every 2xx response time kept (autocannon's own
// histogram has 1 ms resolution, too coarse for a 1 ms target). Prints one JSON line.
//   node --import tsx bench/lib/load-client.ts '{"url":…,"connections":10,"durationSec":10,"warmupSec":2,"headers":{…}}'
import autocannon from 'autocannon';

export interface LoadOptions {
  readonly url: string;
  readonly connections: number;
  readonly durationSec: number;
  readonly warmupSec: number;
  readonly headers?: Record<string, string>;
}

export interface LoadResult {
  readonly url: string;
  readonly connections: number;
  readonly duration_s: number;
  readonly requests_per_s: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly latency_ms: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number; readonly mean: number };
}

function fire(opts: LoadOptions, seconds: number, latencies?: number[]): Promise<autocannon.Result & { non2xxCount: number }> {
  return new Promise((resolve, reject) => {
    let non2xx = 0;
    const instance = autocannon({ url: opts.url, connections: opts.connections, duration: seconds, headers: opts.headers ?? {} }, (err: unknown, result: autocannon.Result) =>
      err === null || err === undefined ? resolve({ ...result, non2xxCount: non2xx }) : reject(err instanceof Error ? err : new Error(String(err))),
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latencies?.push(ms);
      else non2xx++;
    });
  });
}

const pct = (sorted: Float64Array, p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))] ?? Number.NaN;
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

const opts = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
if (opts.warmupSec > 0) await fire(opts, opts.warmupSec);
const latencies: number[] = [];
const result = await fire(opts, opts.durationSec, latencies);
const sorted = Float64Array.from(latencies).sort();
const out: LoadResult = {
  url: opts.url,
  connections: opts.connections,
  duration_s: result.duration,
  requests_per_s: Math.round((latencies.length / result.duration) * 10) / 10,
  ok: latencies.length,
  non2xx: result.non2xxCount,
  errors: result.errors,
  timeouts: result.timeouts,
  latency_ms: {
    p50: r3(pct(sorted, 0.5)),
    p90: r3(pct(sorted, 0.9)),
    p99: r3(pct(sorted, 0.99)),
    max: r3(sorted[sorted.length - 1] ?? Number.NaN),
    mean: r3(latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length)),
  },
};
process.stdout.write(`${JSON.stringify(out)}\n`);
