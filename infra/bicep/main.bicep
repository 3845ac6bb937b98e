// Kilometers in Azure: Event Hubs -> projector Functions -> Cosmos DB -> query Functions -> Static Web App.
// Every data-plane connection of the Function app is its system-assigned managed identity (role assignments below):
// no key or connection string sits in app settings. Validate with `az bicep build --file infra/bicep/main.bicep`
// and `az deployment group what-if` (README, "Azure").
targetScope = 'resourceGroup'

@description('dev or prod: names and sizes.')
@allowed(['dev', 'prod'])
param environmentName string

@description('Short prefix of every resource name (lowercase letters and digits).')
@minLength(2)
@maxLength(10)
param namePrefix string = 'km'

param location string = resourceGroup().location

@description('Static Web Apps exist in a few regions only.')
param staticWebAppLocation string = 'westeurope'

@description('Event Hubs partitions: the most projector instances that can work in parallel.')
@minValue(1)
@maxValue(32)
param eventHubPartitionCount int = 4

@description('Event Hubs throughput units (Standard).')
param eventHubCapacity int = 1

@description('Most Function app instances (Flex Consumption).')
param maximumInstanceCount int = 40

@description('Comma-separated <sha256 hex of an API key>:<orgId> pairs. Only hashes, never keys.')
@secure()
param apiKeyHashes string = ''

@description('Largest ingest body in bytes.')
param maxIngestBytes int = 5242880

@description('Requests a minute one API key may make, per Functions instance (429 with Retry-After past it).')
param rateLimitPerMinute int = 6000

@description('The funnel: the org whose owners and admins see the landing page\'s views (the operator\'s); empty: views are not counted.')
param funnelOrg string = ''

@description('Risk Monitor: high and critical findings are posted here (Slack/Teams-style receiver); empty for none.')
param riskWebhookUrl string = ''

@description('The audit export\'s signing key, an Ed25519 private key (PEM, openssl genpkey -algorithm ed25519), written to Key Vault; empty keeps the secret the vault has.')
@secure()
param auditSigningKeyPem string = ''

// The read models of functions/src/read-models.ts: each gets a Cosmos container (partition key /orgId, composite
// indexes for its sort fields, tie-broken by id) and an Event Hubs consumer group for its projector trigger.
// functions/test/infra.unit.test.ts checks this list against the app's.
var readModels = [
  { name: 'sessions', sortFields: ['firstSeenAt'] }
  { name: 'interactions', sortFields: ['batch', 'receivedAt', 'startedAt'] }
  { name: 'cost', sortFields: ['kind', 'period'] }
  { name: 'latency', sortFields: ['day', 'period'] }
  { name: 'risk', sortFields: ['kind', 'receivedAt', 'ruleId', 'ts'] }
  { name: 'funnel', sortFields: [] }
]

// The audit archive (functions/src/functions/audit-archive.ts): its Event Hubs consumer group, and its Cosmos
// container of pages of each org's events (functions/src/adapters/store-org-event-archive.ts).
var auditArchive = { consumerGroup: 'audit-archive', container: 'auditArchive', sortFields: ['last'] }

var suffix = uniqueString(resourceGroup().id, environmentName)
var baseName = '${namePrefix}-${environmentName}'
var eventHubName = 'km-events'
var cosmosDatabaseName = 'km'

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: { location: location, baseName: baseName }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: { location: location, accountName: take('${namePrefix}${environmentName}${suffix}', 24) }
}

module eventHubs 'modules/eventhubs.bicep' = {
  name: 'eventhubs'
  params: {
    location: location
    namespaceName: '${baseName}-eh-${suffix}'
    eventHubName: eventHubName
    partitionCount: eventHubPartitionCount
    capacity: eventHubCapacity
    // One per projector, one for the budget webhooks (functions/src/functions/budget-webhooks.ts), one for the audit archive.
    consumerGroups: concat([for model in readModels: model.name], ['budget-webhooks', auditArchive.consumerGroup])
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  params: {
    location: location
    accountName: '${baseName}-cosmos-${suffix}'
    databaseName: cosmosDatabaseName
    readModels: readModels
    auditArchive: auditArchive
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    vaultName: take('${namePrefix}${environmentName}kv${suffix}', 24)
    auditSigningKeyPem: auditSigningKeyPem
  }
}


// Every setting the app reads in Azure (functions/src/azure-settings.ts AZURE_DEPLOYED_SETTING_NAMES), then the
// host's own. infra.unit.test.ts checks the two lists agree.
var appSettings = {
  KM_STORAGE: 'azure'
  KM_API_KEY_HASHES: apiKeyHashes
  KM_MAX_INGEST_BYTES: string(maxIngestBytes)
  KM_RISK_WEBHOOK_URL: riskWebhookUrl
  KM_RATE_LIMIT_PER_MINUTE: string(rateLimitPerMinute)
  // The Functions are the dashboard's linked backend (modules/staticwebapp.bicep): its GitHub sign-in is trusted, and
  // a GitHub user nobody invited gets an org of their own, as its owner.
  KM_TRUST_SWA_PRINCIPAL: 'true'
  KM_SIGNUP: 'open'
  KM_FUNNEL_ORG: funnelOrg
  // Budget webhooks, which any member may set, never reach the app's own network (SSRF).
  KM_WEBHOOK_ALLOW_PRIVATE: 'false'
  KM_AZURE_AUTH: 'identity'
  EventHubConnection__fullyQualifiedNamespace: eventHubs.outputs.fullyQualifiedNamespace
  KM_EVENTHUB_NAME: eventHubName
  KM_COSMOS_ENDPOINT: cosmos.outputs.endpoint
  KM_COSMOS_DATABASE: cosmosDatabaseName
  // A Key Vault reference, resolved by the platform with the app's identity: the key itself is never an app setting.
  KM_AUDIT_SIGNING_KEY: '@Microsoft.KeyVault(VaultName=${keyVault.outputs.name};SecretName=${keyVault.outputs.auditKeySecretName})'
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
  AzureWebJobsStorage__accountName: storage.outputs.name
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    name: '${baseName}-func-${suffix}'
    planName: '${baseName}-plan-${suffix}'
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    appSettings: appSettings
    maximumInstanceCount: maximumInstanceCount
  }
}

module dashboard 'modules/staticwebapp.bicep' = {
  name: 'dashboard'
  params: {
    location: staticWebAppLocation
    name: '${baseName}-dashboard-${suffix}'
    functionAppResourceId: functionApp.outputs.id
    functionAppLocation: location
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    principalId: functionApp.outputs.principalId
    eventHubsNamespaceName: eventHubs.outputs.namespaceName
    cosmosAccountName: cosmos.outputs.accountName
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
  }
}

output functionAppName string = functionApp.outputs.name
output functionAppUrl string = 'https://${functionApp.outputs.defaultHostname}'
output staticWebAppName string = dashboard.outputs.name
output dashboardUrl string = 'https://${dashboard.outputs.defaultHostname}'
