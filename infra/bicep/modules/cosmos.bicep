// Cosmos DB (serverless): one container per read model, partition key /orgId (the tenant). Keys are off: the app uses
// the built-in data contributor role (roles.bicep). Composite indexes serve ORDER BY <field>, id in both directions.
param location string
param accountName string
param databaseName string
param readModels array
@description('The audit archive: its container name and sort fields (main.bicep).')
param auditArchive object

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  name: accountName
  location: location
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    capabilities: [{ name: 'EnableServerless' }]
    consistencyPolicy: { defaultConsistencyLevel: 'Session' }
    locations: [{ locationName: location, failoverPriority: 0, isZoneRedundant: false }]
    disableLocalAuth: true
    minimalTlsVersion: 'Tls12'
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' = {
  parent: account
  name: databaseName
  properties: { resource: { id: databaseName } }
}

resource containers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = [
  for model in readModels: {
    parent: database
    name: model.name
    properties: {
      resource: {
        id: model.name
        partitionKey: { paths: ['/orgId'], kind: 'Hash', version: 2 }
        indexingPolicy: {
          indexingMode: 'consistent'
          automatic: true
          includedPaths: [{ path: '/*' }]
          excludedPaths: [{ path: '/"_etag"/?' }]
          compositeIndexes: flatten(map(model.sortFields, field => [
            [{ path: '/doc/${field}', order: 'ascending' }, { path: '/id', order: 'ascending' }]
            [{ path: '/doc/${field}', order: 'descending' }, { path: '/id', order: 'descending' }]
          ]))
        }
      }
    }
  }
]

// Which log entry first carried each (orgId, event id): the projector triggers drop a client's retry that Event Hubs
// appended again (functions/src/first-sightings.ts). Small documents, never rewritten; kept 90 days, far longer
// than a spool waits to retry.
resource eventFirsts 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = {
  parent: database
  name: 'eventFirsts'
  properties: {
    resource: {
      id: 'eventFirsts'
      partitionKey: { paths: ['/orgId'], kind: 'Hash', version: 2 }
      defaultTtl: 7776000
      indexingPolicy: { indexingMode: 'consistent', automatic: true, includedPaths: [], excludedPaths: [{ path: '/*' }] }
    }
  }
}

// The audit archive (functions/src/adapters/store-org-event-archive.ts): each org's events in pages of up to 1,000,
// written by the audit-archive trigger and read back in order by the audit export and the retention sweep. Only the
// pages' last sequence number is indexed (the one query: an org's pages by it); the pages' bodies are compressed text.
resource archive 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = {
  parent: database
  name: auditArchive.container
  properties: {
    resource: {
      id: auditArchive.container
      partitionKey: { paths: ['/orgId'], kind: 'Hash', version: 2 }
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [{ path: '/orgId/?' }, { path: '/doc/last/?' }]
        excludedPaths: [{ path: '/*' }]
        compositeIndexes: flatten(map(auditArchive.sortFields, field => [
          [{ path: '/doc/${field}', order: 'ascending' }, { path: '/id', order: 'ascending' }]
          [{ path: '/doc/${field}', order: 'descending' }, { path: '/id', order: 'descending' }]
        ]))
      }
    }
  }
}

// API keys (functions/src/keys): a key's authentication document in a partition named by the key's hash, its listing
// in the org's. Written through the API by key.created / key.revoked; small and few.
resource keys 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = {
  parent: database
  name: 'keys'
  properties: {
    resource: {
      id: 'keys'
      partitionKey: { paths: ['/orgId'], kind: 'Hash', version: 2 }
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [{ path: '/*' }]
        excludedPaths: [{ path: '/"_etag"/?' }]
      }
    }
  }
}

// Budget webhook deliveries (functions/src/budget-webhook-deliveries.ts): one record per threshold crossed, in one
// partition, claimed before each attempt; the pending ones are read by their next attempt's time. A pending record is
// rewritten at least every 5 minutes for a day at most; the delivered and given-up ones stay 31 days, far longer than
// Event Hubs keeps the events they answer, so a replayed batch is never sent again.
resource budgetWebhooks 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = {
  parent: database
  name: 'budgetWebhooks'
  properties: {
    resource: {
      id: 'budgetWebhooks'
      partitionKey: { paths: ['/orgId'], kind: 'Hash', version: 2 }
      defaultTtl: 2678400
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [{ path: '/orgId/?' }, { path: '/doc/state/?' }, { path: '/doc/nextAttemptAt/?' }]
        excludedPaths: [{ path: '/*' }]
        compositeIndexes: [
          [{ path: '/doc/nextAttemptAt', order: 'ascending' }, { path: '/id', order: 'ascending' }]
          [{ path: '/doc/nextAttemptAt', order: 'descending' }, { path: '/id', order: 'descending' }]
        ]
      }
    }
  }
}

output accountName string = account.name
output endpoint string = account.properties.documentEndpoint
