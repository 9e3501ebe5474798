#!/usr/bin/env bash
# tokcli quickstart: the whole job end to end with no account and no internet.
#
# Starts a real OAuth 2.0 / OpenID Connect server (panva's oidc-provider) on 127.0.0.1, then
# logs in (a scripted browser signs in and consents), prints a token, lists, refreshes and
# revokes — showing each command and its output. Everything lives in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then
  say() { printf '\n\033[1m$ %s\033[0m\n' "$*" >&2; }
else
  say() { printf '\n$ %s\n' "$*" >&2; }
fi

if [ ! -d tests/oidc/node_modules/oidc-provider ]; then
  echo "installing the local authorization server (npm ci)…" >&2
  npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error >&2
fi
cargo build --quiet --release 2>&1 >&2
TOKCLI="$PWD/target/release/tokcli"

work=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

node tests/oidc/server.mjs >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/server.out" ] && break; sleep 0.1; done
issuer=$(sed -n 's/.*"issuer":"\([^"]*\)".*/\1/p' "$work/server.out")
[ -n "$issuer" ] || { echo "the local authorization server did not start:" >&2; cat "$work/server.log" >&2; exit 1; }
echo "local authorization server: $issuer" >&2

# An isolated store whose key comes from the environment (a desktop would use the OS keyring).
export TOKCLI_HOME="$work/home"
export TOKCLI_KEY_SOURCE=env
TOKCLI_STORE_KEY=$(head -c 32 /dev/urandom | base64)
export TOKCLI_STORE_KEY
# The "browser" is a script that signs in as alice and approves the consent screen.
export BROWSER="$PWD/tests/oidc/fakebrowser"

say tokcli login "$issuer" --client-id tokcli-public --profile demo
"$TOKCLI" login "$issuer" --client-id tokcli-public --profile demo

say 'tokcli token demo          # stdout is the token alone'
token=$("$TOKCLI" token demo)
echo "$token"

say 'curl -H "Authorization: Bearer $(tokcli token demo)" '"$issuer/me"
curl -s -H "Authorization: Bearer $token" "$issuer/me"; echo

say tokcli list
"$TOKCLI" list

say 'tokcli refresh demo        # the provider rotates the refresh token; tokcli keeps the new one'
"$TOKCLI" refresh demo
"$TOKCLI" list

say tokcli revoke demo
"$TOKCLI" revoke demo

say 'tokcli token demo          # gone: exit 3 means "log in again"'
set +e
"$TOKCLI" token demo
echo "exit code: $?" >&2
set -e
echo >&2
echo "quickstart complete." >&2
