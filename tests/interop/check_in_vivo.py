#!/usr/bin/env python3
"""An in vivo screen (tests/data/in_vivo_small.toml) simulated at 1 and 2 ranks: the same
counts and niche factors bit for bit; one batch per animal; niche factors that differ
between animals (their guide compositions differ); engraftment_sd > 0 makes the animals'
compositions differ more than the draw alone does; and the fit, with animals as batches,
runs on it at 2 ranks.
usage: check_in_vivo.py PERTURBFIT MPIRUN DECK OUTDIR"""
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

exe, mpirun, deck, out = sys.argv[1:5]
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)


def run(args, ranks=1):
    cmd = ([mpirun, str(ranks)] if ranks > 1 else []) + [exe] + args + ["-q"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {r.returncode}: {r.stderr}")


run(["simulate", deck, "-o", f"{out}/r1"])
run(["simulate", deck, "-o", f"{out}/r2"], ranks=2)
with h5py.File(f"{out}/r1/screen.h5ad") as a, h5py.File(f"{out}/r2/screen.h5ad") as b:
    for key in ("X/data", "X/indices", "X/indptr"):
        assert np.array_equal(a[key][()], b[key][()]), f"{key} differs between 1 and 2 ranks"
    batches = [s.decode() for s in a["obs/batch/categories"][()]]
    assert batches == ["animal0", "animal1", "animal2", "animal3"], batches
    codes = a["obs/batch/codes"][()]
    assert set(np.unique(codes)) == {0, 1, 2, 3}, "an animal has no sequenced cells"
with h5py.File(f"{out}/r1/truth.h5") as t1, h5py.File(f"{out}/r2/truth.h5") as t2:
    f1, f2 = t1["niche/factors"][()], t2["niche/factors"][()]
    assert np.array_equal(f1, f2), "niche factors differ between 1 and 2 ranks"
    assert f1.shape == (4, 2), f1.shape
    assert np.abs(f1).max() > 0.1, f"the niche is negligible: {f1}"
    assert np.ptp(f1, axis=0).max() > 1e-4, f"every animal has the same niche: {f1}"
    assert t1["niche/gamma"].shape == (2, 3)
    assert len(t1["classes/animal"][()]) == len(t1["classes/guide"][()])


def composition_spread(screen):
    """Mean over guides of the variance across animals of the guide's share of the animal's cells."""
    with h5py.File(screen) as f:
        guide, animal = f["obs/guide/codes"][()], f["obs/batch/codes"][()]
    counts = np.zeros((animal.max() + 1, guide.max() + 1))
    np.add.at(counts, (animal, guide), 1)
    return float(np.mean(np.var(counts / counts.sum(axis=1, keepdims=True), axis=0)))


text = open(deck).read()
assert "cells = 500\n" in text
open(f"{out}/engrafted.toml", "w").write(text.replace("cells = 500\n", "cells = 500\nengraftment_sd = 2.0\n", 1))
run(["simulate", f"{out}/engrafted.toml", "-o", f"{out}/engrafted"])
plain, engrafted = composition_spread(f"{out}/r1/screen.h5ad"), composition_spread(f"{out}/engrafted/screen.h5ad")
print(f"composition spread across animals: {plain:.3g} by the draw alone, {engrafted:.3g} with engraftment_sd = 2")
assert engrafted > 3 * plain, (plain, engrafted)
run(["fit", deck, "--data", f"{out}/r1/screen.h5ad", "-o", f"{out}/fit", "--set", "fit.max_iterations=5"], ranks=2)
assert os.path.exists(f"{out}/fit/fit.h5")
print("in vivo screen: ranks agree bitwise, animals are batches, niches differ; fit ran")
