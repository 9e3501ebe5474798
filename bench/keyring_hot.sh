#!/usr/bin/env bash
# Part of bench/run.sh, run under dbus-run-session: the hot path with the default keyring key
# source against a real gnome-keyring, beside a bare Secret Service lookup.
set -euo pipefail
export HOME="$KR_WORK/krhome" XDG_DATA_HOME="$KR_WORK/krhome/data" XDG_RUNTIME_DIR="$KR_WORK/krhome/run"
mkdir -p "$XDG_RUNTIME_DIR"; chmod 700 "$HOME" "$XDG_RUNTIME_DIR"
printf %s pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
unset TOKCLI_KEY_SOURCE TOKCLI_STORE_KEY
export TOKCLI_HOME="$KR_WORK/kr"
"$KR_T" -q login "$KR_ISS" --client-id tokcli-public --profile kr
user=$(secret-tool search --all service tokcli 2>&1 | sed -n 's/^attribute.username = //p' | head -1)
# tokcli is interleaved with the sqlite3 read; secret-tool is timed on its own, after: each lookup
# leaves gnome-keyring-daemon busy for a while, which would land on whatever runs next.
read -r kr_ms ksql_ms < <("$KR_SPAWN" "$KR_RUNS" "$KR_T" token kr ';' \
  sqlite3 "$TOKCLI_HOME/tokcli.db" "SELECT expires_at FROM profiles WHERE name='kr'" \
  | awk '{printf "%.3f ", $1/1000} END {print ""}')
ss_ms=$("$KR_SPAWN" 50 secret-tool lookup service tokcli username "$user" | awk '{printf "%.3f", $1/1000}')
echo "   tokcli token, keyring key, installed copy: ${kr_ms} ms = $(python3 -c "print(f'{$kr_ms/$ksql_ms:.2f}')")x the sqlite3 read interleaved with it (${ksql_ms} ms); a bare Secret Service lookup (secret-tool) ${ss_ms} ms (target: tokcli <= 2 ms)"
