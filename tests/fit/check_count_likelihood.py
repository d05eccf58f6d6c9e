#!/usr/bin/python3
"""The per-cell ZINB likelihood (data.likelihood = nb, issue 13) end to end on the simulated
fit_small screen, whose measurement (NB size and dropout per gene) is known.

- fit.zero_inflation without data.likelihood = nb is refused (exit 2, naming the fix).
- A ZINB fit at 2 ranks learns the measurement: the fitted NB sizes correlate with the true
  ones on the log scale (Pearson > 0.9, median ratio within 30%), and the fitted dropouts
  with the true ones (Pearson > 0.8); fit.h5 holds them (/measurement/nb_size, /dropout: one
  per gene, within the bounds); the model predicts held-out effects better than control_mean.
- `predict --cells` draws through the fitted measurement: for genes deep enough that the NB
  itself gives no zeros, the sampled cells' fraction of zeros is the fitted dropout.

usage: check_count_likelihood.py PERTURBFIT MPIRUN DECK SCREEN TRUTH WORKDIR"""
import json
import sys

import h5py
import numpy as np

from launch import run

exe, mpirun, deck, screen, truth, work = sys.argv[1:7]
common = ["--data", screen, "--force", "-q"]

res = run(exe, mpirun, 1, "fit", deck, "-o", f"{work}/bad", *common, "--set", "fit.zero_inflation=true", check=False)
assert res.returncode == 2 and "needs data.likelihood" in res.stderr, (res.returncode, res.stderr)

res = run(exe, mpirun, 2, "fit", deck, "-o", f"{work}/zinb", *common, "--json", "--set", f"fit.truth={truth}",
          "--set", "data.likelihood=nb", "--set", "fit.zero_inflation=true")
m = json.loads(res.stdout)
meas = m["truth_recovery"]["measurement"]
print("measurement recovered:", meas)
assert meas["pearson_log_nb_size"] > 0.9, meas
assert 0.7 < meas["median_nb_size_ratio"] < 1.3, meas
assert meas["pearson_dropout"] > 0.8, meas
test = m["metrics"]
print("test MSE of effects: model", test["model"]["test"]["mse_effect"], "control_mean",
      test["control_mean"]["test"]["mse_effect"])
assert test["model"]["test"]["mse_effect"] < test["control_mean"]["test"]["mse_effect"]
with h5py.File(f"{work}/zinb/fit.h5", "r") as f:
    genes = f["genes"].shape[0]
    size, dropout = f["measurement/nb_size"][:], f["measurement/dropout"][:]
assert size.shape == (genes,) and dropout.shape == (genes,)
assert np.all((size >= 1e-2) & (size <= 1e4)) and np.all((dropout > 0) & (dropout < 0.99))

run(exe, mpirun, 1, "predict", deck, "--model", f"{work}/zinb/fit.h5", "--data", screen, "-o", f"{work}/cells",
    "--groups", "test", "--cells", "200", "--force", "-q", "--set", f"fit.truth={truth}", "--set", "data.likelihood=nb",
    "--set", "fit.zero_inflation=true")
with h5py.File(f"{work}/cells/cells.h5ad", "r") as f:
    indptr, indices, counts = f["X/indptr"][:], f["X/indices"][:], f["X/data"][:]
cells = len(indptr) - 1
zeros = 1.0 - np.bincount(indices, minlength=genes) / cells
mean = np.bincount(indices, weights=counts, minlength=genes) / cells
# Where the NB itself almost never gives a zero (mean > 20 counts, sizes of order 10), a
# cell's zero is a structural one: the fraction is the fitted dropout (binomial noise).
deep = mean > 20
assert deep.sum() >= 5, mean
bound = 4 * np.sqrt(dropout * (1 - dropout) / cells) + 0.005
worst = np.max(np.abs(zeros - dropout)[deep] / bound[deep])
print(f"{deep.sum()} deep genes, {cells} cells: |zero fraction - fitted dropout| at most {worst:.2f} of the bound")
assert worst < 1, (zeros[deep], dropout[deep])
print("OK")
