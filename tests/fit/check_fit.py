#!/usr/bin/python3
"""End-to-end fit of the simulated quickstart screen (issue 5's acceptance): the model
beats the control-mean baseline on held-out perturbations; fit.h5 holds what it promises,
and its observed profiles equal a recomputation from screen.h5ad with anndata + scipy;
metrics.json has every metric and the truth recovery beats a random ranking.

usage: check_fit.py PERTURBFIT MPIRUN DECK WORKDIR"""
import json
import os
import shutil
import subprocess
import sys

import anndata
import h5py
import numpy as np

exe, mpirun, deck, work = sys.argv[1:5]
shutil.rmtree(work, ignore_errors=True)
sim, out = os.path.join(work, "sim"), os.path.join(work, "fit")
subprocess.run([mpirun, "2", exe, "simulate", deck, "-o", sim, "-q"], check=True)
screen = os.path.join(sim, "screen.h5ad")
res = subprocess.run([mpirun, "2", exe, "fit", deck, "--data", screen, "--set", f"fit.truth={sim}/truth.h5",
                      "-o", out, "--json", "-q"], capture_output=True, text=True)
assert res.returncode == 0, res.stderr
summary = json.loads(res.stdout)
metrics = json.load(open(os.path.join(out, "metrics.json")))
assert metrics["final_loss"] == summary["final_loss"]

test = metrics["metrics"]
for predictor in ("model", "control_mean", "linear"):
    for key in ("groups", "mse_expression", "mse_effect", "pearson_effect", "pearson_effect_top20"):
        assert key in test[predictor]["test"], (predictor, key)
model, control = test["model"]["test"], test["control_mean"]["test"]
print(f"test MSE of expression: model {model['mse_expression']:.5f}, control mean {control['mse_expression']:.5f}, "
      f"linear {test['linear']['test']['mse_expression']:.5f}; Pearson of effects: model {model['pearson_effect']:.3f}")
assert model["mse_expression"] < control["mse_expression"], "the fit does not beat the control-mean baseline"
assert model["mse_effect"] < control["mse_effect"]
assert model["pearson_effect"] > 0.5
truth = metrics["truth_recovery"]
print(f"AUPRC(W) {truth['auprc_W']:.3f} vs random {truth['auprc_W_random']:.3f}; kappa {truth['kappa_fit']:.3f} "
      f"vs true mean {truth['kappa_true_mean']:.3f}")
assert truth["auprc_W"] > 2 * truth["auprc_W_random"]
assert metrics["failed_steady_states"] == 0 and metrics["unstable_steady_states"] == 0

with h5py.File(os.path.join(out, "fit.h5"), "r") as f:
    genes = [g.decode() for g in f["genes"][:]]
    G = len(genes)
    n = f["groups/observed"].shape[0]
    for name in ("observed", "predicted", "observed_effect", "predicted_effect"):
        assert f["groups/" + name].shape == (n, G), name
    splits = {s.decode() for s in f["groups/split"][:]}
    assert splits == {"train", "validation", "test"}, splits
    assert len(f["history/loss"]) == metrics["iterations"] + 1
    loss = f["history/loss"][:]
    assert np.all(np.isfinite(loss)) and loss[-1] < loss[0], (loss[0], loss[-1])
    assert f["parameters/W/data"].shape[0] == metrics["edges_in_support"]
    assert np.all(f["steady_states/converged"][:] == 1)
    eps = f.attrs["pseudocount"]
    pert = [p.decode() for p in f["groups/perturbation"][:]]
    batch = [b.decode() for b in f["groups/batch"][:]]
    observed = f["groups/observed"][:]

# The observed profile of a few groups, recomputed independently from the h5ad.
adata = anndata.read_h5ad(screen)
X = adata.X.tocsr()
totals = np.asarray(X.sum(axis=1)).ravel()
s = totals / totals.mean()
norm = X.multiply(1.0 / s[:, None]).tocsr()
assert list(adata.var_names) == genes
for row in range(0, n, max(1, n // 7)):
    mask = ((adata.obs["perturbation"] == pert[row]) & (adata.obs["batch"] == batch[row])).to_numpy()
    expected = np.log(eps + np.asarray(norm[mask].mean(axis=0)).ravel())
    assert np.allclose(observed[row], expected, rtol=1e-10, atol=1e-12), (pert[row], batch[row])
print("OK")

# `predict --groups test` on this fit reproduces its held-out predictions exactly (issue 14).
pred = os.path.join(work, "predict")
subprocess.run([mpirun, "2", exe, "predict", deck, "--data", screen, "--set", f"fit.truth={sim}/truth.h5",
                "--model", os.path.join(out, "fit.h5"), "--groups", "test", "-o", pred, "-q"], check=True)
p = anndata.read_h5ad(os.path.join(pred, "predictions.h5ad"))
with h5py.File(os.path.join(out, "fit.h5"), "r") as f:
    keys = list(zip([x.decode() for x in f["/groups/perturbation"][:]], [x.decode() for x in f["/groups/batch"][:]]))
    split = [x.decode() for x in f["/groups/split"][:]]
    rows = {k: f["/groups/predicted"][i] for i, k in enumerate(keys) if split[i] == "test"}
assert p.n_obs == len(rows), (p.n_obs, len(rows))
worst = max(np.abs(p.X[i] - rows[(a, b)]).max() for i, (a, b) in enumerate(zip(p.obs["perturbation"], p.obs["batch"])))
print(f"predict --groups test: {p.n_obs} rows, largest difference from fit.h5 {worst}")
assert worst == 0.0, worst
