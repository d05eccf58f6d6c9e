#!/usr/bin/python3
"""Hidden targets (issue 6): on screens whose perturbed genes are all outside the measured
panel, does the latent-node model predict held-out perturbations better than the
baselines, and how close does it come to the replicate noise floor?

For each seed a new screen is simulated (run.seed: a new network, library and split) and
fitted; held-out test metrics of the model, the baselines and the replicate ceiling are
collected per kind of held-out perturbation, with the recovery of the latent nodes'
out-edges against the truth.

The simulations and fits are a sweep over run.seed (OUT/sweep.toml, run into OUT/sweep by
`perturbfit sweep`, or with --array as a SLURM job array): an interrupted study continues.

usage: latent_study.py DECK OUT [--seeds 5] [--ranks 2] [--array] [--set k=v ...]
Writes OUT/study.json and prints a Markdown table."""
import json
import os

from study_common import launch, metric_values, run_sweep, stat, study_arguments

ap = study_arguments()
args, _, _ = launch(ap)
subsets = ["test", "test/single", "test/combination (singles seen)", "test/combination (unseen single)"]
predictors = ["model", "control_mean", "train_mean", "additive", "replicate"]

# A new screen per seed (run.seed is a simulation key: the sweep simulates one screen each).
runs = []
for p in run_sweep(args, {}, "run.seed", range(1, args.seeds + 1), array=args.array):
    m = p["metrics"]
    runs.append(m)
    t = m["metrics"]
    print(f"seed {p['settings']['run.seed']}: test MSE effect model {t['model']['test']['mse_effect']:.5f}, control mean "
          f"{t['control_mean']['test']['mse_effect']:.5f}, noise floor {t['replicate']['test']['noise_floor_mse_effect']:.5f}, "
          f"latent AUPRC {m['truth_recovery']['latent_out_edges']['auprc']:.3f}, {m['wall_seconds']:.1f} s", flush=True)


def values(predictor, subset, key):
    return metric_values(runs, predictor, subset, key)


summary = {"deck": args.deck, "seeds": args.seeds, "ranks": args.ranks, "settings": args.set, "subsets": {}}
for s in subsets:
    entry = {"groups": stat(values("model", s, "groups"))}
    for p in predictors:
        entry[p] = {"mse_effect": stat(values(p, s, "mse_effect")), "pearson_effect": stat(values(p, s, "pearson_effect"))}
    entry["noise_floor_mse_effect"] = stat(values("replicate", s, "noise_floor_mse_effect"))
    model, control = values("model", s, "mse_effect"), values("control_mean", s, "mse_effect")
    pairs = [(a, b) for a, b in zip(model, control) if a is not None and b is not None]
    # "better" by more than 1%: an unlearnable perturbation differs from no change by rounding only
    entry["model_better_than_control_mean_by_1pct"] = f"{sum(a < 0.99 * b for a, b in pairs)} of {len(pairs)}"
    entry["model_over_control_mean"] = stat([a / b for a, b in pairs])
    summary["subsets"][s] = entry
summary["latent_out_edges"] = {k: stat([r["truth_recovery"]["latent_out_edges"][k] for r in runs])
                               for k in ("auprc", "auprc_random")}
summary["wall_seconds"] = stat([r["wall_seconds"] for r in runs])
summary["runs"] = [{"seed": i + 1, "metrics": r["metrics"], "truth_recovery": r["truth_recovery"]} for i, r in enumerate(runs)]
os.makedirs(args.out, exist_ok=True)
with open(os.path.join(args.out, "study.json"), "w") as f:
    json.dump(summary, f, indent=2)


def fmt(x):
    return "n/a" if x is None else f"{x['mean']:.5f} ± {x['sd']:.5f}"


print("\nMSE of effects, mean ± sd over seeds\n")
print("| held-out subset | groups | model | control_mean | train_mean | additive | replicate | noise floor "
      "| model / control_mean | model better by > 1% |")
print("|---|---|---|---|---|---|---|---|---|---|")
for s, e in summary["subsets"].items():
    g = e["groups"]
    if g is None:
        continue
    ratio = e["model_over_control_mean"]
    print(f"| {s} | {g['mean']:.1f} | " + " | ".join(fmt(e[p]["mse_effect"]) for p in predictors) +
          f" | {fmt(e['noise_floor_mse_effect'])} | {ratio['mean']:.3f} ± {ratio['sd']:.3f} "
          f"| {e['model_better_than_control_mean_by_1pct']} |")
l = summary["latent_out_edges"]
print(f"\nlatent out-edges AUPRC {l['auprc']['mean']:.3f} ± {l['auprc']['sd']:.3f} "
      f"(random {l['auprc_random']['mean']:.3f}); fit wall {summary['wall_seconds']['mean']:.1f} s")
