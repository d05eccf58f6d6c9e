#!/usr/bin/python3
"""In vivo study (issue 12, docs/in_vivo.md): simulated mosaic screens fitted with and without
the niche coupling, over seeds.

usage: bench/in_vivo_study.py DECK OUT [--seeds 5] [--ranks 2] [--exe build/src/perturbfit] [--set k=v ...]
                               [--engraftment-sd X]

Per seed: `simulate DECK --set run.seed=s`, then `fit` with fit.niche = off and = coupled
(the same split, the same settings otherwise). Reported per fit: held-out (test) MSE of the
effects over all test groups, over the test groups that knock down a ligand gene and over
the others; the train data term; wall time. For the coupled fit, recovery of the niche map
M = U Gamma (G x L: how a unit of each ligand's animal mean moves each gene's activation):
the Pearson correlation of the fitted map (per unit of expression: divided by the ligand's
scale) with the truth's over all entries; and the spread of the true niche factors between
animals (what the data can identify the coupling from). --engraftment-sd replaces the
transplant step's engraftment_sd (a protocol key, which --set cannot reach) in a copy of the
deck written to OUT. Writes OUT/in_vivo_study.json and
prints a Markdown table."""
import json
import os
import re
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from study_common import launch, run_fit_json, simulate_seed, stat, study_arguments  # noqa: E402


def strings(ds):
    return [s.decode() if isinstance(s, bytes) else str(s) for s in ds[:]]


def group_mse(fit_h5, ligands):
    """Test MSE of effects: all, ligand knockdowns, others (None where no group)."""
    with h5py.File(fit_h5) as f:
        split = strings(f["groups/split"])
        pert = strings(f["groups/perturbation"])
        err = np.mean((f["groups/predicted_effect"][:] - f["groups/observed_effect"][:]) ** 2, axis=1)
    test = np.array([s == "test" for s in split])
    ligand = np.array([any(t in ligands for t in p.split("+")) for p in pert])
    out = {}
    for name, mask in (("all", test), ("ligand", test & ligand), ("other", test & ~ligand)):
        out[name] = float(err[mask].mean()) if mask.any() else None
        out[name + "_groups"] = int(mask.sum())
    return out


def niche_map_recovery(fit_h5, truth_h5):
    with h5py.File(truth_h5) as t, h5py.File(fit_h5) as f:
        genes_t = strings(t["genes"])
        ligand_idx = t["niche/ligand_genes"][:]
        ligands_t = [genes_t[i] for i in ligand_idx]
        m_true = t["parameters/U"][:] @ t["niche/gamma"][:]  # G x L per unit of expression
        genes_f = strings(f["genes"])
        ligands_f = strings(f["niche/ligand_genes"])
        scale = f["scale"][:]
        m_fit = f["parameters/U"][:] @ f["niche/gamma"][:]  # nodes x L per model unit
        factors = t["niche/factors"][:]
    row = {g: i for i, g in enumerate(genes_f)}
    col = [ligands_f.index(name) for name in ligands_t]
    rows = [row[g] for g in genes_t if g in row]
    true_rows = [i for i, g in enumerate(genes_t) if g in row]
    fit = m_fit[np.ix_(rows, col)] / scale[[genes_f.index(n) for n in ligands_t]]
    true = m_true[true_rows]
    return {"niche_map_pearson": float(np.corrcoef(fit.ravel(), true.ravel())[0, 1]),
            "true_factor_spread": float(np.max(np.ptp(factors, axis=0))),
            "true_factor_scale": float(np.max(np.abs(factors)))}


def main():
    ap = study_arguments()
    ap.add_argument("--engraftment-sd", type=float)
    args, mpirun, overrides = launch(ap)
    os.makedirs(args.out, exist_ok=True)
    if args.engraftment_sd is not None:
        text = open(args.deck).read()
        key = re.search(r"^engraftment_sd = .*$", text, re.M)
        if not key:
            sys.exit(f"{args.deck} has no engraftment_sd line to replace")
        copy = os.path.join(os.path.abspath(args.out), "deck.toml")
        open(copy, "w").write(text.replace(key.group(0), f"engraftment_sd = {args.engraftment_sd}"))
        args.deck = copy
    rows = []
    for seed in range(1, args.seeds + 1):
        base = os.path.join(args.out, f"seed{seed}")
        screen = simulate_seed(args, overrides, seed)
        with h5py.File(os.path.join(screen, "truth.h5")) as t:
            genes = strings(t["genes"])
            ligands = {genes[i] for i in t["niche/ligand_genes"][:]}
        for mode in ("off", "coupled"):
            out = os.path.join(base, mode)
            summary = run_fit_json(mpirun + [args.exe, "fit", args.deck, "--data", os.path.join(screen, "screen.h5ad"),
                                             "-o", out, "--force", "--json", "-q", "--set", f"run.seed={seed}",
                                             "--set", f"fit.niche={mode}", *overrides])
            row = {"seed": seed, "niche": mode, "wall_seconds": summary["wall_seconds"],
                   "iterations": summary["iterations"], "train_data": summary["final_loss"]["data"],
                   **{f"test_mse_{k}": v for k, v in group_mse(os.path.join(out, "fit.h5"), ligands).items()}}
            if mode == "coupled":
                row.update(niche_map_recovery(os.path.join(out, "fit.h5"), os.path.join(screen, "truth.h5")))
            print(json.dumps(row), flush=True)
            rows.append(row)
    table = {}
    for mode in ("off", "coupled"):
        sel = [r for r in rows if r["niche"] == mode]
        table[mode] = {k: stat([r.get(k) for r in sel]) for k in
                       ("test_mse_all", "test_mse_ligand", "test_mse_other", "train_data", "wall_seconds",
                        "niche_map_pearson", "true_factor_spread", "true_factor_scale")}
    json.dump({"deck": args.deck, "seeds": args.seeds, "ranks": args.ranks, "overrides": args.set, "runs": rows,
               "summary": table}, open(os.path.join(args.out, "in_vivo_study.json"), "w"), indent=1)

    def fmt(s):
        return "n/a" if s is None else f"{s['mean']:.4f} ± {s['sd']:.4f}"
    print("\n| fit.niche | test MSE effect | ligand KDs | other KDs | train data term | wall s | niche map r |")
    print("|---|---|---|---|---|---|---|")
    for mode in ("off", "coupled"):
        s = table[mode]
        print(f"| {mode} | {fmt(s['test_mse_all'])} | {fmt(s['test_mse_ligand'])} | {fmt(s['test_mse_other'])} | "
              f"{fmt(s['train_data'])} | {fmt(s['wall_seconds'])} | {fmt(s['niche_map_pearson'])} |")


if __name__ == "__main__":
    main()
