#!/usr/bin/env bash
# Create .venv/ and install the tested stack plus masktrack_d2 (editable).
#
#   bash scripts/setup.sh
#
# Overrides (environment):
#   TORCH_SPEC        pip spec of torch + torchvision (default: the tested pair)
#   PYTHON            interpreter used to create the venv (default: python3)
#   VENV              venv location (default: .venv in the repo root)
# A detectron2 that is already importable in the venv is kept; otherwise the PyPI
# redistribution pb1-detectron2==0.6 is built from its sdist (see ../shared/design/install.md):
# its sdist lacks detectron2/layers/csrc/, so we give it a placeholder extension that only
# answers detectron2's environment report. Mask R-CNN needs none of the missing C++ ops.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
VENV=${VENV:-$ROOT/.venv}
TORCH_SPEC=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}
D2_SDIST=pb1-detectron2==0.6

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP="$PY -m pip"

if ! "$PY" -c "import torch, torchvision" 2>/dev/null; then
  echo "[setup] installing $TORCH_SPEC"
  $PIP install -q $TORCH_SPEC
fi
# setuptools<81: detectron2 v0.6 imports pkg_resources; pillow<10: v0.6 uses Image.LINEAR.
$PIP install -q "setuptools<81" wheel "pillow<10" fvcore pycocotools numpy opencv-python-headless \
  pytest tqdm matplotlib tensorboard orjson hypothesis

if "$PY" -c "import detectron2" 2>/dev/null; then
  echo "[setup] keeping the installed detectron2 ($("$PY" -c 'import detectron2; print(detectron2.__file__)'))"
else
  BUILD="$ROOT/output/build"
  rm -rf "$BUILD" && mkdir -p "$BUILD"
  echo "[setup] building detectron2 from $D2_SDIST"
  $PIP download -q --no-deps --no-binary :all: --no-build-isolation -d "$BUILD" "$D2_SDIST"
  tar -xzf "$BUILD"/pb1*detectron2-0.6.tar.gz -C "$BUILD"
  SRC=$(find "$BUILD" -maxdepth 1 -mindepth 1 -type d | head -n 1)
  mkdir -p "$SRC/detectron2/layers/csrc"
  cp "$ROOT/scripts/d2_placeholder_vision.cpp" "$SRC/detectron2/layers/csrc/vision.cpp"
  $PIP install -q --no-build-isolation "$SRC"
fi

$PIP install -q --no-build-isolation --no-deps -e "$ROOT"
"$PY" -c "import detectron2, torch, masktrack_d2; print('[setup] ok: torch', torch.__version__, 'detectron2', detectron2.__version__)"
