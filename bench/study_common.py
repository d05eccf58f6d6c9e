"""Shared by the study scripts (lambda_ss, latent, real_screen, in_vivo, selection): the command line (a deck,
an output folder, seeds, ranks, the executable and deck overrides), running a fit or a sweep, statistics."""
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
    ap.add_argument("--array", action="store_true",
                    help="run the fits as a SLURM job array (tools/sweep-submit.sh) instead of one after the other here")
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


def toml_value(text):
    """A --set value as TOML text: itself if it parses as TOML (numbers, booleans, quoted
    text, arrays), else quoted, as `perturbfit --set` reads it."""
    import json
    import tomllib
    try:
        tomllib.loads("v = " + text)
        return text
    except tomllib.TOMLDecodeError:
        return json.dumps(text)


def run_sweep(args, grid, seed_key, seeds, data=None, array=False):
    """Writes OUT/sweep.toml (the deck, `grid` {key: [values]}, the seeds and the study's
    --set overrides) and runs it with `perturbfit sweep` into OUT/sweep on --ranks ranks,
    or with array=True as a SLURM job array (tools/sweep-submit.sh, waiting for the table).
    Finished points are kept, so an interrupted study continues. Returns one dict per
    point: index, settings, the fit's metrics.json and its directory."""
    import json
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.makedirs(args.out, exist_ok=True)
    lines = [f"deck = {json.dumps(os.path.abspath(args.deck))}"]
    if data:
        lines.append(f"data = {json.dumps(os.path.abspath(data))}")
    lines += [f"seed_key = {json.dumps(seed_key)}", f"seeds = {json.dumps(list(seeds))}", "", "[grid]"]
    lines += [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in grid.items()]
    lines += ["", "[set]"] + [f"{json.dumps(s.split('=', 1)[0])} = {toml_value(s.split('=', 1)[1])}" for s in args.set]
    sweep_file, out = os.path.join(args.out, "sweep.toml"), os.path.join(args.out, "sweep")
    with open(sweep_file, "w") as f:
        f.write("\n".join(lines) + "\n")
    if array:
        cmd = ["bash", os.path.join(root, "tools", "sweep-submit.sh"), sweep_file, out, f"--ntasks={args.ranks}"]
        env = dict(os.environ, PERTURBFIT=os.path.abspath(args.exe), PERTURBFIT_WAIT="1")
    else:
        cmd = [os.path.join(root, "tools", "mpirun.sh"), str(args.ranks), args.exe, "sweep", sweep_file, "-o", out]
        env = None
    print(" ".join(cmd), flush=True)
    if subprocess.run(cmd, env=env).returncode != 0:
        sys.exit(f"the sweep failed: {' '.join(cmd)} (points that finished are kept; run again to continue)")
    subprocess.run([args.exe, "collect", out], check=True, stdout=subprocess.DEVNULL)
    points = []
    for name in sorted(os.listdir(os.path.join(out, "points"))):
        point = os.path.join(out, "points", name)
        fit = os.path.join(point, "fit")
        points.append({"index": int(name), "settings": json.load(open(os.path.join(point, "point.json")))["settings"],
                       "metrics": json.load(open(os.path.join(fit, "metrics.json"))), "fit": fit})
    return points
