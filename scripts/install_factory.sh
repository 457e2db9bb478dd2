#!/usr/bin/env bash
# Install the factory into a virtual environment: scripts/setup.sh runs it for .venv, and the
# Dockerfile runs it for the image, so CI proves the image's install steps on every run.
#   scripts/install_factory.sh [VENV] [EXTRAS]     (defaults: .venv test,instag,deploy)
# torch comes first, pinned to its CPU build: the instag extra's embedding model needs it, and
# unpinned pip would take a CUDA build of several GB. On these machines the wheel lies on disk
# (pip's find-links); elsewhere give PIP_EXTRA_INDEX_URL=<PyTorch's CPU wheel index>.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}
extras=${2:-test,instag,deploy}
[ -x "$venv/bin/python" ] || ${PYTHON:-python3} -m venv "$venv"
case ",$extras," in
  *,instag,*) "$venv/bin/python" -m pip install -q "torch==2.13.0+cpu" ;;
esac
"$venv/bin/python" -m pip install -q -e ".[$extras]"
