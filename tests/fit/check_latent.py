#!/usr/bin/python3
"""Issue 6's acceptance: a simulated screen whose targets are all outside the measured
panel. `inspect` reports them as latent nodes; the fit models them (fit.h5: /genes = the
panel = var, /latent_nodes = the targets, W with latent out-edges), beats the control-mean
and training-mean baselines on held-out perturbations (overall and on combinations of seen
singles), recovers the hidden targets' out-edges better than chance, and reports the
replicate noise ceiling. The steady-state term works over the joint state. With
data.missing_targets = error the screen is refused, with skip nothing is left to fit:
both name the option.

usage: check_latent.py PERTURBFIT MPIRUN DECK SCREEN_DIR WORKDIR"""
import json
import os
import shutil
import subprocess
import sys

import anndata
import h5py
import numpy as np

exe, mpirun, deck, sim, work = sys.argv[1:6]
shutil.rmtree(work, ignore_errors=True)
screen, truth = os.path.join(sim, "screen.h5ad"), os.path.join(sim, "truth.h5")
adata = anndata.read_h5ad(screen)
with h5py.File(truth) as t:
    genes = [g.decode() for g in t["genes"][:]]
    panel = t["panel"][:]
assert list(adata.var_names) == [genes[i] for i in panel], "var is not the truth's panel"
targets = sorted({t for p in adata.obs["perturbation"].unique() if p != "control" for t in p.split("+")})
assert not set(targets) & set(adata.var_names), "a target is in the panel"

r = subprocess.run([exe, "inspect", screen, "--json", "-q"], capture_output=True, text=True)
assert r.returncode == 0, r.stderr
report = json.loads(r.stdout)
assert report["targets"]["not_in_var"] == targets and report["targets"]["not_in_var_action"] == "latent nodes"
r = subprocess.run([exe, "inspect", screen, "--strict", "-q", "--set", "data.missing_targets=error"],
                   capture_output=True, text=True)
assert r.returncode == 3 and "data.missing_targets" in r.stderr, r.stderr

out = os.path.join(work, "fit")
r = subprocess.run([mpirun, "2", exe, "fit", deck, "--data", screen, "--set", f"fit.truth={truth}", "-o", out, "-q"],
                   capture_output=True, text=True)
assert r.returncode == 0, r.stderr
print(r.stdout)
report = json.load(open(os.path.join(out, "metrics.json")))
metrics = report["metrics"]
model, control, mean, ceiling = (metrics[k]["test"] for k in ("model", "control_mean", "train_mean", "replicate"))
print(f"test MSE of effects: model {model['mse_effect']:.5f}, control mean {control['mse_effect']:.5f}, "
      f"train mean {mean['mse_effect']:.5f}, replicates {ceiling['mse_effect']:.5f} "
      f"(noise floor {ceiling['noise_floor_mse_effect']:.5f})")
assert model["mse_expression"] < control["mse_expression"], "the latent-node model does not beat the control mean"
assert model["mse_effect"] < control["mse_effect"] and model["mse_effect"] < mean["mse_effect"]
assert model["pearson_effect"] > 0.2, model
# Combinations of seen singles: the model composes what it learned of each hidden target.
combo = "test/combination (singles seen)"
assert metrics["model"][combo]["mse_effect"] < metrics["control_mean"][combo]["mse_effect"], metrics["model"][combo]
assert ceiling["groups"] == model["groups"] and ceiling["noise_floor_mse_effect"] < ceiling["mse_effect"]
assert "linear" not in metrics or "test" not in metrics["linear"], "linear baseline without a measured target"
latent = report["truth_recovery"]["latent_out_edges"]
print(f"edges from latent nodes: AUPRC {latent['auprc']:.3f} (random {latent['auprc_random']:.3f})")
assert latent["auprc"] > 3 * latent["auprc_random"], latent
with h5py.File(os.path.join(out, "fit.h5")) as f:
    assert [g.decode() for g in f["genes"][:]] == list(adata.var_names)
    nodes = [g.decode() for g in f["latent_nodes"][:]]  # the latent targets, then the shared-response node(s)
    assert nodes[:len(targets)] == targets and all(n.startswith("(shared response") for n in nodes[len(targets):]), nodes
    G, L, N = adata.n_vars, len(targets), adata.n_vars + len(nodes)
    indptr, indices, data = f["parameters/W/indptr"][:], f["parameters/W/indices"][:], f["parameters/W/data"][:]
    assert len(indptr) == N + 1 and len(f["parameters/v"][:]) == N
    assert indptr[G] == indptr[-1], "an unobserved node has in-edges without a prior"
    latent_out = np.abs(data[(indices >= G) & (indices < G + L)])  # edges from latent targets to measured genes
    assert 0 < latent_out.size <= G * L and latent_out.max() > 0, "latent nodes regulate nothing"
    assert f["groups/observed"].shape[1] == G

# The steady-state term over a joint state: latent nodes at the model's control steady state.
r = subprocess.run([exe, "fit", deck, "--data", screen, "-o", os.path.join(work, "fit_ss"), "-q", "--set", "fit.truth=",
                    "--set", "fit.lambda_ss=1", "--set", "fit.max_iterations=30"], capture_output=True, text=True)
assert r.returncode == 0, r.stderr
assert json.load(open(os.path.join(work, "fit_ss", "metrics.json")))["final_loss"]["steady_state"] > 0
# Skipping every target leaves nothing to fit: a data error (exit 3) that names the option.
r = subprocess.run([exe, "fit", deck, "--data", screen, "-o", os.path.join(work, "fit_skip"), "-q", "--set", "fit.truth=",
                    "--set", "data.missing_targets=skip"], capture_output=True, text=True)
assert r.returncode == 3 and "data.missing_targets" in r.stderr, (r.returncode, r.stderr)
print(f"ok: {L} latent targets, {G} measured genes")
