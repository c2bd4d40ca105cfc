# Shared set-up for scripts/demo and scripts/test: a virtual environment in the
# checkout, the package with its extras, and the few system packages from apt.
# Safe to run again: each step is skipped when its result is already there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
cd "$ROOT"

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root for: $*" >&2; return 1; fi
}

APT_UPDATED=0
apt_install() {
  # apt_install PACKAGE... : install only the packages that are not installed yet.
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || { echo "please install: ${missing[*]}" >&2; return 1; }
  if [ "$APT_UPDATED" = 0 ]; then log "apt-get update"; as_root apt-get update -qq; APT_UPDATED=1; fi
  log "apt-get install ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_venv() {
  local extras="$1"
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtual environment in .venv"
    python3 -m venv "$VENV" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$VENV"; }
  fi
  local stamp="$VENV/.installed-$extras"
  local digest
  digest="$(sha256sum pyproject.toml | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    log "installing callcenter[$extras] into .venv"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e ".[$extras]"
    echo "$digest" > "$stamp"
  fi
}

ensure_postgres() {
  # The tests need PostgreSQL on 127.0.0.1:5432 with trust auth for local connections.
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return 0; fi
  apt_install postgresql postgresql-client
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    log "starting PostgreSQL"
    local version
    version="$(ls /etc/postgresql | sort -V | tail -1)"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
}

#: The browser softphone's SIP user agent (JsSIP). 3.12.0 is the last release whose npm
#: package ships a browser bundle (dist/jssip.min.js); the daemon serves that file from
#: here (softphone.jssip_file), nothing is copied into the repository.
JSSIP_VERSION="3.12.0"
NPM_DIR="$ROOT/.npm"

ensure_npm_packages() {
  local bundle="$NPM_DIR/node_modules/jssip/dist/jssip.min.js"
  local installed=""
  [ -f "$NPM_DIR/node_modules/jssip/package.json" ] && \
    installed="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$NPM_DIR/node_modules/jssip/package.json" | head -1)"
  if [ -f "$bundle" ] && [ "$installed" = "$JSSIP_VERSION" ]; then return 0; fi
  command -v npm >/dev/null || apt_install npm
  log "npm install jssip@$JSSIP_VERSION into .npm/"
  mkdir -p "$NPM_DIR"
  npm install --silent --no-audit --no-fund --prefix "$NPM_DIR" "jssip@$JSSIP_VERSION" >/dev/null
}
