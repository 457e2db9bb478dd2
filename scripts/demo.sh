#!/usr/bin/env bash
# The main job on a fresh machine: set up, then math rejection sampling end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/factory demo "$@"
