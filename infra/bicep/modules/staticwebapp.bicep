// The dashboard (dashboard/dist), deployed by .github/workflows/deploy.yml, with the Function app as its linked
// backend: /api/* on the dashboard's host goes to the Functions, with Static Web Apps' GitHub sign-in forwarded as
// x-ms-client-principal. Linking a backend needs the Standard plan; it also puts the Function app behind an identity
// provider that admits Static Web Apps only, which is why the Functions may trust that header
// (KM_TRUST_SWA_PRINCIPAL). staticwebapp.config.json keeps every page behind the sign-in.
param location string
param name string
param functionAppResourceId string
param functionAppLocation string

resource site 'Microsoft.Web/staticSites@2023-12-01' = {
  name: name
  location: location
  sku: { name: 'Standard', tier: 'Standard' }
  properties: {}
}

resource backend 'Microsoft.Web/staticSites/linkedBackends@2023-12-01' = {
  parent: site
  name: 'functions'
  properties: {
    backendResourceId: functionAppResourceId
    region: functionAppLocation
  }
}

output name string = site.name
output defaultHostname string = site.properties.defaultHostname
