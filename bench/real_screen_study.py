#!/usr/bin/python3
"""Real screens (issue 11): held-out accuracy of the fitted model against the field's
baselines over several train/validation/test splits of one screen.

For each split seed (fit.split_seed = 1..k) the deck's screen is fitted; the metrics of the
model, control_mean, train_mean, additive, linear, pca_linear (Ahlmann-Eltze et al. 2025)
and the replicate ceiling are collected for the training groups, the test groups and each
kind of held-out perturbation: MSE of effects, Pearson of effects, and the field's L2 and
Pearson over the 1000 genes most expressed in controls. Groups the model predicts by
train_mean (targets nothing in training informs) are counted.

usage: real_screen_study.py DECK OUT [--seeds 5] [--ranks 2] [--set k=v ...]
Writes OUT/study.json and OUT/study.md (the Markdown tables, also printed)."""
import json
import os

from study_common import launch, metric_values, run_fit_json, stat, study_arguments

ap = study_arguments()
args, mpirun, sets = launch(ap)
subsets = ["train", "test", "test/single", "test/combination (singles seen)", "test/combination (unseen single)"]
predictors = ["model", "control_mean", "train_mean", "additive", "linear", "pca_linear", "replicate"]
keys = ["mse_effect", "pearson_effect", "l2_effect_top_expressed", "pearson_effect_top_expressed"]

runs = []
for seed in range(1, args.seeds + 1):
    out = os.path.join(args.out, f"fit_split{seed}")
    cmd = mpirun + [args.exe, "fit", args.deck, "-o", out, "--json", "-q", "--set", f"fit.split_seed={seed}"] + sets
    m = run_fit_json(cmd)
    runs.append(m)
    t = m["metrics"]
    print(f"split {seed}: train MSE effect model {t['model']['train']['mse_effect']:.5f} (train_mean "
          f"{t['train_mean']['train']['mse_effect']:.5f}); test model {t['model']['test']['mse_effect']:.5f}, control_mean "
          f"{t['control_mean']['test']['mse_effect']:.5f}, train_mean {t['train_mean']['test']['mse_effect']:.5f}; "
          f"iteration {m['selected_iteration']} of {m['iterations']}, {m['wall_seconds']:.1f} s", flush=True)


def values(predictor, subset, key):
    return metric_values(runs, predictor, subset, key)


summary = {"deck": args.deck, "seeds": args.seeds, "ranks": args.ranks, "settings": args.set, "subsets": {}}
for s in subsets:
    entry = {"groups": stat(values("model", s, "groups")), "fallback_groups": stat(
        [r["metrics"]["model"].get(s, {}).get("fallback_groups", 0) if s in r["metrics"]["model"] else None for r in runs])}
    for p in predictors:
        entry[p] = {k: stat(values(p, s, k)) for k in keys}
    summary["subsets"][s] = entry
summary["wall_seconds"] = stat([r["wall_seconds"] for r in runs])
summary["selected_iteration"] = stat([r["selected_iteration"] for r in runs])
summary["runs"] = [{"split_seed": i + 1, "metrics": r["metrics"], "iterations": r["iterations"],
                    "selected_iteration": r["selected_iteration"], "stop_reason": r["stop_reason"]}
                   for i, r in enumerate(runs)]
os.makedirs(args.out, exist_ok=True)
with open(os.path.join(args.out, "study.json"), "w") as f:
    json.dump(summary, f, indent=2)


def fmt(x, digits=4):
    return "n/a" if x is None else f"{x['mean']:.{digits}f} ± {x['sd']:.{digits}f}"


lines = [f"{args.deck}: {args.seeds} split seeds, {args.ranks} ranks; mean ± sd over splits "
         f"(a predictor's mean is over the splits where it predicts the subset)", ""]
for key, title, digits in [("mse_effect", "MSE of effects", 4), ("pearson_effect", "Pearson of effects (all genes)", 3),
                           ("l2_effect_top_expressed", "L2 of effects, 1000 genes most expressed in controls", 3),
                           ("pearson_effect_top_expressed", "Pearson of effects, 1000 genes most expressed in controls", 3)]:
    lines += [f"{title}", "", "| subset | groups | by train_mean | " + " | ".join(predictors) + " |",
              "|---|---|---|" + "---|" * len(predictors)]
    for s, e in summary["subsets"].items():
        if e["groups"] is None:
            continue
        lines.append(f"| {s} | {e['groups']['mean']:.1f} | {e['fallback_groups']['mean']:.1f} | " +
                     " | ".join(fmt(e[p][key], digits) for p in predictors) + " |")
    lines.append("")
lines.append(f"selected iteration {fmt(summary['selected_iteration'], 1)}; fit wall {fmt(summary['wall_seconds'], 1)} s")
with open(os.path.join(args.out, "study.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n" + "\n".join(lines))
