#!/usr/bin/env bash
# Set up a fresh machine: services, Docker and the sandbox image, the factory's environment,
# Chromium, CPU vLLM, the tiny demo model. Every step is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh
scripts/docker.sh
# Debian's Chromium, for the annotation app's browser test (Playwright drives it; no download)
command -v chromium >/dev/null || { apt-get update -qq &&
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
[ -x .venv/bin/python ] || ${PYTHON:-python3} -m venv .venv
# torch first, pinned: pip takes the CPU build on disk; unpinned, the embedding model of the
# instag extra would pull a CUDA build of several GB.
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e '.[test,instag]'
scripts/install_vllm.sh
.venv/bin/factory model build
