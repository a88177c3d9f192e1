#!/usr/bin/env bash
# Brings up a whole local tier on loopback for a newcomer: Redis, two Dovecot stores with
# sample users and mail, and one Gatehouse node; prints how to connect. Ctrl-C stops it.
# Installs what a fresh Debian machine lacks first (Node 24, pnpm, Dovecot, Redis).
set -euo pipefail
source "$(dirname "$0")/../scripts/ensure-tools.sh"
gh_ensure_all
exec node "$GH_ROOT/deploy/local-tier.ts" "$@"
