import { z } from 'zod';
import type { ApiKeyRecord } from './adapters/api-key-authenticator';

/** `hash:orgId` pairs, comma separated: only sha256 hashes of keys ever sit in app settings. */
const ApiKeyHashesSchema = z
  .string()
  .transform((text) => text.split(',').map((pair) => pair.trim()).filter(Boolean))
  .pipe(
    z.array(
      z
        .string()
        .regex(/^[0-9a-fA-F]{64}:[^:,]{1,200}$/, 'each entry must be <sha256 hex of the key>:<orgId>')
        .transform((pair): ApiKeyRecord => {
          const [keyHash, orgId] = pair.split(':') as [string, string];
          return { keyHash: keyHash.toLowerCase(), orgId };
        }),
    ),
  );

/** Every app setting the Functions app reads (to be documented in local.settings.sample.json). */
const SettingsSchema = z
  .object({
    /** `sqlite` runs the Functions on the embedded SQLite stack under KM_HOME; `azure` (later) on Event Hubs + Cosmos. */
    KM_STORAGE: z.enum(['azure', 'sqlite']).default('azure'),
    KM_HOME: z.string().trim().min(1).optional(),
    KM_API_KEY_HASHES: ApiKeyHashesSchema.default([]),
    KM_MAX_INGEST_BYTES: z.coerce.number().int().positive().optional(),
    /** Risk Monitor: high and critical findings are posted here after ingest (empty: none). */
    KM_RISK_WEBHOOK_URL: z.union([z.literal(''), z.url({ protocol: /^https?$/ })]).optional(),
    /** Requests a minute one API key may make (429 with Retry-After past it). */
    KM_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().max(1_000_000).optional(),
    /** `true` only where the Functions are reachable through Static Web Apps alone (its linked backend): then its
     * forwarded GitHub sign-in (x-ms-client-principal) is believed. Anywhere else a client could forge it. */
    KM_TRUST_SWA_PRINCIPAL: z.enum(['true', 'false']).default('false'),
    /** `open`: a GitHub user nobody invited gets an org of their own; `invitation`: members join by invitation only. */
    KM_SIGNUP: z.enum(['open', 'invitation']).default('invitation'),
    /** The funnel (issue 15): the org whose owners and admins see the landing page's views (empty: views are not counted). */
    KM_FUNNEL_ORG: z.string().trim().max(200).optional(),
    /** `true`: budget webhooks may go to loopback and private addresses too (webhook-destination.ts reads it). */
    KM_WEBHOOK_ALLOW_PRIVATE: z.enum(['true', 'false']).default('false'),
  })
  .refine((env) => env.KM_STORAGE !== 'sqlite' || env.KM_HOME !== undefined, {
    message: 'KM_STORAGE=sqlite needs KM_HOME: the directory holding km.db and api-key',
    path: ['KM_HOME'],
  });

/** The names of the settings above (infra and local.settings.sample.json are checked against them). */
export const FUNCTIONS_SETTING_NAMES = Object.keys(SettingsSchema.shape);

export interface FunctionsSettings {
  storage: 'azure' | 'sqlite';
  home: string | undefined;
  apiKeys: ApiKeyRecord[];
  maxIngestBytes: number | undefined;
  riskWebhookUrl: string | undefined;
  requestsPerMinute: number | undefined;
  trustSwaPrincipal: boolean;
  signUp: 'open' | 'invitation';
  funnelOrgId: string | undefined;
}

/** Validated once at start; a bad setting fails with every problem named, not with an odd error later. */
export function loadFunctionsSettings(env: NodeJS.ProcessEnv = process.env): FunctionsSettings {
  const parsed = SettingsSchema.safeParse(env);
  if (!parsed.success) throw new Error(`invalid app settings:\n${z.prettifyError(parsed.error)}`);
  const { KM_STORAGE, KM_HOME, KM_API_KEY_HASHES, KM_MAX_INGEST_BYTES, KM_RISK_WEBHOOK_URL, KM_RATE_LIMIT_PER_MINUTE, KM_TRUST_SWA_PRINCIPAL, KM_SIGNUP, KM_FUNNEL_ORG } = parsed.data;
  return {
    storage: KM_STORAGE,
    home: KM_HOME,
    apiKeys: KM_API_KEY_HASHES,
    maxIngestBytes: KM_MAX_INGEST_BYTES,
    riskWebhookUrl: KM_RISK_WEBHOOK_URL || undefined,
    requestsPerMinute: KM_RATE_LIMIT_PER_MINUTE,
    trustSwaPrincipal: KM_TRUST_SWA_PRINCIPAL === 'true',
    signUp: KM_SIGNUP,
    funnelOrgId: KM_FUNNEL_ORG || undefined,
  };
}
