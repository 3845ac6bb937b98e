import { z } from 'zod';
import { auditSigner, type AuditSigner } from './audit/audit-chain';

/**
 * The app settings of KM_STORAGE=azure. In Azure every connection is identity-based (DefaultAzureCredential: the
 * Function app's system-assigned managed identity), so no key sits in app settings; connection strings and keys are
 * accepted only with KM_AZURE_AUTH=keys, for local development (func start against Azurite, a dev namespace, or a
 * Cosmos-compatible server).
 */
const AzureSettingsSchema = z
  .object({
    KM_AZURE_AUTH: z.enum(['identity', 'keys']).default('identity'),
    /** The Event Hubs namespace host (`<ns>.servicebus.windows.net`), read by the triggers' identity connection too. */
    EventHubConnection__fullyQualifiedNamespace: z.string().trim().min(1).optional(),
    /** keys only: a connection string (the triggers' `connection: 'EventHubConnection'` reads the same setting). */
    EventHubConnection: z.string().trim().min(1).optional(),
    KM_EVENTHUB_NAME: z.string().trim().min(1).default('km-events'),
    // Optional here and required below, so that one error names every missing setting at once.
    KM_COSMOS_ENDPOINT: z.url().optional(),
    KM_COSMOS_DATABASE: z.string().trim().min(1).default('km'),
    /** keys only: the account key (local development; never set in Azure). */
    KM_COSMOS_KEY: z.string().trim().min(1).optional(),
    /**
     * The audit export's signing key: an Ed25519 private key (PEM). In Azure a Key Vault reference that the platform
     * resolves with the app's identity (infra/bicep); read as given, checked where the signer is made (cloud-ports).
     */
    KM_AUDIT_SIGNING_KEY: z.string().trim().optional(),
  })
  .superRefine((env, ctx) => {
    if (!env.KM_COSMOS_ENDPOINT) ctx.addIssue({ code: 'custom', path: ['KM_COSMOS_ENDPOINT'], message: 'required: the Cosmos DB account endpoint, https://<account>.documents.azure.com:443/' });
    if (env.KM_AZURE_AUTH === 'identity') {
      if (!env.EventHubConnection__fullyQualifiedNamespace) {
        ctx.addIssue({ code: 'custom', path: ['EventHubConnection__fullyQualifiedNamespace'], message: 'required with KM_AZURE_AUTH=identity: <namespace>.servicebus.windows.net' });
      }
      for (const key of ['EventHubConnection', 'KM_COSMOS_KEY'] as const) {
        if (env[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'a key or connection string is refused with KM_AZURE_AUTH=identity: remove it (keys are for local development, KM_AZURE_AUTH=keys)' });
      }
    } else {
      if (!env.EventHubConnection) ctx.addIssue({ code: 'custom', path: ['EventHubConnection'], message: 'required with KM_AZURE_AUTH=keys: an Event Hubs connection string' });
      if (!env.KM_COSMOS_KEY) ctx.addIssue({ code: 'custom', path: ['KM_COSMOS_KEY'], message: 'required with KM_AZURE_AUTH=keys: the Cosmos DB account key' });
    }
  });

export interface AzureSettings {
  auth: 'identity' | 'keys';
  eventHubs: { fullyQualifiedNamespace: string; connectionString?: undefined } | { connectionString: string; fullyQualifiedNamespace?: undefined };
  eventHubName: string;
  cosmos: { endpoint: string; databaseId: string; key: string | undefined };
  auditSigningKeyPem: string | undefined;
}

/** Settings an Azure deployment sets (infra/bicep/main.bicep sets exactly these besides the host's own). */
export const AZURE_DEPLOYED_SETTING_NAMES = [
  'KM_STORAGE',
  'KM_API_KEY_HASHES',
  'KM_MAX_INGEST_BYTES',
  'KM_RISK_WEBHOOK_URL',
  'KM_RATE_LIMIT_PER_MINUTE',
  'KM_TRUST_SWA_PRINCIPAL',
  'KM_SIGNUP',
  'KM_FUNNEL_ORG',
  'KM_WEBHOOK_ALLOW_PRIVATE',
  'KM_AZURE_AUTH',
  'EventHubConnection__fullyQualifiedNamespace',
  'KM_EVENTHUB_NAME',
  'KM_COSMOS_ENDPOINT',
  'KM_COSMOS_DATABASE',
  'KM_AUDIT_SIGNING_KEY',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
] as const;

/** Settings the app reads that never belong in Azure: the embedded stack's directory and local-development keys. */
export const LOCAL_ONLY_SETTING_NAMES = ['KM_HOME', 'EventHubConnection', 'KM_COSMOS_KEY'] as const;

export const AZURE_SETTING_NAMES = Object.keys(AzureSettingsSchema.shape);

export function loadAzureSettings(env: NodeJS.ProcessEnv = process.env): AzureSettings {
  const parsed = AzureSettingsSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `invalid app settings for KM_STORAGE=azure:\n${z.prettifyError(parsed.error)}\n` +
        '(To run without Azure, set KM_STORAGE=sqlite and KM_HOME=<a directory>.)',
    );
  }
  const s = parsed.data;
  return {
    auth: s.KM_AZURE_AUTH,
    eventHubs:
      s.KM_AZURE_AUTH === 'identity'
        ? { fullyQualifiedNamespace: s.EventHubConnection__fullyQualifiedNamespace! }
        : { connectionString: s.EventHubConnection! },
    eventHubName: s.KM_EVENTHUB_NAME,
    cosmos: { endpoint: s.KM_COSMOS_ENDPOINT!, databaseId: s.KM_COSMOS_DATABASE, key: s.KM_AZURE_AUTH === 'keys' ? s.KM_COSMOS_KEY : undefined },
    auditSigningKeyPem: s.KM_AUDIT_SIGNING_KEY || undefined,
  };
}

/**
 * The audit signer from KM_AUDIT_SIGNING_KEY, or why there is none. In Azure the setting is a Key Vault reference
 * the platform replaces with the secret (an Ed25519 private key, PEM); one it could not resolve stays as written.
 * Only the audit export needs it, so a problem is its 501, never the whole app's 503.
 */
export function auditSignerFromSetting(pem: string | undefined): { auditSigner: AuditSigner } | { auditSignerProblem: string } {
  if (!pem) return { auditSignerProblem: 'KM_AUDIT_SIGNING_KEY is not set: in Azure it is a Key Vault reference to an Ed25519 private key (PEM), wired by infra/bicep (README, "Azure")' };
  if (pem.startsWith('@Microsoft.KeyVault(')) {
    return { auditSignerProblem: "KM_AUDIT_SIGNING_KEY is still a Key Vault reference: the platform could not resolve it. Check that the secret exists in the vault and that the app's identity has Key Vault Secrets User on it, then restart the app" };
  }
  try {
    return { auditSigner: auditSigner(pem) };
  } catch {
    return { auditSignerProblem: 'KM_AUDIT_SIGNING_KEY is not an Ed25519 private key in PEM (PKCS8): make one with `openssl genpkey -algorithm ed25519` (README, "Azure")' };
  }
}
