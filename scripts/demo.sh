#!/usr/bin/env bash
# `make demo`: a controller on SQLite and this PC's agent enrolled into it, all on loopback.
#
#   1. `govguard init` a data directory in .demo/controller (CA, TLS certificate, database, admin
#      account with a generated password written to .demo/admin-password);
#   2. `govguard serve` on https://localhost:8443;
#   3. an enrollment token, and `govguard-agent enroll` of this PC (state in .demo/agent);
#   4. the example district's organisation file (inventory/example-district.yaml: units, staff,
#      expected computers, classified ones, switches and printers) imported;
#   5. one collection and delivery round, then the agent keeps running every 5 minutes;
#   6. prints what the controller stored and the findings the policies raised on this PC, and the
#      dashboard's address and login.
#      Ctrl-C stops both.
#
# Run it again to reuse the same controller and agent; `make clean-demo` starts from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
DEMO=.demo
DATA=$DEMO/controller
AGENT=$DEMO/agent
PORT=${GOVGUARD_DEMO_PORT:-8443}
URL=https://localhost:$PORT
export GOVGUARD_DATA_DIR=$DATA

mkdir -p "$DEMO"
if [ ! -f "$DATA/config.yaml" ]; then
  umask 077
  "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(15))' >"$DEMO/admin-password"
  umask 022
  "$BIN/govguard" init --data-dir "$DATA" --server-name localhost --server-name 127.0.0.1 \
    --admin admin --password-file "$DEMO/admin-password" \
    --unit-id ubnd-huyen --unit-name "UBND huyện (demo)" >"$DEMO/init.log"
  "$BIN/python" - "$DATA/config.yaml" "$PORT" <<'PY'
import sys, yaml
path, port = sys.argv[1], int(sys.argv[2])
config = yaml.safe_load(open(path, encoding="utf-8"))
config["listen"] = {"agents": {"host": "127.0.0.1", "port": port}, "admin": None}
open(path, "w", encoding="utf-8").write(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
PY
  echo "demo: controller initialised in $DATA (admin password in $DEMO/admin-password)"
fi

# Idempotent: a second run finds nothing to change.
"$BIN/govguard" inventory import inventory/example-district.yaml --data-dir "$DATA" \
  >"$DEMO/inventory.log" || { cat "$DEMO/inventory.log" >&2; exit 1; }
tail -n 1 "$DEMO/inventory.log"

"$BIN/govguard" serve --data-dir "$DATA" >"$DEMO/controller.log" 2>&1 &
server=$!
agent_pid=
cleanup() {
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null || true
  kill "$server" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

for _ in $(seq 1 100); do
  if "$BIN/python" -c "import socket,sys; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$server" 2>/dev/null; then
    echo "demo: the controller did not start; its log:" >&2
    tail -n 20 "$DEMO/controller.log" >&2
    exit 1
  fi
  sleep 0.2
done
echo "demo: controller listening on $URL (log: $DEMO/controller.log)"

if [ ! -f "$AGENT/identity.json" ]; then
  "$BIN/govguard" tokens create --unit ubnd-huyen --expires 1h --uses 1 --out "$DEMO/token"
  "$BIN/govguard-agent" enroll --controller "$URL" --token-file "$DEMO/token" --state-dir "$AGENT"
  rm -f "$DEMO/token"
fi

"$BIN/govguard-agent" run --state-dir "$AGENT" --config examples/agent-demo.yaml --once-cycle
echo
"$BIN/govguard-agent" status --state-dir "$AGENT"
echo
"$BIN/govguard" agents list
echo
agent_id=$("$BIN/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["agent_id"])' \
  "$AGENT/identity.json")
"$BIN/govguard" agents show "$agent_id" --limit 5
echo
echo "demo: findings of the policy packs (BMNN, ATTT, CQĐT, fleet) on this PC:"
"$BIN/govguard" findings list --agent "$agent_id"
echo
echo "demo: dashboard: $URL/  (user: admin, password: $(cat "$DEMO/admin-password"))"
echo "demo: the browser warns about the certificate: it is signed by the demo controller's own CA"
echo "      ($DATA/tls/ca.crt); import that file into the browser to trust it."
echo "demo: the agent keeps reporting every 5 minutes; Ctrl-C stops the controller and the agent."
"$BIN/govguard-agent" run --state-dir "$AGENT" --config examples/agent-demo.yaml \
  >"$DEMO/agent.log" 2>&1 &
agent_pid=$!
wait "$server"
