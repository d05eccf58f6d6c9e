"""export and tools/plot.py end to end on a fit of tests/data/predict_pairs.toml (mechanistic:
B is its edges exactly).

usage: check_export_plot.py EXE MPIRUN DECK WORKDIR

Checks: the total effects solve (I - B) t = e_source with B read back from edges.tsv; the
spectral radius equals numpy's over the dense B from edges.tsv (Arnoldi over every node);
network.graphml parses with a node per model node and an edge per edges.tsv row; 1 and 2
ranks write the same files; unknown genes and a model of other --set values exit 2, check on a
file that is not a fit.h5 exits 3; the figures (with the design curves) exist as PNGs of the
documented size.
"""
import csv
import json
import os
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from launch import run, simulate_and_fit  # noqa: E402

exe, mpirun, deck, work = sys.argv[1:5]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
screen, model, sim, fitdir = simulate_and_fit(exe, mpirun, deck, work, fit_ranks=1)


def export(ranks, out, *args, check=True):
    return run(exe, mpirun, ranks, "export", deck, "--data", screen, "--model", model, "-o", os.path.join(work, out),
               "-q", *args, check=check)


for ranks in (1, 2):
    export(ranks, f"export{ranks}", "--genes", "G01,G05,G19", "--min-effect", "0", "--arnoldi-steps", "1000")
for name in ("edges.tsv", "total_effects.tsv", "network.graphml"):
    a, b = (open(os.path.join(work, f"export{r}", name)).read() for r in (1, 2))
    assert a == b, f"{name} differs between 1 and 2 ranks"
out = os.path.join(work, "export2")
summary = json.load(open(os.path.join(out, "summary.json")))
nodes = summary["nodes"]
context = summary["contexts"][0]
root = ET.parse(os.path.join(out, "network.graphml")).getroot()
ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
names = [n.find("g:data[@key='name']", ns).text for n in root.iter("{http://graphml.graphdrawing.org/xmlns}node")]
index = {n: i for i, n in enumerate(names)}
assert len(names) == nodes, (len(names), nodes)
B = np.zeros((nodes, nodes))
with open(os.path.join(out, "edges.tsv")) as f:
    rows = list(csv.DictReader(f, delimiter="\t"))
for r in rows:
    B[index[r["target"]], index[r["regulator"]]] = float(r["weight"])
graph_edges = list(root.iter("{http://graphml.graphdrawing.org/xmlns}edge"))
assert len(graph_edges) == len(rows) == context["edges"], (len(graph_edges), len(rows), context["edges"])
rho = max(abs(np.linalg.eigvals(B)))
print(f"export: {nodes} nodes, {len(rows)} edges, spectral radius {context['spectral_radius']:.6f} (numpy {rho:.6f})")
assert abs(context["spectral_radius"] - rho) <= 1e-8 * max(1, rho)
T = {}
with open(os.path.join(out, "total_effects.tsv")) as f:
    for r in csv.DictReader(f, delimiter="\t"):
        T.setdefault(r["source"], np.zeros(nodes))[index[r["target"]]] = float(r["total_effect"])
        assert float(r["direct_effect"]) == B[index[r["target"]], index[r["source"]]] or \
            abs(float(r["direct_effect"]) - B[index[r["target"]], index[r["source"]]]) < 1e-7
assert sorted(T) == ["G01", "G05", "G19"]
worst = 0.0
for s, t in T.items():
    e = np.zeros(nodes)
    e[index[s]] = 1
    worst = max(worst, np.abs((np.eye(nodes) - B) @ t - e).max() / max(1, np.abs(t).max()))
print(f"total effects: largest residual of (I - B) t = e_source {worst:.2e}")
assert worst < 1e-6, worst  # edges.tsv holds B to 8 significant digits
res = export(1, "bad", "--genes", "G01,NOPE", check=False)
assert res.returncode == 2 and "unknown gene 'NOPE'" in res.stderr, res.stderr
res = export(1, "bad-deck", "--set", "fit.lambda_ss=1", check=False)
assert res.returncode == 2 and "another deck" in res.stderr, res.stderr
res = run(exe, mpirun, 1, "check", deck, "--data", screen, "--model", os.path.join(sim, "truth.h5"), "-o",
          os.path.join(work, "bad-check"), "-q", check=False)
assert res.returncode == 3 and "not a fit.h5" in res.stderr, res.stderr
default = export(1, "default", "--json")
assert len(json.loads(default.stdout)["contexts"][0]["total_effect_sources"]) == 10

# Figures.
figs = os.path.join(work, "figures")
run(exe, mpirun, 1, "design", deck, "--sigma2", "0.14", "-o", os.path.join(work, "design"), "-q")
subprocess.run(["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "..", "..", "tools", "plot.py"), fitdir,
                "--export", out, "--design", os.path.join(work, "design", "design.json"), "-o", figs], check=True,
               capture_output=True)
for name in ("loss_history.png", "predicted_vs_observed.png", "metrics.png", "network.png", "design_curves.png"):
    path = os.path.join(figs, name)
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", name
    width, height = struct.unpack(">II", head[16:24])
    assert (width, height) == (800, 500), (name, width, height)
    assert os.path.getsize(path) > 5000, (name, os.path.getsize(path))
print("export and figures: all checks passed")
