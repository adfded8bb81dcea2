#!/usr/bin/env bash
# Rolls Parley out to a version on this VM, checks readiness through the proxy, and rolls back
# to the version that ran before when the check fails.
#
#   deploy/deploy.sh <version>          e.g. v1.4.2 (an image tag of parley-api and parley-worker)
#
# Run from anywhere; it works in PARLEY_DIR (default: the directory above this script), which
# holds docker-compose.yml, deploy/ and .env. The CD workflow copies the first two there and
# runs this script over SSH.
#
# Environment (all optional):
#   GHCR_USER, GHCR_TOKEN     log in to ghcr.io first (the token is passed on stdin to docker login)
#   HEALTH_URL                default https://$PARLEY_DOMAIN/health/readiness (PARLEY_DOMAIN from .env)
#   HEALTH_RETRIES            readiness probes before giving up (default 30)
#   HEALTH_INTERVAL           seconds between probes (default 5)
#
# State, in PARLEY_DIR/.deploy/: current-version (what runs now), previous-version (what ran
# before it) and history.log (one line per deploy or rollback). The version that passed the
# check is also written to PARLEY_VERSION in .env, so a manual `docker compose up -d` keeps it.
#
# Exit status: 0 deployed and ready; 1 the new version failed (rolled back when a previous
# version is known); 2 bad usage.
set -euo pipefail

usage() {
  echo "usage: deploy/deploy.sh <version>   (an image tag such as v1.4.2)" >&2
  exit 2
}

[ $# -eq 1 ] || usage
version="$1"
# An image tag: letters, digits, '_', '.', '-' (at most 128 characters, not starting with '.' or '-').
if ! [[ "$version" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
  echo "deploy: '$version' is not an image tag" >&2
  usage
fi

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${PARLEY_DIR:-$(dirname "$script_dir")}"
cd "$dir"
[ -f docker-compose.yml ] || { echo "deploy: no docker-compose.yml in $dir" >&2; exit 2; }
[ -f .env ] || { echo "deploy: no .env in $dir (copy .env.example and fill it in)" >&2; exit 2; }

state="$dir/.deploy"
mkdir -p "$state"
previous="$(cat "$state/current-version" 2>/dev/null || true)"

log() { echo "deploy: $*"; }
record() { printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >>"$state/history.log"; }

# The last PARLEY_DOMAIN= line of .env, without quotes (the file is never sourced: it holds secrets
# and is not shell syntax).
env_value() {
  sed -n "s/^$1=//p" .env | tail -n 1 | sed -e "s/^[\"']//" -e "s/[\"']\$//"
}

domain="$(env_value PARLEY_DOMAIN)"
health_url="${HEALTH_URL:-}"
if [ -z "$health_url" ]; then
  [ -n "$domain" ] || { echo "deploy: PARLEY_DOMAIN is not set in .env (or set HEALTH_URL)" >&2; exit 2; }
  health_url="https://$domain/health/readiness"
fi
retries="${HEALTH_RETRIES:-30}"
interval="${HEALTH_INTERVAL:-5}"

compose() {
  PARLEY_VERSION="$1" docker compose "${@:2}"
}

# Readiness through Caddy: TLS, the proxy and the API's checks (Redis, SQLite, workers seen).
ready() {
  local i
  for ((i = 1; i <= retries; i++)); do
    if curl --fail --silent --show-error --max-time 10 --output /dev/null "$health_url"; then
      return 0
    fi
    log "not ready yet ($i/$retries)"
    [ "$i" -lt "$retries" ] && sleep "$interval"
  done
  return 1
}

# Writes PARLEY_VERSION=<version> into .env (replacing the line, or appending it), atomically.
pin_version() {
  local tmp
  tmp="$(mktemp "$dir/.env.XXXXXX")"
  chmod --reference=.env "$tmp" 2>/dev/null || chmod 600 "$tmp"
  grep -v '^PARLEY_VERSION=' .env >"$tmp" || true
  printf 'PARLEY_VERSION=%s\n' "$1" >>"$tmp"
  mv "$tmp" .env
}

rollout() {
  compose "$1" pull --quiet api worker migrate backup && compose "$1" up -d --remove-orphans
}

if [ -n "${GHCR_TOKEN:-}" ]; then
  log "logging in to ghcr.io"
  printf '%s' "$GHCR_TOKEN" | docker login ghcr.io --username "${GHCR_USER:-parley}" --password-stdin >/dev/null
fi

log "deploying $version (running now: ${previous:-nothing recorded})"
if rollout "$version" && ready; then
  [ -n "$previous" ] && [ "$previous" != "$version" ] && printf '%s\n' "$previous" >"$state/previous-version"
  printf '%s\n' "$version" >"$state/current-version"
  pin_version "$version"
  record "deployed $version"
  log "$version is ready at $health_url"
  exit 0
fi

log "$version failed its readiness check at $health_url"
record "failed $version"
if [ -z "$previous" ] || [ "$previous" = "$version" ]; then
  log "no previous version to roll back to; fix forward (deploy/deploy.sh <version>)"
  exit 1
fi

log "rolling back to $previous"
if rollout "$previous" && ready; then
  record "rolled back to $previous"
  log "rolled back: $previous is ready"
else
  record "rollback to $previous not ready"
  log "rollback to $previous is not ready either: look at docker compose ps and the logs"
fi
exit 1
