import { Type, type Static } from '@sinclair/typebox';
import { SLUG_RULE } from './org-slug.js';

/** The body of POST /organizations/dryrun and /onboard, shared by the API and the setup processors. */
export const OnboardingRequest = Type.Object(
  {
    org_slug: Type.String({ maxLength: 100, description: `Organization id: ${SLUG_RULE}.` }),
    company_name: Type.String({ maxLength: 500, description: 'Display name, 1–200 characters.' }),
    admin_email: Type.String({ maxLength: 320, description: 'Administrator email.' }),
    subscription_plan: Type.Optional(Type.String({ maxLength: 64, description: 'STARTER (default), PROFESSIONAL or SCALE.' })),
  },
  { additionalProperties: false },
);
export type OnboardingRequest = Static<typeof OnboardingRequest>;
