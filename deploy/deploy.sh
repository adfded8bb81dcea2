#!/usr/bin/env bash
# Rolls Parley out to a version on this VM, checks readiness through the proxy, and rolls back
# to what ran before (its images and its compose files) when the check fails.
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
# before it), history.log (one line per deploy or rollback), files/ (docker-compose.yml and the
# configuration under deploy/ as the current version was deployed with them, put back on a
# rollback) and caddyfile.sha256 (the Caddyfile Caddy was last started with: it is restarted
# when the file differs). The version that passed the check is also written to PARLEY_VERSION
# in .env, so a manual `docker compose up -d` keeps it.
#
# Exit status: 0 deployed and ready; 1 the new version failed (rolled back when a previous
# version is known); 2 bad usage.
set -euo pipefail
shopt -s nullglob

# Everything runs from main, read whole before it starts: a deploy that replaces this file
# (scp, or the rollback's restore) cannot change the commands bash has yet to read.
main() {
  [ $# -eq 1 ] || usage
  version="$1"
  # An image tag: letters, digits, '_', '.', '-' (at most 128 characters, not starting with '.' or '-').
  if ! [[ "$version" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
    echo "deploy: '$version' is not an image tag" >&2
    usage
  fi

  local script_dir
  script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  dir="${PARLEY_DIR:-$(dirname "$script_dir")}"
  cd "$dir"
  [ -f docker-compose.yml ] || { echo "deploy: no docker-compose.yml in $dir" >&2; exit 2; }
  [ -f .env ] || { echo "deploy: no .env in $dir (copy .env.example and fill it in)" >&2; exit 2; }

  state="$dir/.deploy"
  mkdir -p "$state"
  local previous
  previous="$(cat "$state/current-version" 2>/dev/null || true)"

  health_url="${HEALTH_URL:-}"
  if [ -z "$health_url" ]; then
    local domain
    domain="$(env_value PARLEY_DOMAIN)"
    [ -n "$domain" ] || { echo "deploy: PARLEY_DOMAIN is not set in .env (or set HEALTH_URL)" >&2; exit 2; }
    health_url="https://$domain/health/readiness"
  fi
  retries="${HEALTH_RETRIES:-30}"
  interval="${HEALTH_INTERVAL:-5}"

  if [ -n "${GHCR_TOKEN:-}" ]; then
    log "logging in to ghcr.io"
    printf '%s' "$GHCR_TOKEN" | docker login ghcr.io --username "${GHCR_USER:-parley}" --password-stdin >/dev/null
  fi

  log "deploying $version (running now: ${previous:-nothing recorded})"
  if rollout "$version" && ready; then
    if [ -n "$previous" ] && [ "$previous" != "$version" ]; then printf '%s\n' "$previous" >"$state/previous-version"; fi
    printf '%s\n' "$version" >"$state/current-version"
    keep_files
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
  restore_files
  if rollout "$previous" && ready; then
    record "rolled back to $previous"
    log "rolled back: $previous is ready"
  else
    record "rollback to $previous not ready"
    log "rollback to $previous is not ready either: look at docker compose ps and the logs"
  fi
  exit 1
}

usage() {
  echo "usage: deploy/deploy.sh <version>   (an image tag such as v1.4.2)" >&2
  exit 2
}

log() { echo "deploy: $*"; }
record() { printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >>"$state/history.log"; }

# The last NAME= line of .env, without quotes (the file is never sourced: it holds secrets and
# is not shell syntax).
env_value() {
  sed -n "s/^$1=//p" .env | tail -n 1 | sed -e "s/^[\"']//" -e "s/[\"']\$//"
}

compose() {
  PARLEY_VERSION="$1" docker compose "${@:2}"
}

caddyfile_sum() {
  sha256sum deploy/caddy/Caddyfile 2>/dev/null | cut -d ' ' -f 1
}

# Pulls the version's images and starts it; Caddy reads its file only at start, so it is
# restarted when the file differs from the one it was last started with.
rollout() {
  compose "$1" pull --quiet api worker migrate backup || return 1
  compose "$1" up -d --remove-orphans || return 1
  local sum
  sum="$(caddyfile_sum)"
  if [ "$sum" != "$(cat "$state/caddyfile.sha256" 2>/dev/null || true)" ]; then
    compose "$1" restart caddy || return 1
    printf '%s\n' "$sum" >"$state/caddyfile.sha256"
  fi
}

# Readiness through Caddy: TLS, the proxy and the API's checks (Redis, SQLite, workers seen).
ready() {
  local i
  for ((i = 1; i <= retries; i++)); do
    if curl --fail --silent --show-error --max-time 10 --output /dev/null "$health_url"; then
      return 0
    fi
    log "not ready yet ($i/$retries)"
    if [ "$i" -lt "$retries" ]; then sleep "$interval"; fi
  done
  return 1
}

# The compose file and deploy/'s configuration directories of the version that passed.
keep_files() {
  rm -rf "$state/files.new"
  mkdir -p "$state/files.new/deploy"
  cp -p docker-compose.yml "$state/files.new/"
  local d
  for d in deploy/*/; do cp -Rp "$d" "$state/files.new/deploy/"; done
  rm -rf "$state/files"
  mv "$state/files.new" "$state/files"
}

# Puts back what keep_files kept (this script itself stays as it is).
restore_files() {
  [ -d "$state/files" ] || return 0
  cp -p "$state/files/docker-compose.yml" docker-compose.yml
  local d
  for d in "$state/files/deploy/"*/; do
    rm -rf "deploy/$(basename "$d")"
    cp -Rp "$d" deploy/
  done
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

main "$@"
# main always exits; this line only guards against text appended to the file while it runs.
# shellcheck disable=SC2317
exit
