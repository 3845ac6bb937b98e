// The Function app on Flex Consumption (Linux, Node 20), with a system-assigned identity; the deployment package
// is pulled from blob storage with that identity.
param location string
param name string
param planName string
param storageBlobEndpoint string
param deploymentContainerName string
param appSettings object
param maximumInstanceCount int

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: { type: 'SystemAssignedIdentity' }
        }
      }
      scaleAndConcurrency: { maximumInstanceCount: maximumInstanceCount, instanceMemoryMB: 2048 }
      runtime: { name: 'node', version: '20' }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      // No CORS: the dashboard reaches the API on its own origin, through Static Web Apps' linked backend.
      cors: { allowedOrigins: [] }
      appSettings: [for setting in items(appSettings): { name: setting.key, value: setting.value }]
    }
  }
}

output id string = site.id
output name string = site.name
output defaultHostname string = site.properties.defaultHostName
output principalId string = site.identity.principalId
