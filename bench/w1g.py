#!/usr/bin/python3
"""W1-G (issue 15): the genome-scale workload of bench/inputs/w1g.toml (G = 20,000,
nnz(W) about 400k, P = 10,000, knn support) simulated and fitted at 2 ranks; wall time and
peak resident memory of every rank (GNU time's maximum RSS), the fit's phases from its
log, and the screen's size.

usage: w1g.py OUT [--exe build/src/perturbfit] [--ranks 2] [--set k=v ...]
Writes OUT/w1g.json and prints a Markdown table."""
import argparse
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--exe", default=os.path.join(ROOT, "build", "src", "perturbfit"))
ap.add_argument("--deck", default=os.path.join(ROOT, "bench", "inputs", "w1g.toml"))
ap.add_argument("--ranks", type=int, default=2)
ap.add_argument("--set", action="append", default=[])
args = ap.parse_args()
os.makedirs(args.out, exist_ok=True)
sets = sum((["--set", s] for s in args.set), [])


def measured(name, cmd):
    """Runs cmd on --ranks ranks, each under GNU time; wall seconds, peak RSS per rank (GiB)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    full = [os.path.join(ROOT, "tools", "mpirun.sh"), str(args.ranks), "/usr/bin/time", "-v", args.exe] + cmd
    start = time.time()
    res = subprocess.run(full, capture_output=True, text=True, env=env)
    wall = time.time() - start
    open(os.path.join(args.out, f"{name}.log"), "w").write(res.stderr)
    if res.returncode != 0:
        sys.exit(f"{name} failed: {' '.join(full)}\n{res.stderr[-4000:]}")
    rss = [int(x) / 2**20 for x in re.findall(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr)]
    print(f"{name}: {wall:.1f} s, peak RSS per rank {', '.join(f'{r:.2f}' for r in rss)} GiB", flush=True)
    return {"wall_seconds": wall, "peak_rss_gib_per_rank": rss, "command": " ".join(full)}, res


sim = os.path.join(args.out, "sim")
result = {"deck": os.path.relpath(args.deck, ROOT), "ranks": args.ranks, "settings": args.set}
if not os.path.exists(os.path.join(sim, "screen.h5ad")):
    result["simulate"], _ = measured("simulate", ["simulate", args.deck, "-o", sim, "--force"] + sets)
fit_out = os.path.join(args.out, "fit")
result["fit"], res = measured("fit", ["fit", args.deck, "--data", os.path.join(sim, "screen.h5ad"), "-o", fit_out,
                                      "--force", "--json", "--set", "fit.truth=" + os.path.join(sim, "truth.h5")] + sets)
summary = json.loads(res.stdout)
result["fit"]["summary"] = {k: summary.get(k) for k in ("iterations", "wall_seconds", "parameters", "perturbations",
                                                        "edges_in_support", "final_loss", "stop_reason")}
result["fit"]["test_mse_effect"] = {p: summary["metrics"][p]["test"]["mse_effect"]
                                    for p in ("model", "control_mean", "train_mean") if p in summary["metrics"]}
result["fit"]["truth_recovery"] = {k: summary.get("truth_recovery", {}).get(k) for k in ("auprc_W", "auprc_W_random")}
# Phases: the progress lines carry elapsed seconds where the code reports them.
result["fit"]["log_lines"] = [ln for ln in res.stderr.splitlines() if ln.startswith("perturbfit:")][-60:]
with open(os.path.join(args.out, "w1g.json"), "w") as f:
    json.dump(result, f, indent=2)
screen_gib = os.path.getsize(os.path.join(sim, "screen.h5ad")) / 2**30
print(f"\n| phase | wall (s) | peak RSS per rank (GiB) |\n|---|---|---|")
for phase in ("simulate", "fit"):
    if phase in result:
        r = result[phase]
        print(f"| {phase} | {r['wall_seconds']:.1f} | {', '.join(f'{x:.2f}' for x in r['peak_rss_gib_per_rank'])} |")
print(f"\nscreen.h5ad {screen_gib:.2f} GiB; fit: {summary['iterations']} iterations, {summary['parameters']} parameters, "
      f"{summary.get('edges_in_support')} candidate edges")
