#!/usr/bin/env bash
# The test command: set up (idempotent), lint, then every test against the real services.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check .
exec .venv/bin/pytest -q "$@"
