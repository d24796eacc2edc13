#!/usr/bin/env bash
# Fetches the dashboard's third-party browser code into controller/web/static/vendor/ (not
# committed: see .gitignore). Today that is htmx only, taken from its npm package with
# `npm pack` (the package tarball, no install scripts run) and checked against a pinned SHA-256.
# Idempotent and quiet when the files are already there; without npm or a network it prints one
# warning and succeeds, because every page works without htmx (forms are plain POST + redirect).
set -euo pipefail
cd "$(dirname "$0")/.."

HTMX_VERSION=2.0.11
# sha256sum of package/dist/htmx.min.js in htmx.org-2.0.11.tgz; change both lines together.
HTMX_SHA256=d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717

vendor=controller/web/static/vendor
target="$vendor/htmx.min.js"
licence="$vendor/htmx.LICENSE"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$target" ] && [ -f "$licence" ] && [ "$(sha256_of "$target")" = "$HTMX_SHA256" ]; then
  exit 0
fi

warn() { echo "vendor_assets: $1; the dashboard works without htmx (no partial updates)" >&2; }

if ! command -v npm >/dev/null; then
  warn "npm is not installed, htmx $HTMX_VERSION not fetched"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && npm pack --loglevel=error "htmx.org@$HTMX_VERSION" >npm.log 2>&1); then
  why=$(grep -m1 -i error "$tmp/npm.log" || tail -n 1 "$tmp/npm.log")
  warn "npm pack htmx.org@$HTMX_VERSION failed (offline?): $why"
  exit 0
fi
tar -xzf "$tmp/htmx.org-$HTMX_VERSION.tgz" -C "$tmp" package/dist/htmx.min.js package/LICENSE
got=$(sha256_of "$tmp/package/dist/htmx.min.js")
if [ "$got" != "$HTMX_SHA256" ]; then
  # A changed file under a pinned version is a supply-chain alarm, not a warning.
  echo "vendor_assets: htmx.min.js of htmx.org@$HTMX_VERSION has SHA-256 $got," \
    "expected $HTMX_SHA256; refusing to install it" >&2
  exit 1
fi
mkdir -p "$vendor"
install -m 0644 "$tmp/package/dist/htmx.min.js" "$target"
install -m 0644 "$tmp/package/LICENSE" "$licence"
echo "vendor_assets: htmx $HTMX_VERSION installed in $vendor/"
