#!/usr/bin/python3
"""Guide-abundance read-outs and the fitness fit (issue 12, selection).

usage: check_abundance_fit.py PERTURBFIT MPIRUN IN_VITRO_DECK IN_VIVO_DECK WORKDIR

- simulate: count_guides writes guide_counts.tsv, the same bytes at 1 and 2 ranks; each
  sample's reads sum to `reads` within Poisson noise; the observed log change of every
  guide relative to the controls is what the truth's fitness predicts, dt phi . (x_g - x_c)
  (r0 cancels), up to counting noise; in vivo, one sample per animal and time;
- the adjoint gradient with the abundance term (every parameter, and phi alone) against
  central differences at 1 and 2 ranks, in vitro and through the niche coupling:
  relative error <= 1e-6, 1 vs 2 ranks to 1e-10;
- a fit writes phi (/parameters/fitness, one per node) and the abundance metrics, fits
  the training changes better than no selection, predicts held-out singles (whose target's
  weight nothing identifies) by no selection, and pairs of trained singles by the model;
- bad tables and protocols exit 2 or 3 with a message that says what to change."""
import json
import os
import shutil
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import launch  # noqa: E402

exe, mpirun, vitro, vivo, work = sys.argv[1:6]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)


def run(ranks, *args, check=True):
    return launch.run(exe, mpirun, ranks, *args, check=check)


def read_table(path):
    rows = [line.rstrip("\n").split("\t") for line in open(path)]
    assert rows[0] == ["guide", "perturbation", "batch", "medium", "time", "count"], rows[0]
    return [dict(zip(rows[0], r)) for r in rows[1:]]


# --- simulate ---------------------------------------------------------------------------
for name, deck in (("vitro", vitro), ("vivo", vivo)):
    for ranks in (1, 2):
        run(ranks, "simulate", deck, "-o", f"{work}/{name}{ranks}", "-q")
    one, two = (open(f"{work}/{name}{r}/guide_counts.tsv", "rb").read() for r in (1, 2))
    assert one == two, f"{name}: guide counts differ between 1 and 2 ranks"

rows = read_table(f"{work}/vitro1/guide_counts.tsv")
reads = 200000
times = sorted({float(r["time"]) for r in rows})
assert times == [0.0, 10.0], times
for t in times:
    total = sum(int(r["count"]) for r in rows if float(r["time"]) == t)
    assert abs(total - reads) < 5 * np.sqrt(reads), (t, total)
with h5py.File(f"{work}/vitro1/truth.h5") as f:
    phi = f["parameters/fitness"][:]
    states = f["states/snapshot0"][:]
    guides = [s.decode() for s in f["classes/guide"][:]]
    perturbations = [s.decode() for s in f["classes/perturbation"][:]]
assert 0 < np.count_nonzero(phi) <= 8, phi  # drawn with replacement
counts = {(r["guide"], float(r["time"])): int(r["count"]) for r in rows}
controls = [k for k, p in enumerate(perturbations) if p == "control"]
c0 = sum(counts[(guides[k], 0.0)] for k in controls)
c1 = sum(counts[(guides[k], 10.0)] for k in controls)
x_control = states[controls[0]]
observed, predicted, variance = [], [], []
for k, g in enumerate(guides):
    if k in controls:
        continue
    n0, n1 = counts[(g, 0.0)], counts[(g, 10.0)]
    observed.append(np.log((n1 + 0.5) / (n0 + 0.5)) - np.log((c1 + 0.5) / (c0 + 0.5)))
    predicted.append(10.0 * phi @ (states[k] - x_control))
    variance.append(1 / (n1 + 0.5) + 1 / (n0 + 0.5))
observed, predicted = np.array(observed), np.array(predicted)
residual = (observed - predicted) / np.sqrt(variance)
print(f"guide log changes: sd {observed.std():.3f}, truth predicts them with r = "
      f"{np.corrcoef(observed, predicted)[0, 1]:.3f}, standardised residual sd {residual.std():.2f}")
assert observed.std() > 0.05, "the deck selects too weakly to test anything"
assert np.corrcoef(observed, predicted)[0, 1] > 0.95
assert residual.std() < 2.0, "beyond Poisson counting noise: the simulated selection is not dw/dt = (r0 + phi.x) w"

vivo_rows = read_table(f"{work}/vivo1/guide_counts.tsv")
samples = {(r["batch"], float(r["time"])) for r in vivo_rows}
assert samples == {(f"animal{a}", t) for a in range(4) for t in (0.0, 10.0)}, samples

# inspect shows what the fit will read from the table.
report = json.loads(run(1, "inspect", f"{work}/vitro1/screen.h5ad", "--deck", vitro, "--set",
                        f"data.guide_counts={work}/vitro1/guide_counts.tsv", "--json", "-q").stdout)
assert report["guide_counts"]["changes"] == 38 and report["guide_counts"]["series"] == 1, report.get("guide_counts")

# --- gradients --------------------------------------------------------------------------
for name, deck, extra in (("vitro", vitro, ["--set", "fit.lambda_abundance=100"]), ("vivo", vivo, [])):
    adjoints = {}
    for ranks in (1, 2):
        res = json.loads(run(ranks, "fit", deck, "--data", f"{work}/{name}1/screen.h5ad", "--set",
                             f"data.guide_counts={work}/{name}1/guide_counts.tsv", "-o", f"{work}/grad_{name}{ranks}",
                             "-q", "--json", "--check-gradient", *extra).stdout)
        rows_ = res["directions"]
        assert any(r["block"] == "phi" for r in rows_), "no direction along phi alone"
        assert res["loss_terms"]["abundance"] > 0.1 * res["loss"], "the abundance term is not what the check tests"
        for r in rows_:
            assert abs(r["adjoint"]) > 1e-8, f"a zero directional derivative tests nothing: {r}"
        print(f"{name}, {ranks} rank(s): max relative error {res['max_relative_error']:.2e}")
        assert res["max_relative_error"] <= 1e-6, res
        adjoints[ranks] = np.array([r["adjoint"] for r in rows_])
    rel = np.max(np.abs(adjoints[1] - adjoints[2]) / np.abs(adjoints[1]))
    print(f"{name}: adjoint 1 vs 2 ranks: max relative difference {rel:.2e}")
    assert rel <= 1e-10, (adjoints[1], adjoints[2])

# --- a fit --------------------------------------------------------------------------------
screen, table = f"{work}/vitro1/screen.h5ad", f"{work}/vitro1/guide_counts.tsv"
run(2, "fit", vitro, "--data", screen, "--set", f"data.guide_counts={table}", "-o", f"{work}/fit", "-q")
metrics = json.load(open(f"{work}/fit/metrics.json"))
ab = metrics["abundance"]
print("abundance metrics:", json.dumps(ab))
assert ab["train"]["observations"] + ab["validation"]["observations"] + ab["test"]["observations"] == 38, ab
assert ab["train"]["mse"]["model"] < 0.1 * ab["train"]["mse"]["no_selection"], ab
assert metrics["final_loss"]["abundance"] > 0, metrics["final_loss"]
# Held-out singles: their own target's weight is unidentified: predicted by no selection.
single = ab["test/single"]
assert single["fallback_observations"] == single["observations"] > 0, single
assert single["mse"]["model"] == single["mse"]["no_selection"], single
seen = ab.get("test/combination (singles seen)")
if seen:
    assert seen["fallback_observations"] == 0 and seen["mse"]["model"] != seen["mse"]["no_selection"], seen
with h5py.File(f"{work}/fit/fit.h5") as f:
    fitted = f["parameters/fitness"][:]
    nodes = len(f["genes"]) + len(f["latent_nodes"])
assert fitted.shape == (nodes,) and np.all(np.isfinite(fitted)) and np.abs(fitted).max() > 0, fitted

# --- bad inputs ---------------------------------------------------------------------------
lines = open(table).read().splitlines()
header, body = lines[0], lines[1:]
bad_tables = {
    "one_time": (header + "\n" + "\n".join(l for l in body if l.split("\t")[4] == "0") + "\n",
                 "has guide counts at one time only"),
    "no_controls": (header + "\n" + "\n".join(l for l in body if l.split("\t")[1] != "control") + "\n",
                    "has no control-guide reads"),
    "no_column": (header.replace("count", "reads") + "\n" + "\n".join(body) + "\n", "the header has no column 'count'"),
    "bad_count": (header + "\n" + body[0].rsplit("\t", 1)[0] + "\t-3\n" + "\n".join(body[1:]) + "\n",
                  "is not a non-negative integer"),
    "wrong_medium": (header + "\n" + "\n".join(l.replace("\tbase\t", "\tstim\t") for l in body) + "\n",
                     "medium 'stim' is not a medium of the screen"),
}
for name, (text, message) in bad_tables.items():
    path = f"{work}/{name}.tsv"
    open(path, "w").write(text)
    res = run(1, "fit", vitro, "--data", screen, "--set", f"data.guide_counts={path}", "-o", f"{work}/bad_{name}",
              "-q", check=False)
    assert res.returncode == 3 and message in res.stderr, (name, res.returncode, res.stderr)
res = run(1, "fit", vitro, "--data", screen, "--set", f"data.guide_counts={work}/missing.tsv", "-o", f"{work}/bad_io",
          "-q", check=False)
assert res.returncode == 5 and "cannot read the guide count table" in res.stderr, res.stderr

deck_text = open(vitro).read()
early = deck_text.replace('[[protocol]]\nstep = "perturb"', '[[protocol]]\nstep = "count_guides"\n\n[[protocol]]\nstep = "perturb"', 1)
open(f"{work}/early.toml", "w").write(early)
res = run(1, "simulate", f"{work}/early.toml", "-o", f"{work}/bad_early", "-q", check=False)
assert res.returncode == 2 and "count_guides comes after the perturb step" in res.stderr, res.stderr
unsettled = open(vivo).read().replace('[[protocol]]\nstep = "equilibrate"\n', '', 1)
open(f"{work}/unsettled.toml", "w").write(unsettled)
res = run(1, "simulate", f"{work}/unsettled.toml", "-o", f"{work}/bad_unsettled", "-q", check=False)
assert res.returncode == 2 and "expand after transplant needs the animals at their coupled steady state" in res.stderr, res.stderr
print("bad tables and protocols: exit codes and messages as expected")
