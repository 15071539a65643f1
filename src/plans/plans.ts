import fs from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';

/** Subscription plans from configs/system/plans.yml. */
const Limit = Type.Integer({ minimum: 0, maximum: 1_000_000 });
const PlanJson = Type.Object(
  {
    description: Type.Optional(Type.String()),
    daily_limit: Limit,
    monthly_limit: Limit,
    concurrent_limit: Limit,
    trial_days: Type.Optional(Type.Integer({ minimum: 0, maximum: 365 })),
  },
  { additionalProperties: false },
);
const PlansFile = Type.Object(
  {
    default_plan: Type.String(),
    plans: Type.Record(Type.String({ pattern: '^[A-Z][A-Z0-9_]{0,31}$' }), PlanJson),
  },
  { additionalProperties: false },
);

export interface Plan extends Static<typeof PlanJson> {
  readonly name: string;
}

export interface PlanCatalog {
  readonly defaultPlan: string;
  get(name: string): Plan | undefined;
  names(): string[];
}

export function loadPlans(file: string): PlanCatalog {
  const doc: unknown = parseYaml(fs.readFileSync(file, 'utf8'));
  if (!Value.Check(PlansFile, doc)) {
    const e = Value.Errors(PlansFile, doc).First();
    throw new Error(`${file}: ${e?.path ?? ''} ${e?.message ?? 'invalid'}`);
  }
  const plans = new Map(Object.entries(doc.plans).map(([name, p]) => [name, { name, ...p }]));
  if (!plans.has(doc.default_plan)) throw new Error(`${file}: default_plan ${doc.default_plan} is not a plan`);
  return {
    defaultPlan: doc.default_plan,
    get: (name) => plans.get(name),
    names: () => [...plans.keys()],
  };
}
