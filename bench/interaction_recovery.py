#!/usr/bin/python3
"""How well `predict`'s interaction ranking recovers the truth's interacting pairs, over seeds.

usage: bench/interaction_recovery.py DECK OUT [--seeds 5] [--ranks 2] [--exe build/src/perturbfit] [--set k=v]

For each seed (run.seed = 1..N): simulate DECK, fit at --ranks, predict the screen's pairs
(--perturbations), and rank them by predicted interaction score. Positives: pairs whose true
RMS deviation from additive (truth.h5's states, tools/interaction_truth.py) exceeds 0.01.
Reported per seed and as mean +- sd: AUPRC of the model's ranking over all pairs and over the
held-out (test) pairs alone; the chance level (the positives' share); and a baseline that
needs no model: pairs ranked by the product of their singles' observed effect sizes (RMS of
the same-batch contrast, averaged over batches), which assumes strong singles interact.
Writes OUT/interaction_recovery.json. Default deck: tests/data/predict_pairs.toml.
"""
import json
import os
import sys

import anndata
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interaction_truth import INTERACTING, auprc, true_scores  # noqa: E402
from study_common import launch, run_fit_json, simulate_seed, stat, study_arguments  # noqa: E402


def single_sizes(screen_path):
    """RMS observed effect of each single (same-batch contrast of log(0.1 + normalised mean), mean over batches)."""
    a = anndata.read_h5ad(screen_path)
    X = a.X.tocsr().astype(float)
    total = np.asarray(X.sum(axis=1)).ravel()
    norm = X.multiply(1.0 / (total / total.mean())[:, None]).tocsr()
    pert, batch = a.obs["perturbation"].astype(str).to_numpy(), a.obs["batch"].astype(str).to_numpy()
    y = {}
    for key in set(zip(pert, batch)):
        mask = (pert == key[0]) & (batch == key[1])
        y[key] = np.log(0.1 + np.asarray(norm[mask].mean(axis=0)).ravel())
    sizes = {}
    for p in set(pert) - {"control"}:
        if "+" in p:
            continue
        e = [np.sqrt(np.mean((y[(p, b)] - y[("control", b)]) ** 2)) for (q, b) in y if q == p]
        sizes[p] = float(np.mean(e))
    return sizes


ap = study_arguments()
args, mpirun, overrides = launch(ap)
import subprocess  # noqa: E402

runs = []
for seed in range(1, args.seeds + 1):
    screen = simulate_seed(args, overrides, seed)
    truth = true_scores(os.path.join(screen, "truth.h5"))
    pairs = sorted(truth)
    fit_dir = os.path.join(args.out, f"seed{seed}", "fit")
    seed_set = ["--set", f"run.seed={seed}"]
    run_fit_json(mpirun + [args.exe, "fit", args.deck, "--data", os.path.join(screen, "screen.h5ad"), "-o", fit_dir,
                           "--force", "--json", "-q", *seed_set, *overrides])
    listing = os.path.join(args.out, f"seed{seed}", "pairs.txt")
    open(listing, "w").write("\n".join(pairs) + "\n")
    pred_dir = os.path.join(args.out, f"seed{seed}", "predict")
    res = subprocess.run(mpirun + [args.exe, "predict", args.deck, "--data", os.path.join(screen, "screen.h5ad"),
                                   "--model", os.path.join(fit_dir, "fit.h5"), "--perturbations", "@" + listing, "-o",
                                   pred_dir, "--force", "-q", *seed_set, *overrides], capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(res.stderr)
    a = anndata.read_h5ad(os.path.join(pred_dir, "predictions.h5ad"))
    score = dict(zip(a.obs["perturbation"], a.obs["interaction_score"]))
    split = dict(zip(a.obs["perturbation"], a.obs["split"]))
    sizes = single_sizes(os.path.join(screen, "screen.h5ad"))
    baseline = {p: sizes[p.split("+")[0]] * sizes[p.split("+")[1]] for p in pairs}
    row = {"seed": seed, "pairs": len(pairs)}
    for subset in ("all", "test"):
        chosen = [p for p in pairs if subset == "all" or split[p] == "test"]
        y = [truth[p] > INTERACTING for p in chosen]
        found = any(y)
        row[subset] = {"pairs": len(chosen), "interacting": int(sum(y)), "chance": float(np.mean(y)) if y else None,
                       "auprc_model": auprc([score[p] for p in chosen], y) if found else None,
                       "auprc_singles_product": auprc([baseline[p] for p in chosen], y) if found else None}
    runs.append(row)
    print(f"seed {seed}: " + "; ".join(
        f"{s} pairs ({row[s]['interacting']} of {row[s]['pairs']} interacting) AUPRC model {row[s]['auprc_model']}, "
        f"singles-product {row[s]['auprc_singles_product']}" for s in ("all", "test")))
def finite(v):
    return v if v is not None and np.isfinite(v) else None  # a seed without interacting pairs has no AUPRC


summary = {s: {k: stat([finite(r[s][k]) for r in runs]) for k in ("auprc_model", "auprc_singles_product", "chance")}
           for s in ("all", "test")}
result = {"deck": args.deck, "seeds": args.seeds, "ranks": args.ranks, "interacting_threshold": INTERACTING,
          "command": " ".join(sys.argv), "runs": runs, "summary": summary}
os.makedirs(args.out, exist_ok=True)
json.dump(result, open(os.path.join(args.out, "interaction_recovery.json"), "w"), indent=1)
for s in ("all", "test"):
    m = summary[s]
    print(f"{s} pairs ({m['auprc_model']['n']} seeds with interacting pairs): AUPRC model "
          f"{m['auprc_model']['mean']:.3f} +- {m['auprc_model']['sd']:.3f}, singles-product "
          f"{m['auprc_singles_product']['mean']:.3f} +- {m['auprc_singles_product']['sd']:.3f}, chance "
          f"{m['chance']['mean']:.3f}")
