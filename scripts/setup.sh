#!/usr/bin/env bash
# Sets up everything govguard needs on a fresh Debian/Ubuntu machine: system packages (when run
# as root), a virtual environment in .venv and the project installed into it in editable mode.
# Safe to run again; it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
want_apt=("$@")

if [ "${#want_apt[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for pkg in "${want_apt[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.govguard-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing govguard and its development tools into .venv (log: .venv/setup.log)"
  # compat mode puts the source folder on sys.path through a .pth file; the default editable
  # mode installs an import hook that costs ~17 ms at every agent start (see bench/).
  if ! { .venv/bin/python -m pip install --upgrade pip &&
         .venv/bin/python -m pip install -e '.[dev]' --config-settings editable_mode=compat
       } >.venv/setup.log 2>&1; then
    tail -n 30 .venv/setup.log >&2
    echo "setup: installing the Python packages failed; the full log is .venv/setup.log" >&2
    exit 1
  fi
  touch "$stamp"
fi

# The dashboard's browser code (htmx), not committed; a warning only when it cannot be fetched.
scripts/vendor_assets.sh
