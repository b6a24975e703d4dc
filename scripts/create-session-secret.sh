#!/bin/sh
# azd preprovision hook (POSIX): gives this azd environment its own GATEWAY_SESSION_SECRET,
# 32 random bytes in base64, created once and then kept, so `azd provision` never rotates it by
# accident (that would invalidate every session id in flight). Rotate on purpose with
#   azd env set GATEWAY_SESSION_SECRET_PREVIOUS "$(azd env get-value GATEWAY_SESSION_SECRET)"
#   azd env set GATEWAY_SESSION_SECRET ""   # then `azd provision` creates a new one
# The value is never printed.
set -eu

# The environment azd runs the hook for (azd exports AZURE_ENV_NAME), not merely the default one.
azd_env() {
  if [ -n "${AZURE_ENV_NAME:-}" ]; then azd env "$@" -e "$AZURE_ENV_NAME"; else azd env "$@"; fi
}

# azd exports the environment's values to hooks; ask azd as well in case it did not.
current="${GATEWAY_SESSION_SECRET:-}"
if [ -z "$current" ]; then
  current="$(azd_env get-value GATEWAY_SESSION_SECRET 2>/dev/null || true)"
  # Some azd versions print an error text instead of failing: a key of ours has no spaces.
  case "$current" in *" "*) current="" ;; esac
fi

if [ -n "$current" ]; then
  echo "GATEWAY_SESSION_SECRET is already set for this azd environment; keeping it."
  exit 0
fi

if command -v openssl >/dev/null 2>&1; then
  secret="$(openssl rand -base64 32 | tr -d '\n')"
else
  secret="$(node -e "process.stdout.write(require('node:crypto').randomBytes(32).toString('base64'))")"
fi

azd_env set GATEWAY_SESSION_SECRET "$secret" >/dev/null
echo "Created GATEWAY_SESSION_SECRET for this azd environment (32 random bytes, base64)."
