// Optional network isolation (vnetEnabled): the app joins a delegated subnet and reaches its
// storage account through a private endpoint; the account's public endpoint is closed.
param name string
param location string
param tags object = {}
param storageAccountName string

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

module network 'br/public:avm/res/network/virtual-network:0.5.4' = {
  name: 'virtual-network'
  params: {
    name: name
    location: location
    tags: tags
    addressPrefixes: ['10.0.0.0/16']
    subnets: [
      {
        name: 'app'
        addressPrefix: '10.0.1.0/24'
        delegation: 'Microsoft.App/environments' // Flex Consumption VNet integration
      }
      {
        name: 'private-endpoints'
        addressPrefix: '10.0.2.0/24'
      }
    ]
  }
}

module blobDnsZone 'br/public:avm/res/network/private-dns-zone:0.7.1' = {
  name: 'blob-private-dns-zone'
  params: {
    name: 'privatelink.blob.${environment().suffixes.storage}'
    location: 'global'
    tags: tags
    virtualNetworkLinks: [
      {
        name: '${name}-blob-link'
        virtualNetworkResourceId: network.outputs.resourceId
        registrationEnabled: false
        location: 'global'
        tags: tags
      }
    ]
  }
}

module blobPrivateEndpoint 'br/public:avm/res/network/private-endpoint:0.9.1' = {
  name: 'blob-private-endpoint'
  params: {
    name: 'pe-blob-${storageAccountName}'
    location: location
    tags: tags
    subnetResourceId: network.outputs.subnetResourceIds[1]
    privateLinkServiceConnections: [
      {
        name: 'blob'
        properties: {
          privateLinkServiceId: storageAccount.id
          groupIds: ['blob']
        }
      }
    ]
    privateDnsZoneGroup: {
      name: 'blob-dns-zone-group'
      privateDnsZoneGroupConfigs: [
        {
          name: 'blob'
          privateDnsZoneResourceId: blobDnsZone.outputs.resourceId
        }
      ]
    }
  }
}

output appSubnetId string = network.outputs.subnetResourceIds[0]
