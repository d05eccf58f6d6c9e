#!/usr/bin/python3
"""Cell types (issue 12): does a type's own maximal production help a typed fit?

usage: cell_type_study.py DECK OUT [--seeds 5] [--ranks 2] [--exe build/src/perturbfit]
                          [--production-sd 0 0.5 1.0] [--set key=value ...]

For each truth production_sd and seed: simulate DECK (cell_types.production_sd, run.seed) and
fit it three ways: typed with a type's own v (fit.production_response = on), typed with v
shared (off), pooled (data.cell_type_key = ""). Scored on the types' own test groups: effect
MSE (the pooled fit's prediction for the perturbation and batch against each type's observed
effect), and the fitted log production ratio between the first two types against the truth's
(Pearson r over genes). JSON in OUT/cell_type_study.json, a Markdown table on stdout."""
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import study_common  # noqa: E402

ap = study_common.study_arguments()
ap.add_argument("--production-sd", type=float, nargs="+", default=[0.0, 0.5, 1.0])
args, mpirun, overrides = study_common.launch(ap)
FITS = {"own_v": ["--set", "fit.production_response=on"],
        "shared_v": ["--set", "fit.production_response=off"],
        "pooled": ["--set", "data.cell_type_key="]}


def strings(ds):
    return [s.decode() for s in ds[:]]


def fit(screen, out, extra):
    res = subprocess.run([*mpirun, args.exe, "fit", args.deck, "--data", screen, "-o", out, "-q", "--force",
                          *overrides, *extra], capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"fit failed ({out}):\n{res.stderr}")
    return h5py.File(os.path.join(out, "fit.h5"))


def one_seed(sd, seed):
    level = SimpleNamespace(exe=args.exe, deck=args.deck, out=os.path.join(args.out, f"production_sd{sd}"))
    screen_dir = study_common.simulate_seed(level, [*overrides, "--set", f"cell_types.production_sd={sd}"], seed)
    screen = os.path.join(screen_dir, "screen.h5ad")
    runs = {name: fit(screen, os.path.join(level.out, f"seed{seed}", name), extra) for name, extra in FITS.items()}
    typed = runs["own_v"]
    keys = list(zip(strings(typed["groups/perturbation"]), strings(typed["groups/batch"]),
                    strings(typed["groups/split"])))
    observed = typed["groups/observed_effect"][:]
    test = [i for i, k in enumerate(keys) if k[2] == "test"]
    pooled = runs["pooled"]
    pooled_row = {k: i for i, k in enumerate(zip(strings(pooled["groups/perturbation"]), strings(pooled["groups/batch"])))}
    pooled_pred = pooled["groups/predicted_effect"][:]
    row = {"seed": seed, "test_groups": len(test)}
    for name in ("own_v", "shared_v"):
        pred = runs[name]["groups/predicted_effect"][:]
        row[name] = float(np.mean([np.mean((pred[i] - observed[i]) ** 2) for i in test]))
    row["pooled"] = float(np.mean([np.mean((pooled_pred[pooled_row[keys[i][:2]]] - observed[i]) ** 2) for i in test]))
    row["log_production_ratio_r"] = None
    with h5py.File(os.path.join(screen_dir, "truth.h5")) as truth:
        if "parameters/Q" in truth and "parameters/Q" in typed:
            first = int(truth["cell_types"].attrs["first_channel"])
            true_q, nodes = truth["parameters/Q"][:], strings(truth["parameters/nodes"])
            fitted_q, fitted_nodes = typed["parameters/Q"][:], strings(typed["parameters/nodes"])
            media = sorted(set(strings(typed["groups/medium"])))  # one-hot columns follow the labels' order
            shared = [(nodes.index(n), j) for j, n in enumerate(fitted_nodes) if n in nodes]
            t = np.array([true_q[i, first] - true_q[i, first + 1] for i, _ in shared])
            f = np.array([fitted_q[j, 0] - fitted_q[j, 1] for _, j in shared])
            if len(media) == 2 and np.std(t) > 0 and np.std(f) > 0:
                row["log_production_ratio_r"] = float(np.corrcoef(t, f)[0, 1])
    for r in runs.values():
        r.close()
    return row


results = []
for sd in args.production_sd:
    rows = [one_seed(sd, seed) for seed in range(1, args.seeds + 1)]
    summary = {name: study_common.stat([r[name] for r in rows]) for name in ("own_v", "shared_v", "pooled")}
    summary["own_v_better"] = sum(r["own_v"] < r["shared_v"] for r in rows)
    summary["log_production_ratio_r"] = study_common.stat([r["log_production_ratio_r"] for r in rows])
    results.append({"production_sd": sd, "seeds": rows, "summary": summary})
    print(f"production_sd {sd}: done", file=sys.stderr)

os.makedirs(args.out, exist_ok=True)
with open(os.path.join(args.out, "cell_type_study.json"), "w") as out:
    json.dump({"deck": args.deck, "ranks": args.ranks, "overrides": args.set, "results": results}, out, indent=1)
print("| truth's production_sd | own v (Q) | v shared | pooled | own v better | r(log production ratio) |")
print("|---|---|---|---|---|---|")
for res in results:
    s = res["summary"]
    r = s["log_production_ratio_r"]
    print(f"| {res['production_sd']} | " + " | ".join(f"{s[n]['mean']:.5f} ± {s[n]['sd']:.5f}" for n in ("own_v", "shared_v", "pooled"))
          + f" | {s['own_v_better']} of {len(res['seeds'])} | " + (f"{r['mean']:.2f} ± {r['sd']:.2f}" if r else "n/a") + " |")
