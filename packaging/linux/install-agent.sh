#!/usr/bin/env bash
# Installs (or removes) the govguard agent on a Linux PC: docs/install-agents.md.
#
#   sudo ./install-agent.sh --wheel govguard-VERSION-py3-none-any.whl \
#       --controller https://govguard.ubnd.local:8443 --token-file token.txt
#   sudo ./install-agent.sh --uninstall [--purge]
#
# What it does, each step only when needed (running it again changes nothing that is right):
#   1. a virtual environment in PREFIX (default /opt/govguard) with the agent installed from the
#      wheel (or a source folder) given, plus its dependencies (--pip-args for a wheelhouse);
#   2. /etc/govguard/agent.yaml (0600, root): kept when it exists, else --config FILE, else an
#      empty config (every option at its default; docs/agent.md, "The config file");
#   3. /var/lib/govguard-agent, 0700 root: the agent's key, the CA it pins, the outbox;
#   4. enrollment with --controller and --token-file, unless this computer is enrolled already;
#   5. the systemd unit shipped in the wheel (agent/data/govguard-agent.service), enabled, and
#      started (restarted when the agent or the unit changed) once the computer is enrolled.
# --offline is for classified computers (docs/bundles.md): no enrollment over the network and no
# service at all (an existing unit is removed); the officer enrolls and exports by USB.
# --root DIR does all of it under DIR and touches no running system (tests, image builds):
# systemd is only told through `systemctl --root`, nothing is started.
# Exit status: 0 done, 1 a step failed, 2 wrong arguments. Messages are one line each.
set -euo pipefail

PROG=install-agent
PREFIX=/opt/govguard
ROOT=
WHEEL=
SOURCE=
CONTROLLER=
TOKEN_FILE=
CONFIG=
PYTHON=python3
PIP_ARGS=
NO_START=0
OFFLINE=0
UNINSTALL=0
PURGE=0

usage() {
  cat <<'EOF'
usage: install-agent.sh (--wheel FILE | --source DIR) [options]
       install-agent.sh --uninstall [--purge] [--prefix DIR] [--root DIR]

  --wheel FILE         the govguard wheel (govguard-VERSION-py3-none-any.whl)
  --source DIR         or a govguard source folder (pip installs it)
  --controller URL     enroll with this controller (https://host:port); needs --token-file
  --token-file FILE    the one-time enrollment token (`govguard tokens create --out FILE`)
  --config FILE        install this agent config as /etc/govguard/agent.yaml (validated first)
  --prefix DIR         the virtual environment (default /opt/govguard)
  --root DIR           install under DIR instead of /; starts nothing (tests, images)
  --python PYTHON      the Python 3.11+ that creates the environment (default python3)
  --pip-args "ARGS"    extra pip arguments, e.g. "--no-index --find-links /media/usb/wheels"
  --no-start           enable the service but do not start it
  --offline            classified computer: no network enrollment, no service (docs/bundles.md)
  --uninstall          stop and remove the service and the environment
  --purge              with --uninstall: also delete the config and the state (key, outbox)
  -h, --help           this text
EOF
}

die_usage() {
  echo "$PROG: error: $*" >&2
  echo "$PROG: see --help" >&2
  exit 2
}
fail() {
  echo "$PROG: error: $*" >&2
  exit 1
}
say() { echo "$PROG: $*"; }

need_value() {
  [ $# -ge 2 ] && [ -n "$2" ] || die_usage "$1 needs a value"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --wheel) need_value "$@"; WHEEL=$2; shift 2 ;;
    --source) need_value "$@"; SOURCE=$2; shift 2 ;;
    --controller) need_value "$@"; CONTROLLER=$2; shift 2 ;;
    --token-file) need_value "$@"; TOKEN_FILE=$2; shift 2 ;;
    --config) need_value "$@"; CONFIG=$2; shift 2 ;;
    --prefix) need_value "$@"; PREFIX=$2; shift 2 ;;
    --root) need_value "$@"; ROOT=$2; shift 2 ;;
    --python) need_value "$@"; PYTHON=$2; shift 2 ;;
    --pip-args) need_value "$@"; PIP_ARGS=$2; shift 2 ;;
    --no-start) NO_START=1; shift ;;
    --offline) OFFLINE=1; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    --purge) PURGE=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die_usage "unknown option: $1" ;;
  esac
done

# -- checks: every argument problem is reported before anything is changed ---------------------
case "$PREFIX" in /*) ;; *) die_usage "--prefix must be an absolute path: $PREFIX" ;; esac
if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || die_usage "--root: no such folder: $ROOT"
  ROOT=$(cd "$ROOT" && pwd)
elif [ "$(id -u)" != 0 ]; then
  fail "run as root (sudo): the agent is installed in $PREFIX, /etc/govguard and /var/lib"
fi
if [ "$PURGE" = 1 ] && [ "$UNINSTALL" = 0 ]; then
  die_usage "--purge goes with --uninstall"
fi

VENV=$ROOT$PREFIX
ETC=$ROOT/etc/govguard
STATE=$ROOT/var/lib/govguard-agent
UNIT_DIR=$ROOT/etc/systemd/system
UNIT=$UNIT_DIR/govguard-agent.service

systemd_live() { [ -z "$ROOT" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }
systemctl_() {
  if [ -n "$ROOT" ]; then systemctl --root="$ROOT" "$@"; else systemctl "$@"; fi
}

# remove_unit: stop, disable and delete the unit; true when there was one.
remove_unit() {
  [ -f "$UNIT" ] || return 1
  if systemd_live; then
    systemctl disable --now govguard-agent.service >/dev/null 2>&1 || true
  elif command -v systemctl >/dev/null; then
    systemctl_ disable govguard-agent.service >/dev/null 2>&1 || true
  fi
  rm -f "$UNIT"
  if systemd_live; then systemctl daemon-reload; fi
}

if [ "$UNINSTALL" = 1 ]; then
  if remove_unit; then say "removed $UNIT"; fi
  if [ -d "$VENV" ]; then rm -rf "$VENV"; say "removed $VENV"; fi
  if [ "$PURGE" = 1 ]; then
    rm -rf "$STATE" "$ETC/agent.yaml"
    rmdir "$ETC" 2>/dev/null || true
    say "removed $STATE and $ETC/agent.yaml (the controller still lists this computer: revoke it there)"
  else
    say "kept $STATE (key, outbox) and $ETC/agent.yaml; --purge deletes them"
  fi
  exit 0
fi

[ -n "$WHEEL" ] || [ -n "$SOURCE" ] || die_usage "give the agent to install: --wheel FILE or --source DIR"
[ -z "$WHEEL" ] || [ -z "$SOURCE" ] || die_usage "--wheel and --source exclude each other"
if [ -n "$WHEEL" ]; then
  case "$WHEEL" in *.whl) ;; *) die_usage "--wheel takes a .whl file: $WHEEL" ;; esac
  [ -f "$WHEEL" ] || die_usage "--wheel: no such file: $WHEEL"
  PACKAGE=$(cd "$(dirname "$WHEEL")" && pwd)/$(basename "$WHEEL")
else
  [ -f "$SOURCE/pyproject.toml" ] || die_usage "--source: not a govguard source folder: $SOURCE"
  PACKAGE=$(cd "$SOURCE" && pwd)
fi
if [ "$OFFLINE" = 1 ] && { [ -n "$CONTROLLER" ] || [ -n "$TOKEN_FILE" ]; }; then
  die_usage "--offline computers never contact a controller: leave out --controller and --token-file"
fi
if [ -n "$CONTROLLER" ] || [ -n "$TOKEN_FILE" ]; then
  [ -n "$CONTROLLER" ] || die_usage "--token-file goes with --controller URL"
  [ -n "$TOKEN_FILE" ] || die_usage "--controller needs --token-file FILE (the token is never an argument)"
  [[ "$CONTROLLER" =~ ^https://[^[:space:]/]+/?$ ]] || die_usage "--controller must look like https://host:port, not: $CONTROLLER"
  [ -r "$TOKEN_FILE" ] && [ -f "$TOKEN_FILE" ] || die_usage "--token-file: cannot read $TOKEN_FILE"
fi
if [ -n "$CONFIG" ]; then
  [ -r "$CONFIG" ] && [ -f "$CONFIG" ] || die_usage "--config: cannot read $CONFIG"
fi
command -v "$PYTHON" >/dev/null || die_usage "--python: not found: $PYTHON"

# -- 1. the virtual environment and the agent ---------------------------------------------------
AGENT=$VENV/bin/govguard-agent
before=$("$AGENT" --version 2>/dev/null || true)
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    fail "$PYTHON is older than Python 3.11; give another with --python"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV" || fail "cannot create the virtual environment $VENV"
  say "created $VENV"
fi
# shellcheck disable=SC2086 # PIP_ARGS is a list of words on purpose
if ! pip_log=$("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    $PIP_ARGS "$PACKAGE" 2>&1); then
  echo "$pip_log" | tail -n 5 >&2
  fail "installing $PACKAGE into $VENV failed"
fi
after=$("$AGENT" --version 2>/dev/null) || fail "$AGENT does not run after the install"
if [ "$before" = "$after" ]; then say "$after already installed in $VENV"; else say "installed $after in $VENV"; fi

# install_file SRC DEST MODE: copy when the content or the mode differs; true when it changed.
install_file() {
  if [ -f "$2" ] && cmp -s "$1" "$2" && [ "$(stat -c %a "$2")" = "$3" ]; then
    return 1
  fi
  install -m "$3" "$1" "$2"
}

# -- 2. the config --------------------------------------------------------------------------------
install -d -m 0755 "$ETC"
config_changed=0
if [ -n "$CONFIG" ]; then
  "$AGENT" once --config "$CONFIG" --section identity --out /dev/null --lang en ||
    fail "--config: $CONFIG is not a valid agent config (the line above says why)"
  if install_file "$CONFIG" "$ETC/agent.yaml" 600; then
    config_changed=1
    say "wrote $ETC/agent.yaml"
  else
    say "$ETC/agent.yaml unchanged"
  fi
elif [ ! -f "$ETC/agent.yaml" ]; then
  (
    umask 077
    cat >"$ETC/agent.yaml" <<'EOF'
# govguard agent config (docs/agent.md, "The config file"). Empty: every option has its
# default, and the controller sends intervals and probe targets once the agent is enrolled.
{}
EOF
  )
  say "wrote $ETC/agent.yaml (defaults)"
else
  chmod 0600 "$ETC/agent.yaml"
  say "kept $ETC/agent.yaml"
fi

# -- 3. the state folder ---------------------------------------------------------------------------
install -d -m 0700 "$STATE"
chmod 0700 "$STATE"
[ -n "$ROOT" ] || chown root:root "$STATE" "$ETC/agent.yaml"

# -- 4. enrollment ---------------------------------------------------------------------------------
if [ -f "$STATE/identity.json" ]; then
  say "already enrolled ($STATE/identity.json); \`govguard-agent enroll --force\` enrolls again"
elif [ "$OFFLINE" = 1 ]; then
  say "offline computer: enroll with \`$PREFIX/bin/govguard-agent enroll --offline --out REQUEST\` (docs/bundles.md)"
elif [ -n "$CONTROLLER" ]; then
  "$AGENT" enroll --controller "$CONTROLLER" --token-file "$TOKEN_FILE" --state-dir "$STATE" \
    --lang en || fail "enrollment with $CONTROLLER failed (the line above says why)"
else
  say "not enrolled: run \`$PREFIX/bin/govguard-agent enroll --controller URL --token-file FILE\`, then \`systemctl start govguard-agent\`"
fi

# -- 5. the systemd unit ---------------------------------------------------------------------------
if [ "$OFFLINE" = 1 ]; then
  # `govguard-agent run` refuses an offline identity: a service would only fail and restart.
  if remove_unit; then
    say "removed $UNIT: an offline computer runs no service"
  else
    say "no service: an offline computer reports by \`govguard-agent export --to DIR\`"
  fi
  say "done"
  exit 0
fi
shipped=$("$VENV/bin/python" -c \
  'import agent.data, pathlib; print(pathlib.Path(agent.data.__file__).with_name("govguard-agent.service"))')
[ -f "$shipped" ] || fail "the installed agent has no systemd unit ($shipped)"
mkdir -p "$UNIT_DIR"
rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
# The shipped unit names /opt/govguard; point it at PREFIX (never at ROOT: paths as booted).
sed "s#/opt/govguard/#$PREFIX/#g" "$shipped" >"$rendered"
unit_changed=0
if install_file "$rendered" "$UNIT" 644; then unit_changed=1; say "wrote $UNIT"; else say "$UNIT unchanged"; fi

if command -v systemctl >/dev/null && { [ -n "$ROOT" ] || systemd_live; }; then
  systemd_live && [ "$unit_changed" = 1 ] && systemctl daemon-reload
  if systemctl_ is-enabled --quiet govguard-agent.service 2>/dev/null; then
    say "govguard-agent.service already enabled"
  else
    systemctl_ enable --quiet govguard-agent.service
    say "enabled govguard-agent.service"
  fi
  if systemd_live && [ "$NO_START" = 0 ] && [ -f "$STATE/identity.json" ]; then
    if ! systemctl is-active --quiet govguard-agent.service; then
      systemctl start govguard-agent.service
      say "started govguard-agent.service"
    elif [ "$unit_changed" = 1 ] || [ "$config_changed" = 1 ] || [ "$before" != "$after" ]; then
      # The agent reads its config and code at start only.
      systemctl restart govguard-agent.service
      say "restarted govguard-agent.service (new agent, unit or config)"
    else
      say "govguard-agent.service running"
    fi
  fi
else
  say "systemd is not running here: start \`$PREFIX/bin/govguard-agent run --config /etc/govguard/agent.yaml\` as root by other means"
fi
say "done"
