"""The h5ad data layer against files written by Debian's python3-anndata (and h5py for
older encodings and broken files): `perturbfit inspect` reports what was written, the
pseudo-bulk statistics match scipy and do not depend on the rank count, every bad input
exits with code 3 and a message naming the problem, and mutated files never crash or hang.

usage: check_inspect.py PERTURBFIT OUTDIR "MPIEXEC FLAGS"
"""
import json
import os
import random
import shutil
import subprocess
import sys

import anndata
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

exe, out, mpiexec = sys.argv[1], sys.argv[2], sys.argv[3].split()
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(args, ranks=1, timeout=60):
    cmd = ([*mpiexec, "-n", str(ranks)] if ranks > 1 else []) + [exe, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


# --- a small screen: 3 batches, controls in each, 6 singles + 2 pairs, 1 empty category ---
rng = np.random.default_rng(0)
genes = [f"g{i}" for i in range(30)]
labels = ["control"] * 120 + sum([[f"g{i}"] * 20 for i in range(6)], []) + ["g1+g2"] * 15 + ["g3+g4"] * 15
n = len(labels)
batches = [f"lane{i % 3}" for i in range(n)]
counts = rng.poisson(3.0, size=(n, 30)).astype(np.float32)
obs = pd.DataFrame({"perturbation": pd.Categorical(labels), "batch": pd.Categorical(batches),
                    "time": np.full(n, 24.0), "medium": [f"m{i % 2}" for i in range(n)]},
                   index=[f"c{i}" for i in range(n)])
var = pd.DataFrame(index=genes)


def write(name, X, obs=obs, var=var, **kw):
    path = os.path.join(out, name)
    anndata.AnnData(X=X, obs=obs.copy(), var=var.copy(), dtype=X.dtype, **kw).write_h5ad(path)
    return path


files = {
    "csr": write("csr.h5ad", sp.csr_matrix(counts)),
    "csc": write("csc.h5ad", sp.csc_matrix(counts)),
    "dense": write("dense.h5ad", counts.astype(np.float64)),
    "int64": write("int64.h5ad", sp.csr_matrix(counts.astype(np.int64))),
}
# counts in a layer, log-normalised values in X
norm = np.log1p(counts / counts.sum(1, keepdims=True) * 1e4).astype(np.float32)
files["layer"] = write("layer.h5ad", sp.csr_matrix(norm), layers={"counts": sp.csr_matrix(counts)})
# string (not categorical) obs columns
obs_str = obs.copy()
obs_str["perturbation"] = obs_str["perturbation"].astype(str)
obs_str["batch"] = obs_str["batch"].astype(str)
files["strings"] = write("strings.h5ad", sp.csr_matrix(counts), obs=obs_str)
# the older (anndata < 0.8) categorical form: codes dataset + obs/__categories/<col>
legacy = os.path.join(out, "legacy.h5ad")
shutil.copy(files["csr"], legacy)
with h5py.File(legacy, "r+") as f:
    for col in ["perturbation", "batch"]:
        codes, cats = f[f"obs/{col}/codes"][:], f[f"obs/{col}/categories"][:]
        del f[f"obs/{col}"]
        f.create_dataset(f"obs/__categories/{col}", data=cats, dtype=h5py.string_dtype())
        f.create_dataset(f"obs/{col}", data=codes)
files["legacy"] = legacy
# raw/X holds the counts, X something else
raw_path = os.path.join(out, "raw.h5ad")
ad = anndata.AnnData(X=sp.csr_matrix(counts), obs=obs.copy(), var=var.copy(), dtype=np.float32)
ad.raw = ad
ad.X = sp.csr_matrix(np.zeros_like(counts))
ad.write_h5ad(raw_path)

expect_singles, expect_pairs = 6, 2
for kind, path in files.items():
    args = ["inspect", path, "--json", "-q"] + (["--layer", "counts"] if kind == "layer" else [])
    r = run(args)
    check(r.returncode == 0, f"{kind}: exit {r.returncode}: {r.stderr}")
    if r.returncode:
        continue
    j = json.loads(r.stdout)
    check(j["cells"] == n and j["genes"] == 30, f"{kind}: shape {j['cells']} x {j['genes']}")
    check(j["matrix"]["encoding"] == ("csc" if kind == "csc" else "dense" if kind == "dense" else "csr"), f"{kind}: encoding {j['matrix']}")
    want_dtype = {"int64": "int64", "dense": "float64"}.get(kind, "float32")
    check(j["matrix"]["dtype"] == want_dtype, f"{kind}: dtype {j['matrix']['dtype']}")
    check(j["perturbations"]["single"] == expect_singles and j["perturbations"]["combinatorial"] == expect_pairs,
          f"{kind}: perturbations {j['perturbations']}")
    check(j["perturbations"]["control_cells"] == 120, f"{kind}: control cells {j['perturbations']}")
    check([b["control_cells"] for b in j["batches"]] == [40, 40, 40], f"{kind}: controls per batch {j['batches']}")
    check(j["batches_without_controls"] == [], f"{kind}: {j['batches_without_controls']}")
    check(j["targets"]["distinct"] == 6 and j["targets"]["not_in_var"] == [], f"{kind}: targets {j['targets']}")
    check(j["groups"]["count"] == 3 * 2 * 9, f"{kind}: groups {j['groups']}")  # 9 perturbations x 3 lanes x 2 media
print("inspect JSON checked on", len(files), "files")

# --- statistics: against scipy, and identical at 1 and 2 ranks ---
s1, s2 = os.path.join(out, "s1.h5"), os.path.join(out, "s2.h5")
check(run(["inspect", files["csc"], "--stats-out", s1, "-q"]).returncode == 0, "stats at 1 rank")
check(run(["inspect", files["csc"], "--stats-out", s2, "-q"], ranks=2).returncode == 0, "stats at 2 ranks")
with h5py.File(s1) as a, h5py.File(s2) as b:
    for k in ["sum", "sum_sq", "groups/size_factor_sum", "groups/cells"]:
        check(np.array_equal(a[k][:], b[k][:]), f"1 and 2 ranks differ in {k}")
    c64 = counts.astype(np.float64)
    tot = c64.sum(1)
    s = tot / tot.mean()
    z = np.log1p(c64 / s[:, None])
    for g in range(a["sum"].shape[0]):
        lab, bat, med = (a[f"groups/{c}"][g].decode() for c in ["perturbation", "batch", "medium"])
        m = (np.array(labels) == lab) & (np.array(batches) == bat) & (obs["medium"].to_numpy() == med)
        check(np.allclose(a["sum"][g], z[m].sum(0), rtol=1e-12, atol=1e-9), f"sum of group {g}")
        check(np.allclose(a["sum_sq"][g], (z[m] ** 2).sum(0), rtol=1e-12, atol=1e-9), f"sum_sq of group {g}")
        check(a["groups/cells"][g] == m.sum(), f"cells of group {g}")
print("statistics checked against scipy and across rank counts")

# --- raw/X, and gene subsetting while streaming (a list file; the top-N most variable) ---
r = run(["inspect", raw_path, "--layer", "raw", "--json", "-q"])
check(r.returncode == 0 and json.loads(r.stdout)["matrix"]["source"] == "raw/X", f"raw/X: {r.returncode} {r.stderr}")
genes_file = os.path.join(out, "genes.txt")
with open(genes_file, "w") as fh:
    fh.write("\n".join(["g0", "g1", "g7", "g29", "not_a_gene"]) + "\n")
r = run(["inspect", files["csr"], "--json", "-q", "--set", f'data.genes_file="{genes_file}"', "--set", "data.keep_targets=false"])
j = json.loads(r.stdout) if r.returncode == 0 else {}
check(j.get("genes") == 4, f"genes_file: {r.returncode} {j.get('genes')} {r.stderr}")
# g2..g5 are targets outside the list: reported, not fatal, without --strict
check(sorted(j.get("targets", {}).get("not_in_var", [])) == ["g2", "g3", "g4", "g5"], f"genes_file targets: {j.get('targets')}")
# By default (data.keep_targets) the selection keeps the measured targets: all of them stay in var.
r = run(["inspect", files["csr"], "--json", "-q", "--set", f'data.genes_file="{genes_file}"'])
j = json.loads(r.stdout) if r.returncode == 0 else {}
check(j.get("genes") == 8 and j.get("targets", {}).get("not_in_var") == [], f"genes_file + targets: {j.get('genes')} {j.get('targets')}")
top = os.path.join(out, "top.h5")
for ranks in (1, 2):
    r = run(["inspect", files["csr"], "-q", "--set", "data.top_variable=5", "--set", "data.keep_targets=false",
             "--stats-out", top], ranks=ranks)
    check(r.returncode == 0, f"top_variable at {ranks} ranks: {r.stderr}")
    with h5py.File(top) as f:
        kept = [g.decode() for g in f["genes"][:]]
        c64 = counts.astype(np.float64)
        s = c64.sum(1) / c64.sum(1).mean()
        z = np.log1p(c64 / s[:, None])
        expect = sorted(np.argsort(-z.var(0), kind="stable")[:5])
        check(kept == [genes[i] for i in expect], f"top_variable genes at {ranks} ranks: {kept} vs {[genes[i] for i in expect]}")
        check(f["sum"].shape[1] == 5, f"top_variable stats width {f['sum'].shape}")
        check(np.allclose(f["sum"][:].sum(0), z[:, expect].sum(0), rtol=1e-10), "top_variable sums")
print("raw/X and gene subsetting checked")


# --- bad inputs: exit 3 and a message that names the problem ---
def bad(name, mutate, expect, extra=(), strict=False, source="csr"):
    path = os.path.join(out, f"bad_{name}.h5ad")
    shutil.copy(files[source], path)
    if mutate:
        with h5py.File(path, "r+") as f:
            mutate(f)
    r = run(["inspect", path, "-q", *(["--strict"] if strict else []), *extra])
    check(r.returncode == 3, f"bad {name}: exit {r.returncode}, stderr {r.stderr.strip()}")
    check(expect in r.stderr, f"bad {name}: '{expect}' not in: {r.stderr.strip()}")
    check(r.stderr.count("perturbfit: error:") == 1, f"bad {name}: error printed {r.stderr.count('perturbfit: error:')} times")


def set_value(f, v):
    f["X/data"][3] = v


bad("missing_x", lambda f: f.__delitem__("X"), "has no X")
bad("missing_column", None, "obs column 'lane' not found", extra=["--set", "data.batch_key=lane"])
bad("control_label", None, "labels found: ", extra=["--set", 'data.control_labels=["NTC"]'])
bad("negative", lambda f: set_value(f, -1.0), "negative value")
bad("nan", lambda f: set_value(f, np.nan), "non-finite value")
bad("inf", lambda f: set_value(f, np.inf), "non-finite value")
bad("non_integer", lambda f: set_value(f, 0.5), "non-integer value", extra=["--set", "data.likelihood=nb"])
bad("indptr", lambda f: f["X/indptr"].__setitem__(5, 10 ** 6), "indptr")
bad("indices", lambda f: f["X/indices"].__setitem__(2, 999), "out of range")


def rename_target(f):
    cats = f["obs/perturbation/categories"][:].astype(str).astype(object)  # no truncation to the longest label
    cats[cats == "g5"] = "NOTAGENE"
    del f["obs/perturbation/categories"]
    f.create_dataset("obs/perturbation/categories", data=cats.astype(object), dtype=h5py.string_dtype())


bad("target", rename_target, "not in var", strict=True, extra=["--set", "data.missing_targets=error"])
# By default the missing target is accepted and reported as a latent node of the fit.
r = run(["inspect", os.path.join(out, "bad_target.h5ad"), "-q", "--json"])
check(r.returncode == 0, f"missing target by default: exit {r.returncode}, stderr {r.stderr.strip()}")
if r.returncode == 0:
    t = json.loads(r.stdout)["targets"]
    check(t["not_in_var"] == ["NOTAGENE"] and t["not_in_var_action"] == "latent nodes", f"missing target report: {t}")


def add_empty_category(f):
    cats = list(f["obs/perturbation/categories"][:].astype(str)) + ["g9"]
    del f["obs/perturbation/categories"]
    f.create_dataset("obs/perturbation/categories", data=np.array(cats, dtype=object), dtype=h5py.string_dtype())


bad("empty_group", add_empty_category, "without cells", strict=True)


def drop_lane_controls(f):
    pcats = list(f["obs/perturbation/categories"][:].astype(str))
    codes, lanes = f["obs/perturbation/codes"][:], f["obs/batch/codes"][:]
    lane_cats = list(f["obs/batch/categories"][:].astype(str))
    codes[(codes == pcats.index("control")) & (lanes == lane_cats.index("lane2"))] = pcats.index("g0")
    f["obs/perturbation/codes"][:] = codes


bad("uncontrolled_batch", drop_lane_controls, "batch 'lane2' has no control cells", strict=True)


def duplicate_var(f):
    names = f["var/_index"][:].astype(str)
    names[7] = names[3]
    del f["var/_index"]
    f.create_dataset("var/_index", data=names.astype(object), dtype=h5py.string_dtype())


bad("duplicate_var", duplicate_var, "appears twice")
# with the batch allowed, the same file is accepted, loudly
path = os.path.join(out, "bad_uncontrolled_batch.h5ad")
r = run(["inspect", path, "-q", "--strict", "--set", "data.allow_uncontrolled_batches=true"])
check(r.returncode == 0 and "lane2" in r.stderr, f"allowed uncontrolled batch: {r.returncode} {r.stderr}")
# truncated and non-HDF5 files
trunc = os.path.join(out, "truncated.h5ad")
with open(files["csr"], "rb") as src, open(trunc, "wb") as dst:
    dst.write(src.read()[: os.path.getsize(files["csr"]) // 2])
r = run(["inspect", trunc, "-q"])
check(r.returncode == 3, f"truncated: exit {r.returncode} {r.stderr}")
notfile = os.path.join(out, "not.h5ad")
with open(notfile, "w") as fh:
    fh.write("cell,gene,count\n")
r = run(["inspect", notfile, "-q"])
check(r.returncode == 3 and "not an HDF5 file" in r.stderr, f"non-HDF5: {r.returncode} {r.stderr}")
print("bad inputs checked")

# --- fuzz: mutated bytes and fields never crash (signal, exit 1) or hang ---
random.seed(1)
base = open(files["csr"], "rb").read()
outcomes = {}
for trial in range(int(os.environ.get("PERTURBFIT_FUZZ_TRIALS", "60"))):
    data = bytearray(base)
    for _ in range(random.choice([1, 4, 32])):
        pos = random.randrange(len(data))
        data[pos] = random.randrange(256)
    path = os.path.join(out, "fuzz.h5ad")
    with open(path, "wb") as fh:
        fh.write(bytes(data))
    try:
        r = run(["inspect", path, "-q", "--json"], timeout=60)
        code = r.returncode
    except subprocess.TimeoutExpired:
        code = "hang"
    outcomes[code] = outcomes.get(code, 0) + 1
    check(code in (0, 3), f"fuzz trial {trial}: outcome {code}: {getattr(r, 'stderr', '')[-300:]}")
field_mutations = [
    lambda f: f["X"].attrs.__setitem__("shape", np.array([5, 5])),
    lambda f: f["X"].attrs.__setitem__("encoding-type", "coo_matrix"),
    lambda f: f["obs/perturbation/codes"].__setitem__(0, 99),
    lambda f: f["X/indptr"].resize((10,)) if f["X/indptr"].maxshape[0] is None else f.__delitem__("X/indptr"),
    lambda f: f.__delitem__("var/_index"),
    lambda f: f.__delitem__("obs/perturbation/categories"),
]
for k, mutate in enumerate(field_mutations):
    path = os.path.join(out, f"field_{k}.h5ad")
    shutil.copy(files["csr"], path)
    with h5py.File(path, "r+") as f:
        mutate(f)
    r = run(["inspect", path, "-q"], timeout=30)
    check(r.returncode == 3, f"field mutation {k}: exit {r.returncode} {r.stderr.strip()}")
print("fuzz outcomes:", outcomes)

# --- the ecosystem's conventions (issue 11): GEARS, PerturBench, scPerturb ---
conv_labels = ["ctrl"] * 60 + ["g1+ctrl"] * 20 + ["ctrl+g2"] * 20 + ["g1+g2"] * 20 + ["ctrl+ctrl"] * 10
nc = len(conv_labels)
conv_counts = sp.csr_matrix(rng.poisson(3.0, size=(nc, 30)).astype(np.float32))
conv_index = [f"k{i}" for i in range(nc)]
gears = write("gears.h5ad", conv_counts, obs=pd.DataFrame({"condition": pd.Categorical(conv_labels)}, index=conv_index))
r = run(["inspect", gears, "--json", "-q", "--set", "data.batch_key="])
check(r.returncode == 3 and "GEARS" in r.stderr and 'perturbation_key = "condition"' in r.stderr,
      f"GEARS file read with the default keys names the convention's deck keys: {r.stderr.strip()}")
r = run(["inspect", gears, "--json", "-q", "--set", "data.batch_key=", "--set", "data.perturbation_key=condition",
         "--set", 'data.control_labels=["ctrl"]'])
check(r.returncode == 0, f"GEARS file read with its keys: {r.stderr}")
if r.returncode == 0:
    rep = json.loads(r.stdout)
    check(rep["conventions"][0]["name"] == "GEARS" and rep["conventions"][0]["matches_deck"], "GEARS detected and used")
    # 'g1+ctrl' and 'ctrl+g2' are singles, 'ctrl+ctrl' a control; no target called 'ctrl'
    check(rep["perturbations"]["single"] == 2 and rep["perturbations"]["combinatorial"] == 1,
          f"GEARS singles and pairs: {rep['perturbations']}")
    check(rep["perturbations"]["control_cells"] == 70, f"'ctrl+ctrl' cells are controls: {rep['perturbations']}")
    check("ctrl" not in rep["targets"]["not_in_var"] and rep["targets"]["distinct"] == 2,
          f"'ctrl' is no target: {rep['targets']}")
bench_labels = ["control"] * 60 + ["g1"] * 20 + ["g2"] * 20 + ["g1+g2"] * 20
nb = len(bench_labels)
perturbench = write("perturbench.h5ad", sp.csr_matrix(rng.poisson(3.0, size=(nb, 30)).astype(np.float32)),
                    obs=pd.DataFrame({"condition": pd.Categorical(bench_labels)}, index=[f"b{i}" for i in range(nb)]))
r = run(["inspect", perturbench, "--json", "-q", "--set", "data.batch_key="])
check(r.returncode == 3 and "PerturBench" in r.stderr, f"PerturBench convention named: {r.stderr.strip()}")
scp_labels = ["control"] * 60 + ["g1"] * 20 + ["g2"] * 20 + ["g1_g2"] * 20
scperturb = write("scperturb.h5ad", sp.csr_matrix(rng.poisson(3.0, size=(nb, 30)).astype(np.float32)),
                  obs=pd.DataFrame({"perturbation": pd.Categorical(scp_labels)}, index=[f"s{i}" for i in range(nb)]))
r = run(["inspect", scperturb, "--json", "-q", "--set", "data.batch_key="])
check(r.returncode == 0, f"scPerturb file read: {r.stderr}")
if r.returncode == 0:
    rep = json.loads(r.stdout)
    check(rep["conventions"][0]["name"] == "scPerturb" and rep["conventions"][0]["separator"] == "_"
          and not rep["conventions"][0]["matches_deck"], f"scPerturb's 'A_B' pairs detected: {rep['conventions']}")
    check(any("scPerturb" in w and 'separator = "_"' in w for w in rep["warnings"]), "inspect warns about the separator")
r = run(["inspect", scperturb, "--json", "-q", "--set", "data.batch_key=", "--set", "data.separator=_"])
check(r.returncode == 0 and json.loads(r.stdout)["perturbations"]["combinatorial"] == 1, "scPerturb pairs read with '_'")
print("conventions checked")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("ok")
