#!/usr/bin/env bash
# Issue 14's benchmark: `predict --all-pairs` of 142 genes (142 singles + 10,011 pairs) on a
# 2000-gene fitted model (bench/inputs/predict_2000.toml), at 1 and 2 ranks, with the
# uniqueness test's 2 other starts per row (the default) and without (--starts 0) in the
# same run. Writes bench/results/predict_pairs.json. The screen and the fit are made once
# into $BENCH_DATA (default /tmp/perturbfit-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
data="${BENCH_DATA:-/tmp/perturbfit-bench}/predict_2000"
deck=bench/inputs/predict_2000.toml
exe="${PERTURBFIT:-build/src/perturbfit}"  # the executable to time
mkdir -p bench/results "$data"
if [ ! -f "$data/fit/fit.h5" ]; then
  bash tools/mpirun.sh 2 $exe simulate $deck -o "$data/sim" -q --force --set output.write_truth=false
  bash tools/mpirun.sh 2 $exe fit $deck --data "$data/sim/screen.h5ad" -o "$data/fit" -q --force >/dev/null
fi
/usr/bin/python3 -c "
import h5py
with h5py.File('$data/fit/fit.h5', 'r') as f:
    genes = [x.decode() for x in f['/genes'][:142]]
open('$data/genes142.txt', 'w').write('\n'.join(genes) + '\n')"
runs=()
for ranks in 1 2; do
  for starts in 2 0; do
    out="$data/predict_np${ranks}_starts${starts}"
    start=$(date +%s.%N)
    OMP_NUM_THREADS=1 bash tools/mpirun.sh $ranks $exe predict $deck --data "$data/sim/screen.h5ad" \
      --model "$data/fit/fit.h5" --all-pairs @"$data/genes142.txt" --starts $starts -o "$out" -q --force --json \
      > "$out.json"
    end=$(date +%s.%N)
    runs+=("$ranks $starts $(echo "$end - $start" | bc) $out.json")
  done
done
/usr/bin/python3 - "${runs[@]}" <<'PY'
import json, sys
rows = []
for item in sys.argv[1:]:
    ranks, starts, wall, path = item.split(" ")
    s = json.load(open(path))
    rows.append({"ranks": int(ranks), "other_starts": int(starts), "command_wall_seconds": float(wall),
                 "predict_wall_seconds": s["wall_seconds"], "rows": s["rows"], "failed": s["failed"],
                 "unstable": s["unstable"], "non_unique": s["non_unique"],
                 "rows_per_second": s["rows"] / s["wall_seconds"]})
result = {"benchmark": "predict --all-pairs, 142 genes of a 2000-gene model (bench/inputs/predict_2000.toml)",
          "command": "bash bench/run_predict.sh", "runs": rows}
json.dump(result, open("bench/results/predict_pairs.json", "w"), indent=1)
for r in rows:
    print(f"{r['ranks']} rank(s), {r['other_starts']} other starts: {r['rows']} rows in {r['predict_wall_seconds']:.1f} s "
          f"({r['rows_per_second']:.0f} rows/s; whole command {r['command_wall_seconds']:.1f} s)")
PY
