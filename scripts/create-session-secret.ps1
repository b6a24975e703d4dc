# azd preprovision hook (Windows, PowerShell 7): gives this azd environment its own
# GATEWAY_SESSION_SECRET, 32 random bytes in base64, created once and then kept.
# Same behaviour as create-session-secret.sh; the value is never printed.
$ErrorActionPreference = 'Stop'

# The environment azd runs the hook for (azd exports AZURE_ENV_NAME), not merely the default one.
$envArgs = if ($env:AZURE_ENV_NAME) { @('-e', $env:AZURE_ENV_NAME) } else { @() }

# azd exports the environment's values to hooks; ask azd as well in case it did not.
$current = $env:GATEWAY_SESSION_SECRET
if (-not $current) {
    $current = (azd env get-value GATEWAY_SESSION_SECRET @envArgs 2>$null) | Out-String
    if ($LASTEXITCODE -ne 0 -or $current.Trim().Contains(' ')) { $current = '' }
    $current = $current.Trim()
}

if ($current) {
    Write-Host 'GATEWAY_SESSION_SECRET is already set for this azd environment; keeping it.'
    exit 0
}

$bytes = [byte[]]::new(32)
[System.Security.Cryptography.RandomNumberGenerator]::Fill($bytes)
$secret = [Convert]::ToBase64String($bytes)

azd env set GATEWAY_SESSION_SECRET $secret @envArgs | Out-Null
if ($LASTEXITCODE -ne 0) { throw 'azd env set GATEWAY_SESSION_SECRET failed' }
Write-Host 'Created GATEWAY_SESSION_SECRET for this azd environment (32 random bytes, base64).'
