import type { AuthService } from './auth-service.js';
import type { CallContext } from './principal.js';
import type { SetupRunner } from './setup-runner.js';
import { PLATFORM_ORG } from './setup-runner.js';

export interface BootstrapOptions {
  readonly force_recreate_dataset?: boolean;
  readonly force_recreate_tables?: boolean;
}

/** Creates or upgrades the central dataset by running configs/setup/bootstrap/pipeline.yml. */
export class BootstrapService {
  constructor(
    private readonly setup: SetupRunner,
    private readonly auth: AuthService,
  ) {}

  async bootstrap(opts: BootstrapOptions, call: CallContext): Promise<Record<string, unknown>> {
    const run = await this.setup.run('bootstrap', PLATFORM_ORG, { ...opts }, call);
    // Recreated tables hold no keys: nothing cached from before may authenticate any more.
    if (opts.force_recreate_dataset === true || opts.force_recreate_tables === true) this.auth.clear();
    const report = run.outputs.get('create_central_tables') ?? {};
    const created = (report.tables_created as unknown[] | undefined)?.length ?? 0;
    const recreated = (report.tables_recreated as unknown[] | undefined)?.length ?? 0;
    return {
      status: 'SUCCESS',
      ...report,
      message: created + recreated === 0 ? 'Already bootstrapped; nothing created.' : `Bootstrap complete: ${created} created, ${recreated} recreated.`,
      pipeline_logging_id: run.pipelineLoggingId,
    };
  }
}
