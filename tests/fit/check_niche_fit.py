#!/usr/bin/python3
"""Fitting through the in vivo niche (fit.niche = coupled, issue 12).

usage: check_niche_fit.py PERTURBFIT MPIRUN DECK WORKDIR

- the adjoint gradient (every parameter, and Gamma alone) against central differences at
  1 and 2 ranks, mechanistic and hybrid: relative error <= 1e-6, and the two rank counts
  give the same adjoint to 1e-10;
- a short fit writes /niche to fit.h5 (and its summary to metrics.json): Gamma (K x L), the ligand genes, every animal's
  factors, finite and different between animals (the solver's invariants, n_a = Gamma H_a
  and every group at its steady state, are tested in tests/test_niche.cpp);
- bad decks: a ligand gene not in the screen (exit 3), no ligand names, an unknown mode,
  lambda_ss or adam with the coupling (exit 2), each with its message."""
import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import launch  # noqa: E402

exe, mpirun, deck, work = sys.argv[1:5]
shutil.rmtree(work, ignore_errors=True)
screen = f"{work}/screen/screen.h5ad"
sim = subprocess.run([exe, "simulate", deck, "-o", f"{work}/screen", "-q"], capture_output=True, text=True)
assert sim.returncode == 0, sim.stderr


def fit(ranks, out, *args, check=True):
    return launch.run(exe, mpirun, ranks, "fit", deck, "--data", screen, "-o", f"{work}/{out}", "-q", "--json", *args,
                      check=check)


adjoints = {}
for ranks, kind in ((1, []), (2, []), (1, ["--set", "model.kind=hybrid", "--set", "model.neural_rank=2"])):
    res = json.loads(fit(ranks, f"grad{ranks}{len(kind)}", "--check-gradient", *kind).stdout)
    rows = res["directions"]
    assert any(r["block"] == "Gamma" for r in rows), "no direction along Gamma alone"
    for r in rows:
        assert abs(r["adjoint"]) > 1e-8, f"a zero directional derivative tests nothing: {r}"
    print(f"{ranks} rank(s) {kind or 'mechanistic'}: max relative error {res['max_relative_error']:.2e}")
    assert res["max_relative_error"] <= 1e-6, res
    if not kind:
        adjoints[ranks] = np.array([r["adjoint"] for r in rows])
rel = np.max(np.abs(adjoints[1] - adjoints[2]) / np.abs(adjoints[1]))
print(f"adjoint 1 vs 2 ranks: max relative difference {rel:.2e}")
assert rel <= 1e-10, (adjoints[1], adjoints[2])

fit(2, "fit", "--set", "fit.max_iterations=5")
with h5py.File(f"{work}/fit/fit.h5") as f:
    gamma, factors = f["niche/gamma"][:], f["niche/factors"][:]
    ligands = [s.decode() for s in f["niche/ligand_genes"][:]]
    genes = [s.decode() for s in f["genes"][:]]
    animals = [s.decode() for s in f["niche/animals"][:]]
    external = int(f["niche"].attrs["external_channels"])
assert gamma.shape == (factors.shape[1], len(ligands)), (gamma.shape, factors.shape)
assert factors.shape[0] == len(animals) == 4, factors.shape
assert np.all(gamma[:external] == 0), "Gamma's rows of the external medium must stay 0"
assert np.all(np.isfinite(factors)) and np.ptp(factors, axis=0).max() > 0, factors
print("niche factors per animal:\n", factors)
assert set(ligands) <= set(genes), ligands
summary = json.load(open(f"{work}/fit/metrics.json"))["niche"]
assert summary["animals"] == 4 and summary["channels"] == gamma.shape[0] - external, summary
assert np.isclose(summary["largest_spread_between_animals"], np.ptp(factors, axis=0).max()), summary
assert np.isclose(summary["largest_abs_gamma"], np.abs(gamma).max()), summary
# The validation solve checks the coupled state's stability: a small coupling, stable.
assert summary["unstable_animals"] == 0 and summary["smallest_niche_determinant"] > 0, summary
print("ligands:", ligands, "Gamma:\n", gamma)

bad = (("--set", "niche.ligand_genes=[\"G36\", \"NOPE\"]"), 3,
       "ligand gene 'NOPE' of [niche].ligand_genes is not among the screen's measured genes"), \
      (("--set", "niche.ligand_genes=[]"), 2, "fit.niche = coupled needs the ligand (secreting) genes by name"), \
      (("--set", "fit.niche=yes"), 2, "fit.niche = 'yes' is unknown; use off or coupled"), \
      (("--set", "fit.lambda_ss=1"), 2, "fit.lambda_ss > 0 with fit.niche = coupled is not implemented"), \
      (("--set", "fit.optimizer=adam"), 2, "fit.niche = coupled supports fit.optimizer = lbfgs or tao")
for k, (args, code, message) in enumerate(bad):
    res = fit(1, f"bad{k}", *args, check=False)
    assert res.returncode == code, (args, res.returncode, res.stderr)
    assert message in res.stderr, (args, res.stderr)
print(f"{len(bad)} bad decks refused with their messages")
