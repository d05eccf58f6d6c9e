#!/usr/bin/env bash
# Issue 13's time-course benchmark: one loss + gradient of P = 1000 single knockdowns with an
# onset (tau = 1) sampled at 6 times on the W1-style network G = 2000, nnz(W) = 40k, at 2 ranks;
# the steady-state W1 evaluation of the same network and perturbations in the same run.
# Writes bench/results/time_course_np2.json. Build first (tools/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
build="${BUILD_DIR:-build}"
OMP_NUM_THREADS=1 bash tools/mpirun.sh 2 "$build/bench/bench_time_course" \
  --genes 2000 --nnz 40000 --perturbations 1000 --times 1,2,4,8,16,24 --tau 1 \
  --out bench/results/time_course_np2.json "$@"
