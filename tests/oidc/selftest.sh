#!/usr/bin/env bash
# Self-test for the tokcli OIDC test harness (server.mjs, fakebrowser, device-approve).
# Usage: bash tests/oidc/selftest.sh     (installs node_modules with `npm ci` if missing)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"

if [ ! -d node_modules/oidc-provider ]; then
  npm ci --no-audit --no-fund >&2
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tokcli-oidc-selftest.XXXXXX")"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# start_server NAME [server args...]  -> sets ISSUER_<NAME>
start_server() {
  local name="$1"; shift
  local out="$WORK/$name.out" err="$WORK/$name.err"
  : >"$out"
  node "$HERE/server.mjs" "$@" >"$out" 2>"$err" &
  PIDS+=("$!")
  local i line=""
  for i in $(seq 1 100); do
    line="$(head -n1 "$out" 2>/dev/null || true)"
    [ -n "$line" ] && [[ "$line" == *$'}' ]] && break
    if ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
      echo "server.mjs $* died:" >&2; cat "$err" >&2; exit 1
    fi
    sleep 0.1
  done
  if [ -z "$line" ]; then echo "server.mjs $* printed no ready line" >&2; cat "$err" >&2; exit 1; fi
  local issuer port
  issuer="$(node -e 'const o=JSON.parse(process.argv[1]); if (Object.keys(o).join()!=="issuer,port"||o.issuer!=="http://127.0.0.1:"+o.port) process.exit(1); console.log(o.issuer)' "$line")" \
    || { echo "bad ready line: $line" >&2; exit 1; }
  printf -v "ISSUER_$name" '%s' "$issuer"
  echo "server.mjs $* -> $line" >&2
}

start_server MAIN
start_server NO8414 --no-rfc8414

rc=0
node "$HERE/lib/selftest.mjs" "$ISSUER_MAIN" "$ISSUER_NO8414" || rc=$?

if [ "$rc" -ne 0 ]; then
  echo "--- server stderr (main) ---" >&2; cat "$WORK/MAIN.err" >&2
fi

exit "$rc"
