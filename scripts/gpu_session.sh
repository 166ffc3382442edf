#!/usr/bin/env bash
# The GPU run of issue 17 as one command, for a GPU machine that has Python, torch and torchvision but not the
# course's Jupyter and test packages (a lent device machine). Run it from the repository root; results go to $OUT.
#
#   prepare (here, with network):  make gpu-wheels            -> .gpu-wheels/ (Jupyter, nbclient, torchinfo, ...)
#   rehearse on any CPU:           DRY=1 OUT=/tmp/g bash scripts/gpu_session.sh notebooks/13_mobilenet_v3.ipynb
#   run (there):                   bash scripts/gpu_session.sh   (carry .gpu-wheels; every notebook by default)
#   read back (here):              python scripts/compare_outputs.py $OUT/executed
#                                  python benchmarks/run.py --only XX --gpu-json $OUT/gpu_runs.json
#                                  python scripts/run_experiments.py --report benchmarks/EXPERIMENTS.md \
#                                      benchmarks/claims_default.json benchmarks/claims_other.json $OUT/claims_gpu.json
#
# Every notebook runs in a fresh kernel with the GPU budgets, JOBS (default 4) at a time sharing the GPU; each
# one's time, peak host and GPU memory land in gpu_runs.json after it finishes, its claims in claims_gpu.json,
# the executed copy in executed/. DRY=1 adds the dry run's step cap and CUDA recipe, for a rehearsal on a CPU.
set -uo pipefail
OUT="${OUT:-$(mktemp -d)}"
JOBS="${JOBS:-4}"
LIMIT="${LIMIT:-540}"  # seconds for all notebooks together: the device allows 600 s per command
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
{
  date -u
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  fi
  "$PY" --version
  "$PY" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__,
            "cuda", torch.cuda.is_available())'
} > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"
if [ -f .gpu-wheels/requirements.txt ]; then
  "$PY" -m pip install -q --no-index --find-links .gpu-wheels -r .gpu-wheels/requirements.txt > "$OUT/pip.txt" 2>&1 \
    || { echo "gpu_session: pip could not install the carried wheels (see pip.txt):"; tail -5 "$OUT/pip.txt"; }
fi
# cnnedu from this checkout, for this process and every kernel it starts (no install: a bare venv has no setuptools)
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
missing=$("$PY" -c 'import importlib.util as u
print(" ".join(m for m in ("numpy", "matplotlib", "skimage", "PIL", "ipywidgets", "torchinfo", "tqdm", "nbclient",
                          "nbformat", "ipykernel") if u.find_spec(m) is None))')
if [ -n "$missing" ]; then
  echo "gpu_session: missing on this machine: $missing (carry their wheels in .gpu-wheels)" | tee -a "$OUT/machine.txt"
  exit 2
fi
# a "python3" kernel for nbclient, inside this Python's prefix, only where none is found
if ! "$PY" -c 'import sys; from jupyter_client.kernelspec import find_kernel_specs; sys.exit("python3" not in find_kernel_specs())' 2>/dev/null; then
  "$PY" -m ipykernel install --sys-prefix --name python3 > "$OUT/kernel.txt" 2>&1 || true
fi
if [ "${DRY:-0}" = 1 ]; then
  export CNNEDU_MAX_STEPS=5 CNNEDU_PRECISION=bf16 CNNEDU_CHANNELS_LAST=1
fi
if [ "$#" -eq 0 ]; then
  set -- notebooks/[0-9][0-9]_*.ipynb
fi
CNNEDU_FIGURES="$(mktemp -d)" timeout "$LIMIT" "$PY" scripts/run_experiments.py --budget gpu --jobs "$JOBS" \
  --timeout 300 --json "$OUT/claims_gpu.json" --runs-json "$OUT/gpu_runs.json" --save-to "$OUT/executed" "$@"
rc=$?
echo "gpu_session: exit $rc; results in $OUT"
exit $rc
