import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics (DESIGN.md §10), one registry per runtime so tests and several runtimes in
 * one process never share counters. Labels are bounded sets (route patterns, statuses, ps_types),
 * never ids or org slugs.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly httpRequests = new Counter({ name: 'convergence_http_requests_total', help: 'HTTP requests answered', labelNames: ['method', 'route', 'status'], registers: [this.registry] });
  private readonly httpDuration = new Histogram({
    name: 'convergence_http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  private readonly runs = new Counter({ name: 'convergence_pipeline_runs_total', help: 'Pipeline runs that reached a final state', labelNames: ['status'], registers: [this.registry] });
  private readonly runsActive = new Gauge({ name: 'convergence_pipeline_runs_active', help: 'Runs queued or running in this process', registers: [this.registry] });
  private readonly steps = new Histogram({
    name: 'convergence_pipeline_step_duration_seconds',
    help: 'Step duration by processor and outcome',
    labelNames: ['ps_type', 'status'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 1800],
    registers: [this.registry],
  });
  private queueSource: (() => Promise<{ queued: number; oldest: Date | null }>) | undefined;
  private readonly queueDepth = new Gauge({
    name: 'convergence_queue_depth',
    help: 'Runs waiting in the execution queue (claimable now)',
    registers: [this.registry],
    collect: async () => {
      const d = await this.queueSnapshot();
      this.queueDepth.set(d?.queued ?? 0);
      this.queueAge.set(d?.oldest === null || d?.oldest === undefined ? 0 : Math.max(0, (Date.now() - d.oldest.getTime()) / 1000));
    },
  });
  private readonly queueAge = new Gauge({ name: 'convergence_queue_oldest_age_seconds', help: 'Age of the oldest claimable queued run', registers: [this.registry] });
  private readonly quotaRefusals = new Counter({ name: 'convergence_quota_refusals_total', help: 'Runs refused at admission', labelNames: ['limit'], registers: [this.registry] });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'convergence_' });
  }

  httpObserved(method: string, route: string, status: number, seconds: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
    this.httpDuration.observe({ method, route }, seconds);
  }

  runAdmitted(): void {
    this.runsActive.inc();
  }

  runFinished(status: string): void {
    this.runs.inc({ status });
    this.runsActive.dec();
  }

  stepFinished(psType: string, status: string, seconds: number): void {
    this.steps.observe({ ps_type: psType, status }, seconds);
  }

  quotaRefused(limit: string): void {
    this.quotaRefusals.inc({ limit });
  }

  /** Where the queue gauges read from (the control store); read when /metrics is scraped. */
  observeQueue(source: () => Promise<{ queued: number; oldest: Date | null }>): void {
    this.queueSource = source;
  }

  private async queueSnapshot(): Promise<{ queued: number; oldest: Date | null } | undefined> {
    try {
      return await this.queueSource?.();
    } catch {
      return undefined; // not bootstrapped yet, or the store is down: the gauges read 0
    }
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
