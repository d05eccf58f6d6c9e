#!/usr/bin/python3
"""Selection study (issue 12, docs/in_vivo.md "Selection"): guide-abundance read-outs fitted
with expression, over seeds.

usage: bench/selection_study.py DECK OUT [--seeds 5] [--ranks 2] [--exe build/src/perturbfit] [--set k=v ...]
                                [--without-l1]

Per seed: `simulate DECK --set run.seed=s` (the deck counts guides before and after an
expand step), then three fits on the same split: expression only (no guide counts), with
the guide counts (defaults), and with them and a sparsity prior on phi
(fit.lambda_fitness_l1 = 1e-3). Reported: the held-out (test) MSE of every
perturbation's log change of guide share relative to controls, for the model and the
baselines no_selection (0) and train_mean; its Pearson r; the noise floor (the truth's
phi on the truth's states, against the same observed changes: what counting noise leaves);
the test MSE of expression effects (does the abundance term change the expression fit?);
wall time. Writes OUT/selection_study.json and prints a Markdown table."""
import json
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from study_common import launch, metric_values, run_fit_json, simulate_seed, stat, study_arguments  # noqa: E402


def strings(ds):
    return [s.decode() if isinstance(s, bytes) else str(s) for s in ds[:]]


def oracle_changes(screen):
    """Per (perturbation, series), the change of its guides' share the truth predicts from the
    start counts (dw/dt = (r0 + phi . x) w at the steady states), and the observed one. A
    series is the culture, or an animal after a transplant (its classes' states are its own)."""
    with h5py.File(os.path.join(screen, "truth.h5")) as t:
        phi, states = t["parameters/fitness"][:], t["states/snapshot0"][:]
        guides, perts = strings(t["classes/guide"]), strings(t["classes/perturbation"])
        animal = t["classes/animal"][:] if "classes/animal" in t else [-1] * len(guides)
    series = [f"animal{a}" if a >= 0 else "population" for a in animal]
    rows = [line.rstrip("\n").split("\t") for line in open(os.path.join(screen, "guide_counts.tsv"))][1:]
    times = sorted({float(r[4]) for r in rows})
    dt = times[-1] - times[0]
    counts = {(r[0], r[2], float(r[4])): int(r[5]) for r in rows}
    growth = {(g, b): dt * phi @ states[k] for k, (g, b) in enumerate(zip(guides, series))}
    members = {}
    for g, p, b in zip(guides, perts, series):
        members.setdefault((p, b), []).append(g)

    def change(gs, b):
        c0 = sum(counts[(g, b, times[0])] for g in gs)
        c1 = sum(counts[(g, b, times[-1])] for g in gs)
        if c0 == 0:
            return None
        expected = np.log(sum(counts[(g, b, times[0])] * np.exp(growth[(g, b)]) for g in gs) / c0)
        return np.log((c1 + 0.5) / (c0 + 0.5)), expected
    out = {}
    for (p, b), gs in members.items():
        if p == "control":
            continue
        mine, control = change(gs, b), change(members[("control", b)], b)
        if mine is not None and control is not None:
            out.setdefault(p, []).append((mine[0] - control[0], mine[1] - control[1]))
    return out


def fitness_recovery(screen, fit_h5):
    """Pearson r of the fitted phi (per model unit z = x / control level) with the truth's,
    phi_n x_control_n, over the measured genes, and over the targets of training perturbations
    (whose own knockdown shows their weight) and the other genes (seen only through effects)."""
    with h5py.File(os.path.join(screen, "truth.h5")) as t:
        genes_t = strings(t["genes"])
        true = t["parameters/fitness"][:] * t["control/steady_state"][:]
    with h5py.File(fit_h5) as f:
        genes_f = strings(f["genes"])
        fitted = f["parameters/fitness"][:len(genes_f)]
        trained = {p for p, s in zip(strings(f["groups/perturbation"]), strings(f["groups/split"])) if s == "train"}
    index = {g: i for i, g in enumerate(genes_t)}
    pairs = [(fitted[i], true[index[g]], g in trained) for i, g in enumerate(genes_f) if g in index]
    out = {}
    for name, keep in (("all", lambda t: True), ("trained_targets", lambda t: t), ("others", lambda t: not t)):
        a = np.array([(x, y) for x, y, t in pairs if keep(t)])
        out[f"phi_pearson_{name}"] = float(np.corrcoef(a[:, 0], a[:, 1])[0, 1]) if len(a) > 2 and a[:, 1].std() > 0 else None
    return out


def test_perturbations(fit_h5):
    with h5py.File(fit_h5) as f:
        return {p for p, s in zip(strings(f["groups/perturbation"]), strings(f["groups/split"])) if s == "test"}


def main():
    ap = study_arguments()
    ap.add_argument("--without-l1", action="store_true", help="skip the fit with the L1 prior on phi")
    args, mpirun, overrides = launch(ap)
    os.makedirs(args.out, exist_ok=True)
    variants = (("expression only", ["--set", "data.guide_counts="]),
                ("with guide counts", []),
                ("with guide counts, L1 on phi", ["--set", "fit.lambda_fitness_l1=1e-3"]))
    if args.without_l1:
        variants = variants[:2]
    rows = []
    for seed in range(1, args.seeds + 1):
        base = os.path.join(args.out, f"seed{seed}")
        screen = simulate_seed(args, overrides, seed, "guide_counts.tsv")
        oracle = oracle_changes(screen)
        for k, (name, extra) in enumerate(variants):
            out = os.path.join(base, f"fit{k}")
            summary = run_fit_json(mpirun + [args.exe, "fit", args.deck, "--data", os.path.join(screen, "screen.h5ad"),
                                             "--set", f"data.guide_counts={os.path.join(screen, 'guide_counts.tsv')}",
                                             "-o", out, "--force", "--json", "-q", "--set", f"run.seed={seed}",
                                             *overrides, *extra])
            row = {"seed": seed, "fit": name, "wall_seconds": summary["wall_seconds"],
                   "test_mse_effect": metric_values([summary], "model", "test", "mse_effect")[0]}
            if "abundance" in summary:
                for subset, tag in (("test", "test"), ("test/single", "single"),
                                    ("test/combination (singles seen)", "pair")):
                    s = summary["abundance"].get(subset)
                    if s is None:
                        continue
                    row.update({f"abundance_{tag}_mse_model": s["mse"]["model"],
                                f"abundance_{tag}_mse_no_selection": s["mse"]["no_selection"],
                                f"abundance_{tag}_mse_train_mean": s["mse"]["train_mean"],
                                f"abundance_{tag}_pearson": s["pearson_model"],
                                f"abundance_{tag}_observations": s["observations"],
                                f"abundance_{tag}_fallbacks": s["fallback_observations"]})
                held = [pair for p in test_perturbations(os.path.join(out, "fit.h5")) for pair in oracle.get(p, [])]
                row["abundance_test_mse_noise_floor"] = float(np.mean([(o - e) ** 2 for o, e in held]))
                row.update(fitness_recovery(screen, os.path.join(out, "fit.h5")))
            print(json.dumps(row), flush=True)
            rows.append(row)
    keys = [f"abundance_{tag}_{k}" for tag in ("test", "single", "pair")
            for k in ("mse_model", "mse_no_selection", "mse_train_mean", "pearson", "observations", "fallbacks")]
    keys += ["abundance_test_mse_noise_floor", "phi_pearson_all", "phi_pearson_trained_targets", "phi_pearson_others",
             "test_mse_effect", "wall_seconds"]
    table = {name: {k: stat([r.get(k) for r in rows if r["fit"] == name]) for k in keys} for name, _ in variants}
    json.dump({"deck": args.deck, "seeds": args.seeds, "ranks": args.ranks, "overrides": args.set, "runs": rows,
               "summary": table}, open(os.path.join(args.out, "selection_study.json"), "w"), indent=1)

    def fmt(s, digits=4):
        return "n/a" if s is None else f"{s['mean']:.{digits}f} ± {s['sd']:.{digits}f}"
    print("\n| fit | held-out | observations | guide change MSE: model | no selection | train mean | Pearson r |")
    print("|---|---|---|---|---|---|---|")
    for name, _ in variants[1:]:
        s = table[name]
        for tag, what in (("test", "all test"), ("single", "singles (fallback)"), ("pair", "pairs of trained singles")):
            print(f"| {name} | {what} | {fmt(s[f'abundance_{tag}_observations'], 1)} | "
                  f"{fmt(s[f'abundance_{tag}_mse_model'])} | {fmt(s[f'abundance_{tag}_mse_no_selection'])} | "
                  f"{fmt(s[f'abundance_{tag}_mse_train_mean'])} | {fmt(s[f'abundance_{tag}_pearson'], 2)} |")
    print("\n| fit | noise floor (test) | phi r: trained targets | phi r: other genes | expression effect test MSE | wall s |")
    print("|---|---|---|---|---|---|")
    for name, _ in variants:
        s = table[name]
        print(f"| {name} | {fmt(s['abundance_test_mse_noise_floor'])} | {fmt(s['phi_pearson_trained_targets'], 2)} | "
              f"{fmt(s['phi_pearson_others'], 2)} | {fmt(s['test_mse_effect'])} | {fmt(s['wall_seconds'], 1)} |")


if __name__ == "__main__":
    main()
