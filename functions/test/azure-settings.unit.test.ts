import { auditSignerFromSetting, loadAzureSettings } from '../src/azure-settings';
import { headSignatureHolds, newAuditKeyPem } from '../src/audit/audit-chain';

describe('loadAzureSettings', () => {
  const identity = {
    EventHubConnection__fullyQualifiedNamespace: 'km-dev.servicebus.windows.net',
    KM_COSMOS_ENDPOINT: 'https://km-dev.documents.azure.com:443/',
  };

  it('defaults to managed identity, the km-events hub and the km database', () => {
    expect(loadAzureSettings(identity)).toEqual({
      auth: 'identity',
      eventHubs: { fullyQualifiedNamespace: 'km-dev.servicebus.windows.net' },
      eventHubName: 'km-events',
      cosmos: { endpoint: 'https://km-dev.documents.azure.com:443/', databaseId: 'km', key: undefined },
    });
  });

  it('refuses keys and connection strings with identity, naming each, and says how to run without Azure', () => {
    const attempt = () => loadAzureSettings({ ...identity, EventHubConnection: 'Endpoint=sb://x', KM_COSMOS_KEY: 'k' });
    expect(attempt).toThrow(/refused[\s\S]*EventHubConnection\n[\s\S]*refused[\s\S]*KM_COSMOS_KEY/);
    expect(attempt).toThrow(/KM_STORAGE=sqlite/);
  });

  it('with keys (local development) needs both the connection string and the Cosmos key', () => {
    expect(() => loadAzureSettings({ KM_AZURE_AUTH: 'keys', KM_COSMOS_ENDPOINT: 'https://localhost:8081' })).toThrow(
      /EventHubConnection[\s\S]*KM_COSMOS_KEY|KM_COSMOS_KEY[\s\S]*EventHubConnection/,
    );
    expect(
      loadAzureSettings({ KM_AZURE_AUTH: 'keys', KM_COSMOS_ENDPOINT: 'https://localhost:8081', EventHubConnection: 'Endpoint=sb://x', KM_COSMOS_KEY: 'k' }),
    ).toMatchObject({ auth: 'keys', eventHubs: { connectionString: 'Endpoint=sb://x' }, cosmos: { key: 'k' } });
  });

  it('names a missing Cosmos endpoint and namespace', () => {
    expect(() => loadAzureSettings({})).toThrow(/EventHubConnection__fullyQualifiedNamespace[\s\S]*KM_COSMOS_ENDPOINT|KM_COSMOS_ENDPOINT[\s\S]*EventHubConnection__fullyQualifiedNamespace/);
  });

  it('makes the audit signer from KM_AUDIT_SIGNING_KEY, or says why not: unset, a Key Vault reference left unresolved, not an Ed25519 PEM', () => {
    expect(auditSignerFromSetting(undefined)).toEqual({ auditSignerProblem: expect.stringContaining('KM_AUDIT_SIGNING_KEY is not set') });
    expect(auditSignerFromSetting('@Microsoft.KeyVault(VaultName=kmdevkv;SecretName=km-audit-signing-key)')).toEqual({
      auditSignerProblem: expect.stringMatching(/still a Key Vault reference[\s\S]*Key Vault Secrets User/),
    });
    expect(auditSignerFromSetting('-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----')).toEqual({ auditSignerProblem: expect.stringContaining('not an Ed25519 private key') });
    const made = auditSignerFromSetting(newAuditKeyPem());
    if (!('auditSigner' in made)) throw new Error(made.auditSignerProblem);
    const head = { orgId: 'org-a', count: 0, hash: 'h', signedAt: '2026-12-04T00:00:00.000Z', checkpoint: null };
    expect(headSignatureHolds({ head: true, ...head, publicKey: made.auditSigner.publicKey, signature: made.auditSigner.sign(head) })).toBe(true);
    expect(loadAzureSettings({ ...identity, KM_AUDIT_SIGNING_KEY: 'pem' })).toMatchObject({ auditSigningKeyPem: 'pem' });
  });
});
