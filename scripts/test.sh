#!/usr/bin/env bash
# Runs every test: unit tests, the CLI contract, the real oidc-provider suite, gnome-keyring under
# dbus-run-session, the fault matrix against the in-process fake server, the security proofs and
# a bounded fuzzing run. Needs node + `npm ci --prefix tests/oidc`, and gnome-keyring, dbus,
# libsecret-tools (see .ci/run). Runs as root in CI: the disk-full tests mount a 1 MiB tmpfs and the
# read-only-home tests drop to uid 65534.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d tests/oidc/node_modules/oidc-provider ] || npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error
# The crash and race tests need tokcli built with its test-only pause/fault points; build it first
# so it does not compete with timing-sensitive tests (the suite reuses it via TOKCLI_HOOKS_BIN).
cargo build --locked --quiet --bin tokcli --features test-hooks --target-dir target/hooks
export TOKCLI_HOOKS_BIN="$PWD/target/hooks/debug/tokcli"
cargo test --locked --all-targets "$@"
