#!/usr/bin/python3
"""Issue 13: the per-cell negative-binomial likelihood against the Gaussian pseudo-bulk, by
sequencing depth. For each simulation seed and each depth (UMIs per cell of the deck's
measure step, protocol step MEASURE_STEP) the deck's screen is simulated once, then fitted
with data.likelihood = gaussian and = nb (and nb with fit.zero_inflation); collected: the
held-out MSE and Pearson of effects of the model and the baselines, the recovery of W
(AUPRC, Pearson) and of the NB sizes and dropouts (fit.truth is set to the seed's truth.h5).

usage: likelihood_study.py DECK OUT [--seeds 2] [--depths 60,300,3000] [--measure-step 4] [--ranks 2]
       [--set k=v ...]
Writes OUT/study.json and OUT/study.md (the Markdown table, also printed)."""
import json
import os
import types

from study_common import launch, run_fit_json, simulate_seed, stat, study_arguments

ap = study_arguments()
ap.add_argument("--depths", default="60,300,3000")
ap.add_argument("--measure-step", type=int, default=4)
ap.set_defaults(seeds=2)
args, mpirun, sets = launch(ap)
depths = [float(d) for d in args.depths.split(",")]
variants = {"gaussian": ["--set", "data.likelihood=gaussian"],
            "nb": ["--set", "data.likelihood=nb"],
            "zinb": ["--set", "data.likelihood=nb", "--set", "fit.zero_inflation=true"]}

rows = []
for depth in depths:
    for seed in range(1, args.seeds + 1):
        sim_out = os.path.join(args.out, f"depth{depth:g}")
        sim_args = types.SimpleNamespace(out=sim_out, exe=args.exe, deck=args.deck)
        screen = simulate_seed(sim_args, ["--set", f"protocol.{args.measure_step}.depth={depth}"], seed)
        for name, extra in variants.items():
            out = os.path.join(sim_out, f"seed{seed}", name)
            cmd = mpirun + [args.exe, "fit", args.deck, "--data", os.path.join(screen, "screen.h5ad"), "-o", out,
                            "--json", "-q", "--set", f"fit.truth={os.path.abspath(os.path.join(screen, 'truth.h5'))}"]
            m = run_fit_json(cmd + sets + extra)
            t = m["metrics"]
            truth = m.get("truth_recovery") or {}
            meas = truth.get("measurement") or {}
            row = {"depth": depth, "seed": seed, "likelihood": name,
                   "model": t["model"]["test"]["mse_effect"], "pearson": t["model"]["test"]["pearson_effect"],
                   "control_mean": t["control_mean"]["test"]["mse_effect"],
                   "train_mean": t["train_mean"]["test"]["mse_effect"],
                   "replicate": t.get("replicate", {}).get("test", {}).get("mse_effect"),
                   "auprc_W": truth.get("auprc_W"), "pearson_W": truth.get("pearson_W"),
                   "pearson_log_nb_size": meas.get("pearson_log_nb_size"),
                   "median_nb_size_ratio": meas.get("median_nb_size_ratio"),
                   "mean_dropout_fit": meas.get("mean_dropout_fit"), "mean_dropout_true": meas.get("mean_dropout_true"),
                   "iterations": m["iterations"], "selected_iteration": m["selected_iteration"],
                   "seconds": m["wall_seconds"]}
            rows.append(row)
            print(json.dumps(row), flush=True)

summary = {"deck": args.deck, "seeds": args.seeds, "ranks": args.ranks, "depths": depths, "settings": args.set,
           "runs": rows, "table": []}
keys = ["model", "pearson", "control_mean", "train_mean", "replicate", "auprc_W", "pearson_W", "pearson_log_nb_size",
        "median_nb_size_ratio", "mean_dropout_fit", "seconds"]
lines = ["| depth | likelihood | test MSE effect (model) | Pearson | control_mean | train_mean | replicate | AUPRC W | "
         "Pearson W | Pearson log r | median r fit/true | mean pi fit | seconds |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]


def fmt(s, digits=4):
    return "n/a" if s is None else f"{s['mean']:.{digits}g} ± {s['sd']:.2g}"


for depth in depths:
    for name in variants:
        sel = [r for r in rows if r["depth"] == depth and r["likelihood"] == name]
        st = {k: stat([r[k] for r in sel]) for k in keys}
        summary["table"].append({"depth": depth, "likelihood": name, **st})
        lines.append(f"| {depth:g} | {name} | " + " | ".join(fmt(st[k]) for k in keys) + " |")
with open(os.path.join(args.out, "study.json"), "w") as f:
    json.dump(summary, f, indent=1)
with open(os.path.join(args.out, "study.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))
