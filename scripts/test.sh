#!/usr/bin/env bash
# Runs every test: unit tests, the CLI contract, the real oidc-provider suite, gnome-keyring under
# dbus-run-session, and the fault matrix against the in-process fake server.
# Needs node + `npm ci --prefix tests/oidc`, and gnome-keyring, dbus, libsecret-tools (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d tests/oidc/node_modules/oidc-provider ] || npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error
cargo test --locked --all-targets "$@"
