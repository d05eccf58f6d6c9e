"""design end to end on tests/data/fit_small.toml (30 perturbations).

usage: check_design.py EXE MPIRUN DECK WORKDIR

The closed form is checked on one simulated network with independent cells: a screen of 8
batches (64,000 cells) is split into two screens of 4 batches (anndata). sigma^2 estimated by `design --from`
on the first equals an independent recomputation (anndata + numpy); the variance it predicts
for batch-replicate differences matches the one measured on the second screen (within 10%), at
its own cell counts and with half of its cells (the 1/n scaling), and the design's plan of
the second screen's size predicts it too. A screen
without batch replicates gives sigma^2 from split halves of its groups (within 15% of the
batch replicates' on the same network). tau^2
from guide pairs is ~0 without guide-to-guide variation (kappa_sd 0) and the same at 8000 and
32000 cells with it (kappa_sd 0.3). The recommended controls follow the square-root rule; in simulate -> fit (--simulate, 3 seeds,
the same 8000 cells) the recommended allocation's effect estimates have a lower error (the
test split's replicate noise floor) than those of a plan with 3% controls, at every seed; the
model's held-out error is reported.
"""
import json
import os
import shutil
import sys
from itertools import combinations

import anndata
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from launch import run  # noqa: E402

exe, mpirun, deck, work = sys.argv[1:5]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
EPS = 0.1  # fit.pseudocount's default
MEASURE = 4  # fit_small's measure step


def replicate_moments(a):
    """sum over replicate pairs of d^2 per gene, sum over pairs of the 1/n terms, pairs."""
    X = a.X.tocsr().astype(float)
    total = np.asarray(X.sum(axis=1)).ravel()
    norm = X.multiply(1.0 / (total / total.mean())[:, None]).tocsr()
    pert, batch = a.obs["perturbation"].astype(str).to_numpy(), a.obs["batch"].astype(str).to_numpy()
    y, n = {}, {}
    for key in set(zip(pert, batch)):
        mask = (pert == key[0]) & (batch == key[1])
        y[key] = np.log(EPS + np.asarray(norm[mask].mean(axis=0)).ravel())
        n[key] = mask.sum()
    sq, weight, pairs = np.zeros(X.shape[1]), 0.0, 0
    for p in set(pert) - {"control"}:
        for b1, b2 in combinations(sorted({b for (q, b) in y if q == p}), 2):
            d = (y[(p, b1)] - y[("control", b1)]) - (y[(p, b2)] - y[("control", b2)])
            sq += d * d
            weight += 1 / n[(p, b1)] + 1 / n[(p, b2)] + 1 / n[("control", b1)] + 1 / n[("control", b2)]
            pairs += 1
    return sq, weight, pairs


full = os.path.join(work, "full")
run(exe, mpirun, 1, "simulate", deck, "-o", full, "-q", "--set", f"protocol.{MEASURE}.batches=8", "--set",
    f"protocol.{MEASURE}.cells=64000")
screen = anndata.read_h5ad(os.path.join(full, "screen.h5ad"))
batches = sorted(screen.obs["batch"].astype(str).unique())
first = screen[screen.obs["batch"].astype(str).isin(batches[:4]).to_numpy()].copy()
second = screen[screen.obs["batch"].astype(str).isin(batches[4:]).to_numpy()].copy()
first_path = os.path.join(work, "first.h5ad")
first.write_h5ad(first_path)
res = run(exe, mpirun, 2, "design", deck, "--from", first_path, "--set", f"protocol.{MEASURE}.cells={second.n_obs}",
          "--set", f"protocol.{MEASURE}.batches=4", "-o", os.path.join(work, "design"), "--json", "-q")
report = json.loads(res.stdout)
sq, weight, pairs = replicate_moments(first)
sigma2 = float((sq / weight).mean())
print(f"sigma^2: design {report['sigma2']:.6g}, recomputed {sigma2:.6g} ({pairs} replicate pairs)")
assert abs(report["sigma2"] - sigma2) <= 1e-6 * sigma2, (report["sigma2"], sigma2)

rng = np.random.default_rng(0)
half = second[rng.random(second.n_obs) < 0.5].copy()
for name, data in (("the second screen", second), ("half of its cells", half)):
    sq_b, weight_b, pairs_b = replicate_moments(data)
    measured = float(sq_b.mean() / pairs_b)  # mean squared replicate difference per gene and pair
    predicted = report["sigma2"] * weight_b / pairs_b  # at its own cell counts
    print(f"replicate-difference variance, {name} ({data.n_obs} cells): measured {measured:.6g}, predicted "
          f"{predicted:.6g} ({predicted / measured - 1:+.1%})")
    assert abs(predicted / measured - 1) < 0.10
    if data is second:
        plan = report["at_plan"]["replicate_difference_variance"]  # the plan's average counts
        print(f"  the design's plan of {data.n_obs} cells in 4 batches predicts {plan:.6g} ({plan / measured - 1:+.1%})")
        assert abs(plan / measured - 1) < 0.10

# A screen without batch replicates: sigma^2 from split halves of its groups, close to the
# batch replicates' estimate on the same network with 2 batches.
estimates = {}
for batches in (1, 2):
    out = os.path.join(work, f"batches{batches}")
    run(exe, mpirun, 1, "simulate", deck, "-o", out, "-q", "--set", f"protocol.{MEASURE}.batches={batches}")
    r = json.loads(run(exe, mpirun, 2, "design", deck, "--from", os.path.join(out, "screen.h5ad"), "-o",
                       out + "-design", "--json", "-q").stdout)
    estimates[batches] = (r["noise_source"]["source"].split(" of ")[0], r["sigma2"])
print(f"sigma^2 by {estimates[1][0]} (1 batch) {estimates[1][1]:.5f}, by {estimates[2][0]} (2 batches) "
      f"{estimates[2][1]:.5f}")
assert estimates[1][0] == "split halves" and estimates[2][0] == "batch replicates"
assert abs(estimates[1][1] / estimates[2][1] - 1) < 0.15

# tau^2 from guide pairs: none without guide-to-guide variation of the knockdown, the same
# at any depth with it (it does not scale with cells).
tau = {}
for ksd, cells in ((0, 16000), (0.3, 8000), (0.3, 32000)):
    out = os.path.join(work, f"tau-{ksd}-{cells}")
    sets = ["--set", f"protocol.2.kappa_sd={ksd}", "--set", f"protocol.{MEASURE}.cells={cells}"]
    run(exe, mpirun, 1, "simulate", deck, "-o", out, "-q", *sets)
    res = run(exe, mpirun, 2, "design", deck, "--from", os.path.join(out, "screen.h5ad"), "-o", out + "-design",
              "--json", "-q")
    r = json.loads(res.stdout)
    assert r["noise_source"]["guide_pairs"] > 0 and "guide pairs" in r["noise_source"]["tau2_source"], r["noise_source"]
    tau[(ksd, cells)] = r["tau2"]
print(f"tau^2: kappa_sd 0 {tau[(0, 16000)]:.5f}; kappa_sd 0.3 {tau[(0.3, 8000)]:.5f} at 8000 cells, "
      f"{tau[(0.3, 32000)]:.5f} at 32000")
assert tau[(0, 16000)] < 0.05 * tau[(0.3, 8000)]
assert abs(tau[(0.3, 8000)] / tau[(0.3, 32000)] - 1) < 0.15

P = report["plan"]["perturbations"]
rec = report["recommended"]
assert abs(rec["controls_fraction"] - np.sqrt(P) / (P + np.sqrt(P))) < 1e-12
per_batch = report["at_plan"]["perturbed_cells_per_batch_and_perturbation"]
assert abs(rec["control_cells_per_batch"] - per_batch * np.sqrt(P)) < 1e-9 * per_batch * np.sqrt(P)
assert rec["precision"]["variance"] <= report["at_plan"]["variance"] * (1 + 1e-12)

# Allocation by simulation: 3% controls against the recommended fraction, the same 8000 cells.
res = run(exe, mpirun, 2, "design", deck, "--sigma2", str(report["sigma2"]), "--set",
          "protocol.2.controls_fraction=0.03", "--simulate", "--seeds", "3", "-o", os.path.join(work, "allocation"),
          "--json", "-q")
study = json.loads(res.stdout)["simulation"]["points"]
assert len(study) == 2 and abs(study[0]["controls_fraction"] - 0.03) < 1e-12
assert study[0]["cells"] == study[1]["cells"] == 8000
poor, best = study
print("simulate -> fit, 3 seeds, 8000 cells: effect-estimate error (test noise floor) "
      f"{np.round(poor['test_effect_noise_floor'], 5).tolist()} at 3% controls, "
      f"{np.round(best['test_effect_noise_floor'], 5).tolist()} at the recommended {best['controls_fraction']:.3f}; "
      f"model test MSE of effects {poor['test_mse_effect']['model']['mean']:.5f} and "
      f"{best['test_mse_effect']['model']['mean']:.5f}")
assert all(b < p for b, p in zip(best["test_effect_noise_floor"], poor["test_effect_noise_floor"]))
res = run(exe, mpirun, 1, "design", deck, "-o", os.path.join(work, "bad"), "-q", check=False)
assert res.returncode == 2 and "--sigma2" in res.stderr, res.stderr
print("design: all checks passed")
