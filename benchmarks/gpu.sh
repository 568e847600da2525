#!/usr/bin/env bash
# The speed benchmark on a CUDA GPU, in one command that needs no network: jaxgan (float32) against the PyTorch
# reference, eager and under torch.compile, on DCGAN 64x64x3 at batch 128 (dcgan_celeba64's nets, synthetic data)
# and PyTorch-GAN's WGAN-GP MLP (batch 64). Writes benchmarks/results/speed_gpu.json and prints the table; stops
# starting new measurements after BUDGET_S seconds (default 420) so that it ends within 8 minutes.
#
#   benchmarks/gpu.sh             # on the GPU machine
#   benchmarks/gpu.sh --dry-run   # the same code path on this machine's CPU, tiny nets, to check it runs
#
# The GPU machine's python3 has jax with the CUDA plugin, flax, optax, orbax-checkpoint, chex and torch with CUDA.
# What jaxgan needs beyond that travels as wheels, downloaded beforehand where there is a network:
#   pip download --no-deps -d wheels/ ml_collections tensorboardX
# They are installed into wheels/site (on PYTHONPATH; the system's packages are left alone).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
BUDGET_S=${BUDGET_S:-420}
dry_run=0
if [[ "${1:-}" == "--dry-run" ]]; then
  dry_run=1
elif [[ $# -gt 0 ]]; then
  echo "usage: benchmarks/gpu.sh [--dry-run]" >&2
  exit 2
fi

if ! "$PYTHON" -c "import ml_collections" 2>/dev/null; then
  if ! compgen -G "wheels/*.whl" >/dev/null; then
    echo "ml_collections is missing and wheels/ holds no wheels; where there is a network run:" \
         "pip download --no-deps -d wheels/ ml_collections tensorboardX" >&2
    exit 1
  fi
  "$PYTHON" -m pip install -q --no-index --no-deps --target wheels/site wheels/*.whl
  export PYTHONPATH="$PWD/wheels/site${PYTHONPATH:+:$PYTHONPATH}"
fi

if [[ $dry_run == 1 ]]; then
  OUT=${OUT:-$(mktemp -d)/speed_gpu_dry_run.json}  # never over the GPU's results
else
  OUT=${OUT:-benchmarks/results/speed_gpu.json}
fi
threads=$(nproc)
runners="jaxgan@$threads,torch_eager@$threads,torch_compile@$threads"
if [[ $dry_run == 1 ]]; then
  # The CPU, tiny nets, one short round; RUNNERS may drop torch.compile, whose CPU compile takes minutes.
  exec "$PYTHON" benchmarks/speed.py --device cpu --tiny --quick --seconds 0 --timeout 600 \
    --runners "${RUNNERS:-$runners}" --workloads dcgan64,wgan_gp --out "$OUT"
fi

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
# One measurement at a time owns the GPU: no preallocation, so each process's memory is its own.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
"$PYTHON" benchmarks/speed.py --device gpu --rounds 3 --seconds 5 --warmup 3 --timeout 240 --budget-s "$BUDGET_S" \
  --runners "${RUNNERS:-$runners}" --workloads dcgan64,wgan_gp --out "$OUT"
