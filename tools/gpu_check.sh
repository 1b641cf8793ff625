#!/usr/bin/env bash
# The GPU check: CUDA tests, R-50 training from a calibrated start in float32 and each mixed
# precision (checked: loss ranges at iteration 0, a falling loss, AMP against float32 on the
# first batch), the largest batch that fits, video inference, the demo; one summary at the
# end, exit status 0 only if every check passed (tools/gpu_check.py says what each checks).
#
#   bash tools/gpu_check.sh                       # needs a CUDA GPU
#   bash tools/gpu_check.sh --device cpu --dry    # tests this script's logic on a CPU
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python
if [[ " $* " != *" --device cpu "* ]] && ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpu_check: FAILED: no NVIDIA driver (nvidia-smi not found); this check needs a CUDA GPU." >&2
  exit 1
fi
exec "$PY" tools/gpu_check.py "$@"
