#!/usr/bin/env bash
# Baseline of issue 5's W1 (one loss + gradient, G = 5000, nnz(W) = 100k, P = 5000) at 1 and
# 2 ranks. Writes bench/results/loss_gradient_np{1,2}.json. Build first (tools/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
for n in 1 2; do
  OMP_NUM_THREADS=1 bash tools/mpirun.sh "$n" build/bench/bench_loss_gradient \
    --genes 5000 --nnz 100000 --perturbations 5000 --repeat 3 --out "bench/results/loss_gradient_np$n.json" "$@"
done
