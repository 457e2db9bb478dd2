#!/usr/bin/env bash
# Set up a fresh machine: services, Docker and the sandbox image, the factory's environment,
# CPU vLLM, the tiny demo model. Every step is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh
scripts/docker.sh
[ -x .venv/bin/python ] || ${PYTHON:-python3} -m venv .venv
.venv/bin/python -m pip install -q -e '.[test]'
scripts/install_vllm.sh
.venv/bin/factory model build
