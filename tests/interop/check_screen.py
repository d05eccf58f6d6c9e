"""Interop test: anndata (Debian's python3-anndata) reads `perturbfit simulate` output,
with the right shape and obs, and 1 and 2 ranks write identical data.

usage: check_screen.py PERTURBFIT DECK OUTDIR "MPIEXEC FLAGS"
"""
import hashlib
import os
import shutil
import subprocess
import sys

import anndata
import h5py
import numpy as np

exe, deck, out, mpiexec = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
shutil.rmtree(out, ignore_errors=True)
one, two = os.path.join(out, "np1"), os.path.join(out, "np2")
subprocess.run([exe, "simulate", deck, "-o", one, "-q"], check=True)
subprocess.run(mpiexec.split() + ["-n", "2", exe, "simulate", deck, "-o", two, "-q"], check=True)

a = anndata.read_h5ad(os.path.join(one, "screen.h5ad"))
assert a.shape == (3000, 40), a.shape
assert list(a.obs.columns) == ["perturbation", "guide", "batch", "time", "medium", "n_counts"], list(a.obs.columns)
assert a.X.format == "csr" and np.issubdtype(a.X.dtype, np.integer), (a.X.format, a.X.dtype)
assert a.obs_names.is_unique and a.var_names[0] == "G01", a.var_names[:3]
assert (np.asarray(a.X.sum(axis=1)).ravel() == a.obs["n_counts"].to_numpy()).all()
pert = a.obs["perturbation"]
assert "control" in pert.cat.categories
singles = [p for p in pert.cat.categories if p != "control" and "+" not in p]
pairs = [p for p in pert.cat.categories if "+" in p]
assert len(singles) == 10 and len(pairs) == 3, (len(singles), len(pairs))
# two measure steps: 1000 cells at t = 4 in batch0, 2000 at steady state in batch1, batch2
assert sorted(a.obs["batch"].cat.categories) == ["batch0", "batch1", "batch2"]
assert (a.obs["time"] == 4.0).sum() == 1000 and np.isinf(a.obs["time"]).sum() == 2000
for b in a.obs["batch"].cat.categories:
    assert ((a.obs["batch"] == b) & (pert == "control")).sum() > 0, f"batch {b} has no controls"
# knockdown lowers the target: mean normalised expression of a target in its own cells vs controls
norm = a.X.multiply(1.0 / a.obs["n_counts"].to_numpy()[:, None]).tocsr()
ctrl = (pert == "control").to_numpy()
lower = 0
for g in singles:
    cells = (pert == g).to_numpy()
    j = list(a.var_names).index(g)
    lower += norm[cells, j].mean() < norm[ctrl, j].mean()
assert lower >= 9, f"only {lower}/10 knocked-down targets are lower than in controls"

def digest(path):
    h = hashlib.sha256()
    with h5py.File(path, "r") as f:
        for k in ["X/data", "X/indices", "X/indptr", "obs/_index", "obs/perturbation/codes",
                  "obs/perturbation/categories", "obs/batch/codes", "obs/n_counts", "var/_index"]:
            x = np.asarray(f[k][:])
            # string arrays come back as objects: hash their text, not their addresses
            h.update("\x1f".join(map(str, x)).encode() if x.dtype == object else x.tobytes())
    return h.hexdigest()

d1, d2 = digest(os.path.join(one, "screen.h5ad")), digest(os.path.join(two, "screen.h5ad"))
assert d1 == d2, f"1 and 2 ranks differ: {d1} vs {d2}"
with h5py.File(os.path.join(one, "truth.h5"), "r") as t:
    assert t["parameters/W/indptr"].shape == (41,)
    assert t["states/snapshot0"].shape[1] == 40
    assert t["cells/class"].shape == (3000,)
    # per-class steady-state reports of the last equilibrate step
    assert t["solves/method"].shape == (28,) and set(t["solves/method"][:].tolist()) <= {0, 1, 2, 5}
    assert (t["solves/residual_norm"][:] <= 1e-9).all() and (t["solves/stable"][:] == 1).all()
# the simulator's output round-trips through the project's own reader
import json
r = subprocess.run([exe, "inspect", os.path.join(two, "screen.h5ad"), "--json", "-q"], capture_output=True, text=True)
assert r.returncode == 0, r.stderr
j = json.loads(r.stdout)
assert j["cells"] == 3000 and j["genes"] == 40, j
assert j["perturbations"]["single"] == 10 and j["perturbations"]["combinatorial"] == 3, j["perturbations"]
assert j["perturbations"]["control_cells"] == int((pert == "control").sum())
assert [b["control_cells"] for b in j["batches"]] == [int(((a.obs["batch"] == b) & (pert == "control")).sum())
                                                       for b in ["batch0", "batch1", "batch2"]], j["batches"]
assert j["targets"]["not_in_var"] == [] and j["batches_without_controls"] == []
print(f"ok: {a.shape[0]} cells x {a.shape[1]} genes; sha256 {d1[:16]} at 1 and 2 ranks")
