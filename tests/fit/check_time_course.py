#!/usr/bin/python3
"""Time-course fitting (issue 13) on a simulated time-resolved screen, end to end.

- Bad decks: a non-numeric time label that fit.steady_times does not list is refused (exit
  2, naming the label); with the time-0 controls declared steady the fit warns that its
  trajectories start later.
- The same screen without the controls at time 2: `inspect` and `fit` both warn that time 2
  has no time-matched controls.
- At t = 0 the model predicts no specific effect (the onset has not begun: kappa(0) = 0 with
  tau > 0): every perturbed group at t = 0 gets the same row, the common part (train_mean's
  at t = 0, fit.shared_response); at 2 and 8 they differ; fit.h5's /steady_states/time holds
  the time points.
- The time-course fit predicts the held-out perturbations better than the same screen fitted
  as steady states (fit.dynamics = steady), and better than train_mean.
- fit.heldout_times = ["8"]: the groups at time 8 leave every loss and subset and are
  reported as "later times" (every perturbation's groups at 8, none elsewhere).
- `predict --groups test` reproduces fit.h5's test rows (to the ODE tolerance: predict
  integrates each row alone, the fit each perturbation's times together), time points
  included.

usage: check_time_course.py PERTURBFIT MPIRUN DECK SCREEN WORKDIR"""
import json
import os
import sys

import h5py
import numpy as np

from launch import run

exe, mpirun, deck, screen, work = sys.argv[1:6]
common = ["--data", screen, "--set", "fit.truth=", "--force", "-q"]

res = run(exe, mpirun, 1, "fit", deck, "-o", f"{work}/bad", *common, "--set", "fit.steady_times=[]", check=False)
assert res.returncode == 2 and "'inf' is not a number" in res.stderr, (res.returncode, res.stderr)
res = run(exe, mpirun, 1, "fit", deck, "-o", f"{work}/late", "--data", screen, "--set", "fit.truth=", "--force",
          "--set", 'fit.steady_times=["0","inf"]', "--set", "fit.max_iterations=0")
assert "earliest time-course controls are at time 2" in res.stderr, res.stderr
import anndata  # noqa: E402
screen_a = anndata.read_h5ad(screen)
keep = ~((screen_a.obs["perturbation"].astype(str) == "control") & (screen_a.obs["time"].astype(float) == 2.0))
no_controls = f"{work}/no_controls_at_2.h5ad"
os.makedirs(work, exist_ok=True)
screen_a[keep.values].copy().write_h5ad(no_controls)
res = run(exe, mpirun, 1, "inspect", no_controls, "--json")
report = json.loads(res.stdout)
assert [t["time"] for t in report["times_without_controls"]] in (["2"], ["2.0"]), report["times_without_controls"]
res = run(exe, mpirun, 1, "fit", deck, "-o", f"{work}/no_controls", "--data", no_controls, "--set", "fit.truth=",
          "--force", "--set", "fit.max_iterations=0", "--set", "data.allow_uncontrolled_batches=true")
assert "has perturbed cells but no control cells" in res.stderr, res.stderr
print("refusal and warnings: OK")


def fit(name, *settings):
    out = f"{work}/{name}"
    run(exe, mpirun, 2, "fit", deck, "-o", out, *common, "--set", "fit.max_iterations=60", *settings)
    with open(os.path.join(out, "metrics.json")) as f:
        return out, json.load(f)


def test_mse(metrics, predictor):
    return metrics["metrics"][predictor]["test"]["mse_effect"]


timed, m_timed = fit("time_course")
_, m_steady = fit("steady", "--set", "fit.dynamics=steady")
with h5py.File(os.path.join(timed, "fit.h5")) as f:
    labels = np.array([t.decode() if isinstance(t, bytes) else str(t) for t in f["groups/time"][:]])
    effect = f["groups/predicted_effect"][:]
    pert = np.array([p.decode() if isinstance(p, bytes) else str(p) for p in f["groups/perturbation"][:]])
    ss_time = f["steady_states/time"][:]
perturbed = pert != "control"
at0 = perturbed & np.isin(labels, ["0", "0.0"])
later = perturbed & np.isin(labels, ["2", "2.0", "8", "8.0"])
assert at0.sum() > 0 and later.sum() > 0, (np.unique(labels), at0.sum(), later.sum())
spread0 = np.abs(effect[at0] - effect[at0][0]).max()
spread_later = np.median(np.abs(effect[later] - effect[later].mean(axis=0)))
print(f"predicted effects: largest difference between perturbations at t = 0 {spread0:.3e}; "
      f"median deviation from their mean at t = 2, 8 {spread_later:.3e}")
assert spread0 < 1e-12
assert spread_later > 1e-3
assert set(np.unique(ss_time[np.isfinite(ss_time)])) == {0.0, 2.0, 8.0}, np.unique(ss_time)
assert np.isinf(ss_time).any()

mt, ms, tm = test_mse(m_timed, "model"), test_mse(m_steady, "model"), test_mse(m_timed, "train_mean")
print(f"test MSE of effects: time course {mt:.5f}, as steady states {ms:.5f}, train_mean {tm:.5f}")
assert mt < ms and mt < tm
held, m_held = fit("heldout", "--set", 'fit.heldout_times=["8"]', "--set", "fit.max_iterations=5")
with h5py.File(os.path.join(held, "fit.h5")) as f:
    labels_h = np.array([t.decode() if isinstance(t, bytes) else str(t) for t in f["groups/time"][:]])
at8 = int(np.isin(labels_h, ["8", "8.0"]).sum())
model_h = m_held["metrics"]["model"]
print(f"held-out time 8: {model_h['later times']['groups']} groups reported as later times "
      f"({at8} perturbed groups at 8); train {model_h['train']['groups']}, test {model_h['test']['groups']}")
assert model_h["later times"]["groups"] == at8 > 0
assert model_h["train"]["groups"] + model_h["validation"]["groups"] + model_h["test"]["groups"] + at8 == len(labels_h)

pred = f"{work}/predict"
run(exe, mpirun, 1, "predict", deck, "--data", screen, "--model", os.path.join(timed, "fit.h5"), "--groups", "test",
    "-o", pred, "--set", "fit.truth=", "--force", "-q")
p = anndata.read_h5ad(os.path.join(pred, "predictions.h5ad"))
with h5py.File(os.path.join(timed, "fit.h5")) as f:
    dec = lambda a: [x.decode() if isinstance(x, bytes) else str(x) for x in a]  # noqa: E731
    row_of = {k: i for i, k in enumerate(zip(dec(f["groups/perturbation"][:]), dec(f["groups/batch"][:]),
                                             dec(f["groups/time"][:])))}
    fitted = f["groups/predicted"][:]
keys = list(zip(p.obs.perturbation.astype(str), p.obs.batch.astype(str), p.obs.time.astype(str)))
assert len(keys) > 0 and all(k in row_of for k in keys)
worst = max(np.abs(np.asarray(p.X[j]).ravel() - fitted[row_of[k]]).max() for j, k in enumerate(keys))
print(f"predict --groups test: {len(keys)} rows, largest difference from fit.h5 {worst:.2e}")
assert worst < 1e-6
assert int(p.obs.non_unique.sum()) == 0
print("OK")
