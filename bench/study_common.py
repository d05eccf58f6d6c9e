"""Shared by the study scripts (lambda_ss, latent, real_screen, in_vivo, selection): the command line (a deck,
an output folder, seeds, ranks, the executable and deck overrides), running a fit, statistics."""
import argparse
import os


def study_arguments():
    """An ArgumentParser with the common arguments; add a study's own, then call launch()."""
    ap = argparse.ArgumentParser()
    ap.add_argument("deck")
    ap.add_argument("out")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--exe", default="build/src/perturbfit")
    ap.add_argument("--set", action="append", default=[])
    return ap


def launch(ap):
    """Parsed arguments, the MPI launcher prefix and the overrides as --set pairs."""
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    mpirun = [os.path.join(root, "tools", "mpirun.sh"), str(args.ranks)]
    return args, mpirun, sum((["--set", s] for s in args.set), [])


def simulate_seed(args, overrides, seed, product="screen.h5ad"):
    """OUT/seed<s>/screen: the deck simulated at run.seed = s (kept if `product` is there)."""
    import subprocess
    import sys
    screen = os.path.join(args.out, f"seed{seed}", "screen")
    if not os.path.exists(os.path.join(screen, product)):
        res = subprocess.run([args.exe, "simulate", args.deck, "-o", screen, "-q", "--force",
                              "--set", f"run.seed={seed}", *overrides], capture_output=True, text=True)
        if res.returncode != 0:
            sys.exit(res.stderr)
    return screen


def run_fit_json(cmd):
    """Run a `perturbfit fit ... --json` command; its parsed JSON, or exit with its stderr."""
    import json
    import subprocess
    import sys
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"fit failed: {' '.join(cmd)}\n{res.stderr}")
    return json.loads(res.stdout)


def metric_values(runs, predictor, subset, key):
    """One metric of every run (None where a run lacks it)."""
    return [r["metrics"].get(predictor, {}).get(subset, {}).get(key) for r in runs]


def stat(v):
    """mean, sd and count of the values that are not None; None if there are none."""
    import numpy as np
    v = np.array([x for x in v if x is not None], dtype=float)
    return {"mean": float(v.mean()), "sd": float(v.std()), "n": int(v.size)} if v.size else None
