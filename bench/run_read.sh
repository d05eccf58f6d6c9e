#!/usr/bin/env bash
# Issue 4's benchmark: read + statistics of a simulated 500k x 2000 screen at 1 and 2
# ranks, and the anndata + scipy reference. Writes bench/results/read_*.json.
# The screen (about 1 GB) is simulated once into $BENCH_DATA (default /tmp/perturbfit-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
data="${BENCH_DATA:-/tmp/perturbfit-bench}"
mkdir -p bench/results "$data"
if [ ! -f "$data/screen_500k/screen.h5ad" ]; then
  bash tools/mpirun.sh 2 build/src/perturbfit simulate bench/inputs/screen_500k.toml -o "$data/screen_500k" \
    --set output.write_truth=false
fi
for n in 1 2; do
  bash tools/mpirun.sh "$n" build/bench/bench_read "$data/screen_500k/screen.h5ad" --out "bench/results/read_np$n.json"
done
/usr/bin/python3 bench/reference_read_anndata.py "$data/screen_500k/screen.h5ad" bench/results/read_reference_anndata.json
