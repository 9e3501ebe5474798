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
hyperfine -N --warmup 10 --runs "$KR_RUNS" --export-json "$KR_WORK/kr.json" \
  "$KR_T token kr" "secret-tool lookup service tokcli username $user" >/dev/null 2>&1
read -r kr_ms ss_ms < <(python3 -c "import json; r=json.load(open('$KR_WORK/kr.json'))['results']; print(f\"{r[0]['median']*1000:.3f} {r[1]['median']*1000:.3f}\")")
echo "   tokcli token, keyring key:  ${kr_ms} ms   = $(python3 -c "print(f'{$kr_ms/$KR_SQL_MS:.2f}')")x sqlite3 read; a bare Secret Service lookup (secret-tool) ${ss_ms} ms"
