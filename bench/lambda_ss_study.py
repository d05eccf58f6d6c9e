#!/usr/bin/python3
"""The paper's claim, tested (issue 5): does the steady-state residual term (lambda_ss > 0)
lower held-out error and stabilise the recovered parameters?

For each screen (one simulation: the ground truth is fixed), for each seed the fit uses a
different train/validation/test split (fit.split_seed), and for each lambda_ss the same
splits are fitted. Reported per lambda_ss: held-out test MSE of expression and effects
(mean and sd over seeds), Pearson of effects, AUPRC and relative error of W against the
truth, and the spread of the recovered W across seeds (in true units: the mean over edges
of the standard deviation across seeds, divided by the RMS of the true weights).
With fit.heldout_times (a time-resolved screen, issue 13) it also reports the extrapolation
to the held-out times: the model's MSE of effects there, against "persistence" (each
perturbation's observed effect at the latest training time, averaged over its batches,
carried forward) and the replicate noise floor.

The fits are a sweep (OUT/sweep.toml, run into OUT/sweep by `perturbfit sweep`, or with
--array as a SLURM job array; OUT/sweep/sweep.md is its table): an interrupted study
continues where it stopped.

usage: lambda_ss_study.py DECK OUT [--seeds 5] [--lambdas 0,0.1,1] [--ranks 2] [--array] [--set k=v ...]
Writes OUT/study.json and prints a Markdown table."""
import json
import os

import h5py
import numpy as np

from study_common import launch, run_sweep, study_arguments

ap = study_arguments()
ap.add_argument("--lambdas", default="0,0.1,1")
ap.add_argument("--later", default="", help="time labels held out of every fit (fit.heldout_times), comma-separated")
args, _, _ = launch(ap)
later_times = [t for t in args.later.split(",") if t]
if later_times:
    args.set.append("fit.heldout_times=[" + ",".join(f'"{t}"' for t in later_times) + "]")


def persistence_mse(f, m):
    """MSE of effects at the held-out times when each perturbation's effect at the latest
    training time (mean over its batches) is carried forward; None without held-out times."""
    if not later_times or "later times" not in m["metrics"].get("model", {}):
        return None
    dec = lambda a: np.array([x.decode() if isinstance(x, bytes) else str(x) for x in a])  # noqa: E731
    pert, time = dec(f["groups/perturbation"][:]), dec(f["groups/time"][:])
    effect = f["groups/observed_effect"][:]
    times = sorted({t for t in time if t not in later_times and t != "inf"}, key=float)
    later = [t for t in set(time) if t in later_times]
    last = times[-1]
    errors = []
    for p in set(pert) - {"control"}:
        before = effect[(pert == p) & (time == last)]
        for t in later:
            after = effect[(pert == p) & (time == t)]
            if len(before) and len(after):
                errors.append(np.mean((after - before.mean(axis=0)) ** 2, axis=1))
    return float(np.mean(np.concatenate(errors))) if errors else None


# One simulated screen (the sweep shares it: only [fit] keys vary), every lambda_ss fitted
# on the same splits: a sweep of lambda_ss x fit.split_seed.
lambdas = [float(x) for x in args.lambdas.split(",")]
points = run_sweep(args, {"fit.lambda_ss": lambdas}, "fit.split_seed", range(1, args.seeds + 1), array=args.array)
results = {}
for lam in lambdas:
    runs = []
    for p in points:
        if p["settings"]["fit.lambda_ss"] != lam:
            continue
        m = p["metrics"]
        with h5py.File(os.path.join(p["fit"], "fit.h5"), "r") as f:
            w = f["parameters/W/data"][:]
            persistence = persistence_mse(f, m)
        runs.append({"seed": p["settings"]["fit.split_seed"], "metrics": m, "W": w, "wall": m["wall_seconds"],
                     "persistence": persistence})
        t = m["metrics"]
        if runs[-1]["persistence"] is not None:
            print(f"  later times: model {t['model']['later times']['mse_effect']:.5f}, "
                  f"persistence {runs[-1]['persistence']:.5f}", flush=True)
        print(f"lambda_ss={lam:g} seed={runs[-1]['seed']}: test MSE {t['model']['test']['mse_expression']:.5f} "
              f"(control {t['control_mean']['test']['mse_expression']:.5f}), AUPRC {m['truth_recovery']['auprc_W']:.3f}, "
              f"{m['iterations']} iterations, {m['wall_seconds']:.1f} s", flush=True)
    W = np.array([r["W"] for r in runs])  # seeds x candidate edges (same support for every seed)
    # The units S (fitted / true control state) are set by the control data, which every seed
    # of one screen shares, so the spread is taken on the fitted W directly, relative to its RMS.
    spread = float(np.mean(np.std(W, axis=0)) / np.sqrt(np.mean(W ** 2)))

    def stat(key):
        v = np.array([key(r["metrics"]) for r in runs], dtype=float)
        return {"mean": float(np.nanmean(v)), "sd": float(np.nanstd(v))}

    results[f"{lam:g}"] = {
        "test_mse_expression": stat(lambda m: m["metrics"]["model"]["test"]["mse_expression"]),
        "test_mse_effect": stat(lambda m: m["metrics"]["model"]["test"]["mse_effect"]),
        "test_pearson_effect": stat(lambda m: m["metrics"]["model"]["test"]["pearson_effect"]),
        "control_mean_test_mse_expression": stat(lambda m: m["metrics"]["control_mean"]["test"]["mse_expression"]),
        "auprc_W": stat(lambda m: m["truth_recovery"]["auprc_W"]),
        "relative_error_W": stat(lambda m: m["truth_recovery"]["relative_error_W"]),
        "pearson_W": stat(lambda m: m["truth_recovery"]["pearson_W"]),
        "W_spread_across_seeds": spread,
        "wall_seconds": stat(lambda m: m["wall_seconds"]),
        "later_times_mse_effect": (stat(lambda m: m["metrics"]["model"]["later times"]["mse_effect"])
                                   if runs[0]["persistence"] is not None else None),
        "later_times_persistence_mse_effect": ({"mean": float(np.mean([r["persistence"] for r in runs])),
                                                "sd": float(np.std([r["persistence"] for r in runs]))}
                                               if runs[0]["persistence"] is not None else None),
        "later_times_noise_floor": (stat(lambda m: m["metrics"]["replicate"]["later times"]["noise_floor_mse_effect"])
                                    if runs[0]["persistence"] is not None else None),
        "iterations": stat(lambda m: m["iterations"]),
    }

json.dump({"deck": args.deck, "seeds": args.seeds, "later_times": later_times, "ranks": args.ranks, "settings": args.set, "results": results},
          open(os.path.join(args.out, "study.json"), "w"), indent=2)
print("\n| lambda_ss | test MSE expr | test MSE effect | Pearson effect | control-mean MSE | AUPRC(W) | rel. error W | "
      "W spread across seeds | s per fit |")
print("|---|---|---|---|---|---|---|---|---|")
for lam, r in results.items():
    f = lambda s: f"{s['mean']:.4g} ± {s['sd']:.2g}"
    print(f"| {lam} | {f(r['test_mse_expression'])} | {f(r['test_mse_effect'])} | {f(r['test_pearson_effect'])} | "
          f"{f(r['control_mean_test_mse_expression'])} | {f(r['auprc_W'])} | {f(r['relative_error_W'])} | "
          f"{r['W_spread_across_seeds']:.3f} | {r['wall_seconds']['mean']:.1f} |")
if later_times:
    print(f"\nExtrapolation to the held-out times {', '.join(later_times)} (MSE of effects, every perturbation):\n")
    print("| lambda_ss | model | persistence (last training time carried forward) | replicate noise floor |")
    print("|---|---|---|---|")
    for lam, r in results.items():
        f = lambda s: f"{s['mean']:.4g} ± {s['sd']:.2g}"
        print(f"| {lam} | {f(r['later_times_mse_effect'])} | {f(r['later_times_persistence_mse_effect'])} | "
              f"{f(r['later_times_noise_floor'])} |")
