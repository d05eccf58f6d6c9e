#!/usr/bin/env bash
# Submits a sweep as a SLURM job array (jobs/sweep.slurm, one task per grid point) and a
# job that collects the table when every task has ended (`perturbfit collect`).
#   bash tools/sweep-submit.sh SWEEP.toml OUTDIR [sbatch options for the array, e.g. --ntasks=4]
# Prints the two job ids. With PERTURBFIT_WAIT=1 it returns only when the table is written.
# The binary is $PERTURBFIT (default build/src/perturbfit).
set -euo pipefail
sweep="${1:?usage: tools/sweep-submit.sh SWEEP.toml OUTDIR [sbatch options]}"
out="${2:?usage: tools/sweep-submit.sh SWEEP.toml OUTDIR [sbatch options]}"
shift 2
exe="${PERTURBFIT:-build/src/perturbfit}"
n="$("$exe" sweep "$sweep" --count)"
mkdir -p "$out"
array="$(sbatch --parsable --array="0-$((n - 1))" --output="$out/slurm-%A_%a.log" "$@" \
  "$(dirname "$0")/../jobs/sweep.slurm" "$sweep" "$out")"
wait_flag=()
if [[ "${PERTURBFIT_WAIT:-0}" == 1 ]]; then wait_flag=(--wait); fi
collect="$(sbatch --parsable "${wait_flag[@]}" --dependency="afterany:$array" --ntasks=1 --job-name=perturbfit-collect \
  --output="$out/slurm-collect-%j.log" --wrap "$(printf '%q collect %q' "$exe" "$out")")"
echo "sweep: $n points as array job $array; the table by job $collect: $out/sweep.md"
