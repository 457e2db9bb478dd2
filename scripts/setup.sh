#!/usr/bin/env bash
# Set up a fresh machine: services, Docker and the sandbox image, the factory's environment,
# Chromium and docker-compose, CPU vLLM, the tiny demo model. Every step is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh
scripts/docker.sh
# Debian's Chromium for the annotation app's browser test (Playwright drives it, no download),
# and Debian's docker-compose to validate compose.yaml.
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v docker-compose >/dev/null || need+=(docker-compose)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
scripts/install_factory.sh .venv test,instag,deploy
scripts/install_vllm.sh
.venv/bin/factory model build
