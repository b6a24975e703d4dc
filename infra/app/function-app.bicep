// The Flex Consumption function app that runs the gateway as its custom handler (host.json),
// and its app settings.
param name string
param location string
param tags object
param planId string
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param appInsightsName string
@description('Subnet for VNet integration; empty for none.')
param subnetId string = ''
param maximumInstanceCount int
param instanceMemoryMB int
param logLevel string
param nwsUserAgent string = ''
@description('function or anonymous: the host\'s key check, overriding host.json.')
param hostAuthorizationLevel string
@secure()
param gatewaySessionSecret string
@secure()
param gatewaySessionSecretPrevious string = ''

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

module app 'br/public:avm/res/web/site:0.15.1' = {
  name: 'flex-consumption-app'
  params: {
    kind: 'functionapp,linux'
    name: name
    location: location
    tags: tags
    serverFarmResourceId: planId
    managedIdentities: {
      userAssignedResourceIds: [identityId]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageAccount.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      // The custom handler is started as `node dist/src/gateway/main.js`: the node runtime
      // puts Node 22 on the PATH.
      runtime: {
        name: 'node'
        version: '22'
      }
    }
    // No `cors`: the platform's CORS, when set, answers preflights itself before the custom
    // handler; the gateway's allowedOrigins (gateway.yaml) does CORS for /mcp/<name>.
    siteConfig: {
      alwaysOn: false
    }
    virtualNetworkSubnetId: !empty(subnetId) ? subnetId : null
    // No appSettingsKeyValuePairs: the settings hold a secret, and a module parameter that is
    // not @secure() is visible in the deployment history. They are set below instead.
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: name
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: union(
    {
      // The host proxies every request to the custom handler (host.json configurationProfile).
      AzureWebJobsFeatureFlags: 'EnableMcpCustomHandlerPreview'
      // host.json's level, overridden per deployment (AzureFunctionsJobHost__<path> app settings
      // override host.json values). The gateway reads it too, to warn when routes disagree.
      AzureFunctionsJobHost__customHandler__http__defaultAuthorizationLevel: hostAuthorizationLevel

      // Host storage through the managed identity; the account allows no shared keys.
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: identityClientId
      AzureWebJobsStorage__blobServiceUri: storageAccount.properties.primaryEndpoints.blob

      // Telemetry with Entra auth (the component has local auth disabled).
      APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'

      // Read by the gateway.
      GATEWAY_SESSION_SECRET: gatewaySessionSecret
      LOG_LEVEL: logLevel
    },
    empty(gatewaySessionSecretPrevious) ? {} : { GATEWAY_SESSION_SECRET_PREVIOUS: gatewaySessionSecretPrevious },
    empty(nwsUserAgent) ? {} : { NWS_USER_AGENT: nwsUserAgent }
  )
  dependsOn: [app]
}

output name string = app.outputs.name
output defaultHostname string = app.outputs.defaultHostname
