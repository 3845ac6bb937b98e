// Log Analytics and a workspace-based Application Insights component.
param location string
param baseName string

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${baseName}-logs'
  location: location
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${baseName}-appi'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
  }
}

// The connection string identifies the component; it grants no access to data (Microsoft does not treat it as a secret).
output connectionString string = appInsights.properties.ConnectionString
