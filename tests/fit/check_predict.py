"""predict end to end on a simulated screen with interacting pairs (tests/data/predict_pairs.toml).

usage: check_predict.py EXE MPIRUN DECK WORKDIR

Checks: the screen's own test groups predicted through `predict --groups test` are fit.h5's
rows (exactly at the fit's rank count, to the solver's tolerance at another); listed
perturbations give the same table at 1 and 2 ranks; --all-pairs lists every single and
pair with the interaction view; the pairs ranked by predicted interaction recover the
truth's interacting pairs better than chance (AUPRC printed); bad inputs exit 2 or 3
with a message naming the problem.
"""
import json
import os
import shutil
import sys

import anndata
import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
from launch import run, simulate_and_fit  # noqa: E402
from interaction_truth import INTERACTING, auprc, true_scores  # noqa: E402

exe, mpirun, deck, work = sys.argv[1:5]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
screen, model, sim, fitdir = simulate_and_fit(exe, mpirun, deck, work, fit_ranks=2)


def predict(ranks, out, *args, check=True):
    return run(exe, mpirun, ranks, "predict", deck, "--data", screen, "--model", model, "-o",
               os.path.join(work, out), "-q", *args, check=check)


# 1. The fit's own held-out rows.
with h5py.File(model, "r") as f:
    labels = [x.decode() for x in f["/groups/perturbation"][:]]
    batches = [x.decode() for x in f["/groups/batch"][:]]
    splits = [x.decode() for x in f["/groups/split"][:]]
    fitted = f["/groups/predicted"][:]
    fitted_effect = f["/groups/predicted_effect"][:]
expected = {(l, b): (fitted[i], fitted_effect[i]) for i, (l, b, s) in enumerate(zip(labels, batches, splits))
            if s == "test"}
for ranks, tolerance in ((2, 0.0), (1, 1e-7)):
    predict(ranks, f"groups{ranks}", "--groups", "test")
    a = anndata.read_h5ad(os.path.join(work, f"groups{ranks}", "predictions.h5ad"))
    assert a.n_obs == len(expected), (a.n_obs, len(expected))
    worst = 0.0
    for i, (p, b) in enumerate(zip(a.obs["perturbation"], a.obs["batch"])):
        x, e = expected[(p, b)]
        worst = max(worst, np.abs(a.X[i] - x).max(), np.abs(a.layers["effect"][i] - e).max())
    print(f"--groups test at {ranks} rank(s): {a.n_obs} rows, largest difference from fit.h5 {worst:.3g}")
    assert worst <= tolerance, worst
    assert (a.obs["split"] == "test").all() and (a.obs["converged"] == 1).all()

# 2. The screen's pairs, at 1 and 2 ranks: the same table; ranked against the truth.
truth = true_scores(os.path.join(sim, "truth.h5"))
pairs = sorted(truth)
listing = os.path.join(work, "pairs.txt")
with open(listing, "w") as f:
    f.write("# the screen's pairs\n" + "\n".join(pairs) + "\n")
tables = {}
for ranks in (1, 2):
    predict(ranks, f"pairs{ranks}", "--perturbations", "@" + listing)
    tables[ranks] = anndata.read_h5ad(os.path.join(work, f"pairs{ranks}", "predictions.h5ad"))
a1, a2 = tables[1], tables[2]
assert list(a1.obs_names) == list(a2.obs_names)
rank_difference = np.abs(a1.X - a2.X).max()
print(f"pairs at 1 and 2 ranks: largest difference {rank_difference:.3g}")
assert rank_difference < 1e-8, rank_difference
assert a1.obs["interaction_score"].notna().all() and (a1.obs["kind"] == "pair").all()
score = dict(zip(a1.obs["perturbation"], a1.obs["interaction_score"]))
split = dict(zip(a1.obs["perturbation"], a1.obs["split"]))
positives = [truth[p] > INTERACTING for p in pairs]
for subset in ("all", "test"):
    chosen = [i for i, p in enumerate(pairs) if subset == "all" or split[p] == "test"]
    y = [positives[i] for i in chosen]
    ap = auprc([score[pairs[i]] for i in chosen], y)
    print(f"interaction recovery ({subset} pairs): {len(chosen)} pairs, {sum(y)} interacting in the truth "
          f"(RMS deviation > {INTERACTING}), AUPRC {ap:.3f}, random {np.mean(y):.3f}")
    if subset == "all":
        assert ap > np.mean(y), (ap, np.mean(y))
with open(os.path.join(work, "pairs1", "interactions.tsv")) as f:
    rows = [line.rstrip("\n").split("\t") for line in f]
assert rows[0][:6] == ["rank", "pair", "medium", "split", "score", "interaction"], rows[0]
assert len(rows) == len(pairs) + 1
ranked = [float(r[4]) for r in rows[1:]]
assert ranked == sorted(ranked, reverse=True)

# 3. --all-pairs: every single and pair, singles as listed singles.
genes = ["G01", "G02", "G03", "G04", "G05"]
res = predict(2, "allpairs", "--all-pairs", ",".join(genes), "--json")
summary = json.loads(res.stdout)
assert summary["rows"] == 15 and summary["pairs_with_interaction"] == 10, summary
a = anndata.read_h5ad(os.path.join(work, "allpairs", "predictions.h5ad"))
assert list(a.obs["kind"]).count("single") == 5 and list(a.obs["kind"]).count("pair") == 10
predict(1, "singles", "--perturbations", ",".join(genes))
s = anndata.read_h5ad(os.path.join(work, "singles", "predictions.h5ad"))
assert np.abs(s.X - a.X[:5]).max() < 1e-8
assert set(a.obs["interaction"][5:]) <= {"neomorphic", "dominance", "suppression", "synergy", "buffering", "additive"}

# 4. --protocol: the screen's own protocol written out, a medium by its values, the order of
# changes before one equilibrate; without the shared response (no calibration) the protocol's
# states are the listed rows' states.
base = ("--perturbations", "G01,G02,G03+G04")
protocols = {"screen": "medium=base; perturb; equilibrate", "values": "medium=base:0.0; perturb; equilibrate",
             "order": "perturb; medium=base; equilibrate", "path": "medium=base; equilibrate; perturb; equilibrate"}
tables = {}
for name, text in protocols.items():
    predict(1, f"protocol-{name}", *base, "--protocol", text)
    tables[name] = anndata.read_h5ad(os.path.join(work, f"protocol-{name}", "predictions.h5ad"))
for name in ("values", "order", "path"):
    worst = np.abs(tables[name].X - tables["screen"].X).max()
    print(f"--protocol '{protocols[name]}' against '{protocols['screen']}': largest difference {worst:.3g}")
    assert worst < 1e-8 or (name == "path" and tables[name].obs["non_unique"].any()), worst
plain = os.path.join(work, "plain-fit")
run(exe, mpirun, 1, "fit", deck, "--data", screen, "-o", plain, "-q", "--set", "fit.shared_response=false")
for mode, extra in (("listed", ()), ("protocol", ("--protocol", protocols["screen"]))):
    run(exe, mpirun, 1, "predict", deck, "--data", screen, "--model", os.path.join(plain, "fit.h5"), "-o",
        os.path.join(work, f"plain-{mode}"), "-q", "--set", "fit.shared_response=false", *base, *extra)
listed, under = (anndata.read_h5ad(os.path.join(work, f"plain-{m}", "predictions.h5ad")) for m in ("listed", "protocol"))
worst = np.abs(listed.X - under.X).max()
print(f"without the shared response, protocol states equal the listed rows' to {worst:.3g}")
assert worst < 1e-8, worst

# 5. --cells: cells drawn through the measurement; the same at 1 and 2 ranks; each row's cells
# average back to its prediction (log(eps + mean of counts / size factor) against X).
for ranks in (1, 2):
    predict(ranks, f"cells{ranks}", *base, "--cells", "300")
c1, c2 = (anndata.read_h5ad(os.path.join(work, f"cells{r}", "cells.h5ad")) for r in (1, 2))
assert c1.n_obs == 900 and (c1.X != c2.X).nnz == 0 and list(c1.obs_names) == list(c2.obs_names)
rows = anndata.read_h5ad(os.path.join(work, "cells1", "predictions.h5ad"))
for r in range(rows.n_obs):
    m = (c1.obs["row"] == r).to_numpy()
    counts, s = c1.X[m].toarray().astype(float), c1.obs["size_factor"].to_numpy()[m]
    back = np.log(0.1 + (counts / s[:, None]).mean(axis=0))
    gap = np.abs(back - rows.X[r]).mean()
    print(f"--cells 300, row {rows.obs_names[r]}: mean |log mean of cells - prediction| {gap:.4f}")
    assert gap < 0.05, gap

# 6. Bad inputs.
def refused(code, text, *args, model_path=None):
    cmd = ["predict", deck, "--data", screen, "--model", model_path or model, "-o", os.path.join(work, "bad"), "-q",
           "--force", *args]
    res = run(exe, mpirun, 1, *cmd, check=False)
    assert res.returncode == code and text in res.stderr, (args, res.returncode, res.stderr)


refused(2, "unknown gene 'NOPE'", "--perturbations", "G01,G02+NOPE")
refused(2, "another deck", "--perturbations", "G01", "--set", "fit.lambda_ss=1")
refused(3, "not a fit.h5", "--perturbations", "G01", model_path=os.path.join(sim, "truth.h5"))
refused(2, "exactly one of", "--perturbations", "G01", "--groups", "test")
refused(2, "not a medium", "--perturbations", "G01", "--medium", "serum")
refused(2, "no model at", "--perturbations", "G01", model_path=os.path.join(work, "missing.h5"))
refused(2, "not a medium of the screen", "--perturbations", "G01", "--protocol", "medium=serum; perturb; equilibrate")
refused(2, "evolve steps are not implemented", "--perturbations", "G01", "--protocol", "medium=base; perturb; evolve 2; equilibrate")
refused(2, "never perturbs", "--perturbations", "G01", "--protocol", "medium=base; equilibrate")
refused(2, "medium input(s)", "--perturbations", "G01", "--protocol", "medium=drug:1,2; perturb; equilibrate")
print("predict: all checks passed")
