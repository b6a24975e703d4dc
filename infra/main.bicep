// The MCP gateway as the custom handler of a Flex Consumption function app (`azd up`).
// Resources come from Azure Verified Modules (br/public:avm/...), pinned to the versions
// Microsoft's Functions samples use. The function app itself is in app/function-app.bicep,
// role assignments in app/rbac.bicep, the optional VNet in app/vnet.bicep.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; also seeds the unique suffix of every resource name.')
param environmentName string

@minLength(1)
@description('Region for every resource. It must offer the Flex Consumption plan.')
@metadata({ azd: { type: 'location' } })
param location string

@description('Put storage behind a private endpoint and integrate the app with a VNet (costs a little more).')
param vnetEnabled bool = false

@minValue(1)
@maxValue(1000)
@description('Upper bound of instances Flex Consumption scales out to.')
param maximumInstanceCount int = 40

@allowed([512, 2048, 4096])
@description('Memory of each instance, in MB.')
param instanceMemoryMB int = 2048

@allowed(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
@description('LOG_LEVEL of the gateway (pino levels).')
param logLevel string = 'info'

@description('NWS_USER_AGENT: the User-Agent the weather server sends to NWS, naming your app and a contact (gateway.yaml reads it). Empty: gateway.yaml\'s placeholder.')
param nwsUserAgent string = ''

@allowed(['function', 'anonymous'])
@description('The Functions host\'s key check in front of the gateway, for the whole app: function (clients send a function key) or anonymous (every route brings its own auth: needed for OAuth routes, which clients reach without a key). Overrides host.json customHandler.http.defaultAuthorizationLevel.')
param hostAuthorizationLevel string = 'function'

@secure()
@minLength(32)
@description('Key for session ids (GATEWAY_SESSION_SECRET). The preprovision hook creates one per azd environment.')
param gatewaySessionSecret string

@secure()
@description('The previous key, still accepted while sessions move to a new one (GATEWAY_SESSION_SECRET_PREVIOUS). Empty when not rotating.')
param gatewaySessionSecretPrevious string = ''

var serviceName = 'api' // the service name in azure.yaml; azd finds the app by its azd-service-name tag
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = 'func-mcp-${resourceToken}'
// Flex Consumption deploys from a blob container: azd uploads the package there.
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

// The app's only identity: it reads the deployment package, runs the host's storage, sends telemetry.
module identity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-mcp-${resourceToken}'
    location: location
    tags: tags
  }
}

module plan 'br/public:avm/res/web/serverfarm:0.1.1' = {
  name: 'plan'
  scope: rg
  params: {
    name: 'plan-${resourceToken}'
    sku: {
      name: 'FC1'
      tier: 'FlexConsumption'
    }
    reserved: true // Linux
    location: location
    tags: tags
  }
}

module storage 'br/public:avm/res/storage/storage-account:0.8.3' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false // identity only: AzureWebJobsStorage__* settings, no connection string
    minimumTlsVersion: 'TLS1_2'
    dnsEndpointType: 'Standard'
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
    networkAcls: vnetEnabled ? {
      defaultAction: 'Deny'
      bypass: 'None'
    } : {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    blobServices: {
      containers: [{ name: deploymentContainerName }]
    }
  }
}

module logAnalytics 'br/public:avm/res/operational-insights/workspace:0.11.1' = {
  name: 'log-analytics'
  scope: rg
  params: {
    name: 'log-${resourceToken}'
    location: location
    tags: tags
    dataRetention: 30
  }
}

module appInsights 'br/public:avm/res/insights/component:0.6.0' = {
  name: 'app-insights'
  scope: rg
  params: {
    name: 'appi-${resourceToken}'
    location: location
    tags: tags
    workspaceResourceId: logAnalytics.outputs.resourceId
    disableLocalAuth: true // Entra auth only: APPLICATIONINSIGHTS_AUTHENTICATION_STRING + Monitoring Metrics Publisher
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    appInsightsName: appInsights.outputs.name
    principalId: identity.outputs.principalId
  }
}

module vnet 'app/vnet.bicep' = if (vnetEnabled) {
  name: 'vnet'
  scope: rg
  params: {
    name: 'vnet-${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
  }
}

module functionApp 'app/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: functionAppName
    location: location
    tags: union(tags, { 'azd-service-name': serviceName })
    planId: plan.outputs.resourceId
    identityId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    appInsightsName: appInsights.outputs.name
    subnetId: vnetEnabled ? vnet.outputs.appSubnetId : ''
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    logLevel: logLevel
    nwsUserAgent: nwsUserAgent
    hostAuthorizationLevel: hostAuthorizationLevel
    gatewaySessionSecret: gatewaySessionSecret
    gatewaySessionSecretPrevious: gatewaySessionSecretPrevious
  }
  // The host reaches storage and Application Insights with the identity from its first start.
  dependsOn: [rbac]
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_HOSTNAME string = functionApp.outputs.defaultHostname
output APPLICATIONINSIGHTS_CONNECTION_STRING string = appInsights.outputs.connectionString
