// Cosmos DB (serverless): one container per read model, partition key /orgId (the tenant). Keys are off: the app uses
// the built-in data contributor role (roles.bicep). Composite indexes serve ORDER BY <field>, id in both directions.
param location string
param accountName string
param databaseName string
param readModels array

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

output accountName string = account.name
output endpoint string = account.properties.documentEndpoint
