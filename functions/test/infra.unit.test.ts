import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUDGET_WEBHOOK_INDEXES, BUDGET_WEBHOOKS_MODEL } from '../src/budget-webhook-deliveries';
import { AZURE_DEPLOYED_SETTING_NAMES, AZURE_SETTING_NAMES, LOCAL_ONLY_SETTING_NAMES } from '../src/azure-settings';
import { readModelIndexes, readModels } from '../src/read-models';
import { AUDIT_ARCHIVE_INDEXES, AUDIT_ARCHIVE_MODEL } from '../src/adapters/store-org-event-archive';
import { AUDIT_ARCHIVE } from '../src/handlers/archive-events';
import { FUNCTIONS_SETTING_NAMES } from '../src/settings';

/**
 * No Bicep compiler runs here (LOCAL-AZURE.md), so these keep infra/bicep consistent with the app by reading both:
 * settings, read models (containers, consumer groups, composite indexes) and parameter files. CI also compiles
 * the Bicep on GitHub (ci.yml, job bicep).
 */
const root = join(__dirname, '..', '..');
const bicepDir = join(root, 'infra', 'bicep');
const mainBicep = readFileSync(join(bicepDir, 'main.bicep'), 'utf8');

/** The body of `var <name> = <open> ... <close>` at the start of a line, braces balanced. */
function bicepVar(name: string): string {
  const start = mainBicep.search(new RegExp(`^var ${name} = [\\[{]`, 'm'));
  if (start < 0) throw new Error(`main.bicep has no var ${name}`);
  let depth = 0;
  for (let i = mainBicep.indexOf('=', start) + 1; i < mainBicep.length; i++) {
    const ch = mainBicep[i];
    if (ch === '{' || ch === '[') depth++;
    if (ch === '}' || ch === ']') depth--;
    if (depth === 0 && (ch === '}' || ch === ']')) return mainBicep.slice(start, i + 1);
  }
  throw new Error(`var ${name} is not closed`);
}

const HOST_SETTINGS = ['AzureWebJobsStorage__accountName'];
const settingsTheAppReads = new Set([...FUNCTIONS_SETTING_NAMES, ...AZURE_SETTING_NAMES, 'APPLICATIONINSIGHTS_CONNECTION_STRING']);

describe('infra/bicep agrees with the app', () => {
  it('sets every setting the app reads in Azure, and nothing else besides the host\'s own', () => {
    const deployed = [...bicepVar('appSettings').matchAll(/^\s+([A-Za-z_][A-Za-z0-9_]*):/gm)].map((match) => match[1]);
    expect(deployed.sort()).toEqual([...AZURE_DEPLOYED_SETTING_NAMES, ...HOST_SETTINGS].sort());
  });

  it('accounts for every setting the app reads: deployed, or local only (never a key in Azure)', () => {
    expect([...settingsTheAppReads].sort()).toEqual([...AZURE_DEPLOYED_SETTING_NAMES, ...LOCAL_ONLY_SETTING_NAMES].sort());
    expect(bicepVar('appSettings')).not.toMatch(/listKeys|SharedAccessKey|AccountKey|KM_COSMOS_KEY|EventHubConnection:/);
  });

  it('declares one Cosmos container and one consumer group per read model, with the sort fields the queries use', () => {
    const declared = [...bicepVar('readModels').matchAll(/\{ name: '([^']+)', sortFields: \[([^\]]*)\] \}/g)].map((match) => ({
      name: match[1],
      sortFields: [...match[2]!.matchAll(/'([^']+)'/g)].map((field) => field[1]).sort(),
    }));
    expect(declared).toEqual(
      readModels.map((model) => ({
        name: model.name,
        // One composite index per sort field, however many query shapes sort by it.
        sortFields: [...new Set(readModelIndexes.filter((index) => index.model === model.name).map((index) => index.fields[index.fields.length - 1]))].sort(),
      })),
    );
    expect(mainBicep).toMatch(/consumerGroups: concat\(\[for model in readModels: model\.name\], \['budget-webhooks', auditArchive\.consumerGroup\]\)/);
    expect(readFileSync(join(bicepDir, 'modules', 'cosmos.bicep'), 'utf8')).toMatch(/paths: \['\/orgId'\]/);
  });

  it('declares the audit archive: its consumer group, its container (partition key /orgId) and the index of its one query', () => {
    const archive = bicepVar('auditArchive');
    expect(archive).toContain(`consumerGroup: '${AUDIT_ARCHIVE}'`);
    expect(archive).toContain(`container: '${AUDIT_ARCHIVE_MODEL}'`);
    const sortFields = [...archive.match(/sortFields: \[([^\]]*)\]/)![1]!.matchAll(/'([^']+)'/g)].map((field) => field[1]);
    expect(sortFields).toEqual(AUDIT_ARCHIVE_INDEXES.map((index) => index.fields[index.fields.length - 1]));
    const cosmos = readFileSync(join(bicepDir, 'modules', 'cosmos.bicep'), 'utf8');
    const container = cosmos.slice(cosmos.indexOf("resource archive '"), cosmos.indexOf('\n}\n', cosmos.indexOf("resource archive '")));
    expect(container).toMatch(/name: auditArchive\.container/);
    expect(container).toMatch(/paths: \['\/orgId'\]/);
    expect(container).toMatch(/compositeIndexes: flatten\(map\(auditArchive\.sortFields/);
  });

  it('declares the budget webhook deliveries\' container: partition key /orgId, a TTL, and the index of the retry pass\'s query', () => {
    const cosmos = readFileSync(join(bicepDir, 'modules', 'cosmos.bicep'), 'utf8');
    const start = cosmos.indexOf("resource budgetWebhooks '");
    const container = cosmos.slice(start, cosmos.indexOf('\n}\n', start));
    expect(container).toContain(`id: '${BUDGET_WEBHOOKS_MODEL}'`);
    expect(container).toMatch(/paths: \['\/orgId'\]/);
    expect(container).toMatch(/defaultTtl: \d+/);
    for (const field of BUDGET_WEBHOOK_INDEXES.flatMap((index) => index.fields)) expect(container).toContain(`{ path: '/doc/${field}/?' }`);
    expect(container).toContain(`{ path: '/doc/${BUDGET_WEBHOOK_INDEXES[0]!.fields.at(-1)}', order: 'ascending' }`);
  });

  it('reads the audit signing key from Key Vault through the app\'s identity, never as a plain setting', () => {
    expect(bicepVar('appSettings')).toMatch(/^\s+KM_AUDIT_SIGNING_KEY: '@Microsoft\.KeyVault\(VaultName=\$\{keyVault\.outputs\.name\};SecretName=\$\{keyVault\.outputs\.auditKeySecretName\}\)'$/m);
    expect(bicepVar('appSettings')).not.toMatch(/auditSigningKeyPem/);
    expect(mainBicep).toMatch(/@secure\(\)\nparam auditSigningKeyPem string = ''/);
    const vault = readFileSync(join(bicepDir, 'modules', 'keyvault.bicep'), 'utf8');
    expect(vault).toMatch(/enableRbacAuthorization: true/);
    expect(vault).toMatch(/@secure\(\)\nparam auditSigningKeyPem string/);
    const roles = readFileSync(join(bicepDir, 'modules', 'roles.bicep'), 'utf8');
    // Key Vault Secrets User, on the vault.
    expect(roles).toMatch(/keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'/);
    expect(roles).toMatch(/scope: vault\n/);
  });

  it('references modules that exist, and parameter files that name only declared parameters and all required ones', () => {
    for (const [, path] of mainBicep.matchAll(/^module \w+ '([^']+)'/gm)) expect(existsSync(join(bicepDir, path!))).toBe(true);
    const params = [...mainBicep.matchAll(/^param (\w+) \w+( = .*)?$/gm)].map((match) => ({ name: match[1]!, required: !match[2] }));
    for (const environment of ['dev', 'prod']) {
      const file = JSON.parse(readFileSync(join(bicepDir, 'parameters', `${environment}.json`), 'utf8')) as { parameters: Record<string, unknown> };
      const given = Object.keys(file.parameters);
      expect(given.filter((name) => !params.some((param) => param.name === name))).toEqual([]);
      expect(params.filter((param) => param.required && !given.includes(param.name))).toEqual([]);
    }
  });

  it('documents every setting the app reads in local.settings.sample.json, with the triggers off for sqlite', () => {
    const sample = JSON.parse(readFileSync(join(root, 'local.settings.sample.json'), 'utf8')) as { Values: Record<string, string> };
    for (const name of settingsTheAppReads) expect(Object.keys(sample.Values)).toContain(name);
    for (const model of readModels) expect(sample.Values[`AzureWebJobs.project-${model.name}.Disabled`]).toBe('true');
    expect(sample.Values[`AzureWebJobs.${AUDIT_ARCHIVE}.Disabled`]).toBe('true');
  });

  it('configures the host for the Event Hubs triggers (extension bundle, batches, checkpoints, start of new groups)', () => {
    const host = JSON.parse(readFileSync(join(root, 'host.json'), 'utf8'));
    expect(host.extensionBundle.id).toBe('Microsoft.Azure.Functions.ExtensionBundle');
    expect(host.extensions.eventHubs).toMatchObject({ batchCheckpointFrequency: 1, initialOffsetOptions: { type: 'fromStart' } });
  });
});
