#!/usr/bin/python3
"""Figures of a fit and of what was made from it (PNG, matplotlib from Debian's python3-matplotlib).

usage: tools/plot.py FITDIR -o FIGDIR [--export EXPORTDIR] [--design DESIGN.json] [--genes G1,G2]

From FITDIR (the output of `perturbfit fit`):
  loss_history.png            training loss (data, steady-state and regulariser terms) and the
                              validation loss per iteration
  predicted_vs_observed.png   predicted against observed effects (log scale, every gene of
                              every group) per split and kind of held-out perturbation
  metrics.png                 MSE of effects on the test split by predictor (model, baselines,
                              the replicate noise ceiling), per kind of held-out perturbation
From EXPORTDIR (`perturbfit export`):
  network.png                 the SCM's edges around the chosen genes (--genes, default the
                              total-effect sources of the export): regulators and targets at
                              distance 1, edge width |B|, red activating, blue repressing
From DESIGN.json (`perturbfit design --json` output or its design.json):
  design_curves.png           expected standard error of an effect estimate against the budget
                              (cells per perturbation, controls included), at the plan's and at
                              the recommended controls fraction

Every figure is FIG_WIDTH x FIG_HEIGHT inches at DPI (the PNGs are FIG_WIDTH*DPI pixels wide).
Run with /usr/bin/python3 (Debian's interpreter, which has matplotlib, h5py and numpy).
"""
import argparse
import csv
import json
import math
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

FIG_WIDTH, FIG_HEIGHT, DPI = 8.0, 5.0, 100
MAX_POINTS = 20000  # scatter points per panel (a random subset beyond)


def save(fig, path):
    fig.set_size_inches(FIG_WIDTH, FIG_HEIGHT)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    print(path)


def loss_history(fit_h5, out):
    with h5py.File(fit_h5, "r") as f:
        h = {k: f["/history/" + k][:] for k in f["/history"].keys()}
    fig, ax = plt.subplots()
    it = h["iteration"]
    for key, label in (("loss", "training loss"), ("data", "data term"), ("steady_state", "steady-state term"),
                       ("regulariser", "regulariser"), ("validation", "validation loss")):
        y = h.get(key)
        if y is None:
            continue
        ok = np.isfinite(y) & (y > 0)
        if ok.any():
            ax.plot(it[ok], y[ok], label=label, marker="." if key == "validation" else None,
                    linestyle="none" if key == "validation" else "-")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title("fit: loss history")
    ax.legend(fontsize=8)
    save(fig, os.path.join(out, "loss_history.png"))


def predicted_vs_observed(fit_h5, out):
    with h5py.File(fit_h5, "r") as f:
        split = np.array([x.decode() for x in f["/groups/split"][:]])
        pert = np.array([x.decode() for x in f["/groups/perturbation"][:]])
        obs, pred = f["/groups/observed_effect"][:], f["/groups/predicted_effect"][:]
    combo = np.array(["+" in p for p in pert])
    panels = [("train", split == "train"), ("validation", split == "validation"),
              ("test: singles", (split == "test") & ~combo), ("test: combinations", (split == "test") & combo)]
    fig, axes = plt.subplots(1, 4, sharex=True, sharey=True)
    rng = np.random.default_rng(0)
    lim = max(1e-3, float(np.nanmax(np.abs(obs))) if obs.size else 1.0)
    for ax, (title, mask) in zip(axes, panels):
        x, y = obs[mask].ravel(), pred[mask].ravel()
        if x.size > MAX_POINTS:
            keep = rng.choice(x.size, MAX_POINTS, replace=False)
            x, y = x[keep], y[keep]
        ax.scatter(x, y, s=2, alpha=0.3)
        ax.plot([-lim, lim], [-lim, lim], color="grey", linewidth=0.8)
        r = np.corrcoef(x, y)[0, 1] if x.size > 2 and np.std(x) > 0 and np.std(y) > 0 else float("nan")
        ax.set_title(f"{title}\n{int(mask.sum())} groups, r = {r:.2f}", fontsize=9)
        ax.set_xlabel("observed effect")
    axes[0].set_ylabel("predicted effect")
    save(fig, os.path.join(out, "predicted_vs_observed.png"))


def metric_bars(metrics_json, out):
    metrics = json.load(open(metrics_json))["metrics"]
    subsets = [s for s in ("test", "test/single", "test/combination (singles seen)", "test/combination (unseen single)")
               if any(s in metrics.get(p, {}) for p in metrics)]
    predictors = [p for p in ("model", "control_mean", "train_mean", "additive", "linear", "pca_linear", "replicate")
                  if p in metrics]
    fig, ax = plt.subplots()
    width = 0.8 / max(1, len(predictors))
    for i, p in enumerate(predictors):
        values = [metrics[p][s]["mse_effect"] if s in metrics[p] else np.nan for s in subsets]
        ax.bar(np.arange(len(subsets)) + i * width, values, width, label=p)
    ax.set_xticks(np.arange(len(subsets)) + 0.4 - width / 2)
    ax.set_xticklabels([s.replace("test/", "") for s in subsets], fontsize=8)
    ax.set_ylabel("MSE of effects (test)")
    ax.set_title("held-out error by predictor")
    ax.legend(fontsize=7)
    save(fig, os.path.join(out, "metrics.png"))


def network(export_dir, genes, out):
    summary = json.load(open(os.path.join(export_dir, "summary.json")))
    context = summary["contexts"][0]
    centre = genes or context["total_effect_sources"][:3]
    edges = []
    with open(os.path.join(export_dir, "edges.tsv")) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["medium"] == context["medium"] and row["regulator"] != row["target"] and \
                    (row["regulator"] in centre or row["target"] in centre):
                edges.append((row["regulator"], row["target"], float(row["weight"])))
    edges.sort(key=lambda e: -abs(e[2]))
    edges = edges[:60]  # the strongest: a picture, not a table
    nodes = list(dict.fromkeys(list(centre) + [n for e in edges for n in e[:2]]))
    pos = {}
    outer = [n for n in nodes if n not in centre]
    for i, n in enumerate(centre):
        a = 2 * math.pi * i / max(1, len(centre))
        pos[n] = (0.25 * math.cos(a), 0.25 * math.sin(a)) if len(centre) > 1 else (0.0, 0.0)
    for i, n in enumerate(outer):
        a = 2 * math.pi * i / max(1, len(outer))
        pos[n] = (math.cos(a), math.sin(a))
    fig, ax = plt.subplots()
    top = max([abs(e[2]) for e in edges] + [1e-12])
    for s, t, w in edges:
        ax.annotate("", xy=pos[t], xytext=pos[s],
                    arrowprops=dict(arrowstyle="-|>", color="tab:red" if w > 0 else "tab:blue",
                                    linewidth=0.5 + 3 * abs(w) / top, alpha=0.7, shrinkA=8, shrinkB=8))
    for n in nodes:
        ax.scatter(*pos[n], s=200 if n in centre else 60, color="black" if n in centre else "lightgrey",
                   edgecolors="black", zorder=3)
        ax.annotate(n, pos[n], fontsize=7, ha="center", va="bottom", xytext=(0, 6), textcoords="offset points")
    ax.set_xlim(-1.3, 1.3)
    ax.set_ylim(-1.3, 1.3)
    ax.set_axis_off()
    ax.set_title(f"SCM around {', '.join(centre)} (medium {context['medium']}; spectral radius "
                 f"{context['spectral_radius']:.2f})", fontsize=9)
    save(fig, os.path.join(out, "network.png"))


def design_curves(design_json, out):
    design = json.load(open(design_json))
    curves = design["curves"]
    fig, ax = plt.subplots()
    for c in curves:
        ax.plot(c["cells_per_perturbation"], c["standard_error"], marker="o",
                label=f"controls fraction {c['controls_fraction']:.3f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("cells per perturbation (the budget, controls included)")
    ax.set_ylabel("expected standard error of an effect (log scale)")
    ax.set_title("design: precision of effect estimates")
    ax.legend(fontsize=8)
    save(fig, os.path.join(out, "design_curves.png"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("fit", help="output directory of `perturbfit fit` (fit.h5, metrics.json)")
    parser.add_argument("-o", "--output", required=True, help="directory for the PNGs (created if missing)")
    parser.add_argument("--export", help="output directory of `perturbfit export`")
    parser.add_argument("--design", help="design.json of `perturbfit design`")
    parser.add_argument("--genes", help="genes at the centre of the network figure (comma-separated)")
    args = parser.parse_args()
    for needed in ("fit.h5", "metrics.json"):
        if not os.path.exists(os.path.join(args.fit, needed)):
            sys.exit(f"plot.py: {args.fit} has no {needed}: pass the output directory of `perturbfit fit`")
    os.makedirs(args.output, exist_ok=True)
    loss_history(os.path.join(args.fit, "fit.h5"), args.output)
    predicted_vs_observed(os.path.join(args.fit, "fit.h5"), args.output)
    metric_bars(os.path.join(args.fit, "metrics.json"), args.output)
    if args.export:
        network(args.export, args.genes.split(",") if args.genes else None, args.output)
    if args.design:
        design_curves(args.design, args.output)


if __name__ == "__main__":
    main()
