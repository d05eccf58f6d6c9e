#!/usr/bin/python3
"""Cell types (issue 12): populations with their own activation bias, sharing W.

usage: check_cell_types.py PERTURBFIT MPIRUN DECK WORKDIR

- simulate: obs/cell_type in the deck's proportions, the same counts at 1 and 2 ranks;
  truth.h5 has each type's bias as a column of U and its log production ratio as a column
  of Q after the deck's medium channels, and the types' control states differ;
- fit with data.cell_type_key: each (medium, type) is fitted as its own medium, with its own
  production (fit.h5 parameters/Q, one column per (medium, type)); the adjoint gradient
  against central differences at 1 and 2 ranks (<= 1e-6, including a direction along Q
  alone); on the types' own test groups the typed fit predicts effects better than a fit
  that pools the types (and the typed fit without Q is printed beside it);
- bad decks: cell_types.fractions of the wrong length, a name twice (exit 2), a missing
  cell-type column (exit 3), guide counts with cell types (exit 2), an unknown
  fit.production_response (exit 2)."""
import json
import os
import shutil
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import launch  # noqa: E402

exe, mpirun, deck, work = sys.argv[1:5]
shutil.rmtree(work, ignore_errors=True)


def run(ranks, *args, check=True):
    return launch.run(exe, mpirun, ranks, *args, check=check)


def strings(ds):
    return [s.decode() for s in ds[:]]


for ranks in (1, 2):
    run(ranks, "simulate", deck, "-o", f"{work}/screen{ranks}", "-q")
with h5py.File(f"{work}/screen1/screen.h5ad") as a, h5py.File(f"{work}/screen2/screen.h5ad") as b:
    assert np.array_equal(a["X/data"][:], b["X/data"][:]) and np.array_equal(a["X/indices"][:], b["X/indices"][:])
    types = strings(a["obs/cell_type/categories"])
    codes = a["obs/cell_type/codes"][:]
assert types == ["epithelial", "stromal"], types
share = np.mean(codes == 0)
print(f"epithelial share {share:.3f} (deck: 0.6)")
assert abs(share - 0.6) < 0.03, share
with h5py.File(f"{work}/screen1/truth.h5") as t:
    U = t["parameters/U"][:]
    first = int(t["cell_types"].attrs["first_channel"])
    states, cell_type = t["states/snapshot0"][:], t["classes/cell_type"][:]
    pert = strings(t["classes/perturbation"])
    Q = t["parameters/Q"][:]
assert U.shape[1] == first + 2 and np.all(np.std(U[:, first:], axis=0) > 0.5), U.shape
assert Q.shape == U.shape and np.all(Q[:, :first] == 0) and np.all(np.std(Q[:, first:], axis=0) > 0.3), Q.shape
controls = [next(i for i, (p, c) in enumerate(zip(pert, cell_type)) if p == "control" and c == k) for k in (0, 1)]
difference = np.mean(np.abs(np.log(states[controls[0]] / states[controls[1]])))
print(f"control states of the two types: mean |log ratio| {difference:.3f}")
assert difference > 0.1

screen = f"{work}/screen1/screen.h5ad"
for ranks in (1, 2):
    res = json.loads(run(ranks, "fit", deck, "--data", screen, "-o", f"{work}/grad{ranks}", "-q", "--json",
                         "--check-gradient").stdout)
    print(f"gradient check, {ranks} rank(s): {res['max_relative_error']:.2e}")
    assert res["max_relative_error"] <= 1e-6, res
    assert "Q" in [d.get("block") for d in res["directions"]], res

run(2, "fit", deck, "--data", screen, "-o", f"{work}/typed", "-q")
run(2, "fit", deck, "--data", screen, "-o", f"{work}/pooled", "-q", "--set", "data.cell_type_key=")
run(2, "fit", deck, "--data", screen, "-o", f"{work}/shared_v", "-q", "--set", "fit.production_response=off")
with h5py.File(f"{work}/typed/fit.h5") as t, h5py.File(f"{work}/pooled/fit.h5") as p, \
        h5py.File(f"{work}/shared_v/fit.h5") as s:
    media = strings(t["groups/medium"])
    assert set(media) == {"base/epithelial", "base/stromal"}, set(media)
    fitted_q = t["parameters/Q"][:]
    assert fitted_q.shape == (len(strings(t["parameters/nodes"])), 2) and np.ptp(fitted_q) > 0, fitted_q.shape
    assert "Q" not in s["parameters"] and "Q" not in p["parameters"], "Q only with cell types (auto)"
    shared_pred = s["groups/predicted_effect"][:]
    keys = list(zip(strings(t["groups/perturbation"]), strings(t["groups/batch"]), strings(t["groups/split"])))
    pooled = {k: i for i, k in enumerate(zip(strings(p["groups/perturbation"]), strings(p["groups/batch"])))}
    observed, typed, pooled_pred = t["groups/observed_effect"][:], t["groups/predicted_effect"][:], p["groups/predicted_effect"][:]
test = [i for i, k in enumerate(keys) if k[2] == "test"]
typed_mse = np.mean([np.mean((typed[i] - observed[i]) ** 2) for i in test])
pooled_mse = np.mean([np.mean((pooled_pred[pooled[keys[i][:2]]] - observed[i]) ** 2) for i in test])
shared_mse = np.mean([np.mean((shared_pred[i] - observed[i]) ** 2) for i in test])
print(f"test effects of the types' own groups ({len(test)}): typed fit {typed_mse:.4f} "
      f"(without a type's own v: {shared_mse:.4f}), pooled fit {pooled_mse:.4f}")
assert typed_mse < pooled_mse

text = open(deck).read()
for name, (old, new), code, message in (
        ("fractions", ("fractions = [0.6, 0.4]", "fractions = [0.6, 0.3, 0.1]"), 2, "cell_types.fractions has 3 entries for 2"),
        ("twice", ('names = ["epithelial", "stromal"]', 'names = ["epithelial", "epithelial"]'), 2, "lists 'epithelial' twice")):
    assert old in text
    open(f"{work}/{name}.toml", "w").write(text.replace(old, new))
    res = run(1, "simulate", f"{work}/{name}.toml", "-o", f"{work}/bad_{name}", "-q", check=False)
    assert res.returncode == code and message in res.stderr, (name, res.returncode, res.stderr)
res = run(1, "fit", deck, "--data", screen, "-o", f"{work}/bad_key", "-q", "--set", "data.cell_type_key=tissue",
          check=False)
assert res.returncode == 3 and "tissue" in res.stderr, res.stderr
res = run(1, "fit", deck, "--data", screen, "-o", f"{work}/bad_counts", "-q", "--set", "data.guide_counts=x.tsv",
          check=False)
assert res.returncode == 2 and "data.guide_counts with data.cell_type_key is not supported" in res.stderr, res.stderr
res = run(1, "fit", deck, "--data", screen, "-o", f"{work}/bad_production", "-q", "--set",
          "fit.production_response=yes", check=False)
assert res.returncode == 2 and "fit.production_response = 'yes' is unknown" in res.stderr, res.stderr
print("bad decks: exit codes and messages as expected")
