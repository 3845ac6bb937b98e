// Key Vault (RBAC, no access policies) for the app's secrets: the audit signing key, an Ed25519 private key (PEM)
// that signs the head of every audit export. The app setting KM_AUDIT_SIGNING_KEY is a Key Vault reference
// (main.bicep), resolved by the platform with the Function app's identity (Key Vault Secrets User, roles.bicep), so
// the key never sits in app settings. The secret is written from the deployment's secure parameter when one is
// given; an empty parameter leaves the secret as it is (made once, or rotated, with az keyvault secret set).
param location string
param vaultName string
@secure()
param auditSigningKeyPem string

var auditKeySecretName = 'km-audit-signing-key'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: vaultName
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    publicNetworkAccess: 'Enabled'
  }
}

resource auditKey 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(auditSigningKeyPem)) {
  parent: vault
  name: auditKeySecretName
  properties: { value: auditSigningKeyPem, contentType: 'application/x-pem-file' }
}

output name string = vault.name
output auditKeySecretName string = auditKeySecretName
