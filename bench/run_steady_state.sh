#!/usr/bin/env bash
# Issue 3's benchmark: G = 5000, nnz(W) = 100k, P = 5000 single knockdowns, at 1 and 2 ranks.
# Writes bench/results/steady_state_np{1,2}.json. Build first (tools/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
for n in 1 2; do
  OMP_NUM_THREADS=1 bash tools/mpirun.sh "$n" build/bench/bench_steady_state \
    --genes 5000 --nnz 100000 --perturbations 5000 --reference-sample 20 \
    --out "bench/results/steady_state_np$n.json" "$@"
done
