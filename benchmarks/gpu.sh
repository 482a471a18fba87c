#!/usr/bin/env bash
# The GPU rows of `make bench` and the CUDA tests, on a machine with an NVIDIA GPU: under 8 minutes.
#
#   bash benchmarks/gpu.sh      # writes benchmarks/report-gpu.md / .csv and benchmarks/gpu-tests.log
#
# It uses the first Python whose torch sees CUDA: $PYTHON, .venv-gpu/bin/python, .venv/bin/python, python3. The
# project's .venv has the CPU build of torch (requirements.txt pins it), so on a GPU machine without such a Python
# the script makes .venv-gpu (pip, from the package registries) with the CUDA build of the same torch version.
# Then it installs, only when missing, the few packages the GPU rows and tests import: they use latent_core's math
# (relative projection, translators, metrics), not the models or the app.
set -euo pipefail
cd "$(dirname "$0")/.."

has_cuda() { "$1" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; }

PY=""
for candidate in "${PYTHON:-}" .venv-gpu/bin/python .venv/bin/python python3; do
  if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 && has_cuda "$candidate"; then
    PY=$candidate
    break
  fi
done
if [ -z "$PY" ]; then
  if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "gpu.sh: no NVIDIA GPU here (no nvidia-smi, no Python whose torch sees CUDA)." \
         "make bench marks the GPU rows 'not measured'." >&2
    exit 2
  fi
  echo "gpu.sh: making .venv-gpu with the CUDA build of torch (needs the package registries)" >&2
  TORCH=$(sed -n 's/^torch==//p' requirements.txt)
  python3 -m venv .venv-gpu
  .venv-gpu/bin/pip install -q "torch==${TORCH}" --index-url https://download.pytorch.org/whl/cu128
  PY=.venv-gpu/bin/python
  has_cuda "$PY" || { echo "gpu.sh: the CUDA torch in .venv-gpu does not see the GPU (driver too old?)" >&2; exit 1; }
fi

missing=$("$PY" - <<'PY'
import importlib.util
need = {"numpy": "numpy", "scipy": "scipy", "sklearn": "scikit-learn", "pandas": "pandas", "pytest": "pytest",
        "threadpoolctl": "threadpoolctl"}
print(" ".join(pkg for module, pkg in need.items() if importlib.util.find_spec(module) is None))
PY
)
if [ -n "$missing" ]; then
  pins=()
  for pkg in $missing; do pins+=("$(grep -E "^${pkg}(==|$)" requirements.txt || echo "$pkg")"); done
  echo "gpu.sh: installing ${pins[*]}" >&2
  "$PY" -m pip install -q "${pins[@]}"
fi

"$PY" -c 'import torch; print("gpu.sh: torch", torch.__version__, "on", torch.cuda.get_device_name(0))'
export LATENT_DEVICE=cuda PYTHONUNBUFFERED=1
status=0
timeout 300 "$PY" benchmarks/suite.py --only gpu --out benchmarks/report-gpu || status=$?
timeout 180 "$PY" -m pytest -q -m gpu -p no:cacheprovider tests/core/test_cuda.py tests/core/test_device.py \
  2>&1 | tee benchmarks/gpu-tests.log || status=$?
exit "$status"
