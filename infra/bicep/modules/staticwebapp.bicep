// The dashboard (dashboard/dist), deployed by .github/workflows/deploy.yml.
param location string
param name string

resource site 'Microsoft.Web/staticSites@2023-12-01' = {
  name: name
  location: location
  sku: { name: 'Free', tier: 'Free' }
  properties: {}
}

output name string = site.name
output defaultHostname string = site.properties.defaultHostname
