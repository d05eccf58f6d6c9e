#!/usr/bin/python3
"""Strong and weak scaling of loss + gradient (W1) and of a 20-iteration fit, over MPI ranks
x OpenMP threads, and a performance model from the measured per-perturbation cost and the
measured interconnect, projected to 64-4096 ranks (docs/scaling.md).

  strong: W1 fixed (G = 5000, nnz(W) = 100k, P = 5000 single knockdowns), ranks x threads
          in --configs (default 1x1, 1x2, 2x1);
  weak:   P = --per-core perturbations per core (ranks x threads), same network;
  fit:    `perturbfit fit` of --fit-deck's simulated screen, 20 L-BFGS iterations;
  mpi:    bench_mpi at 2 ranks (latency, bandwidth, allreduce of n doubles).

usage: scaling_study.py OUT [--configs 1x1,1x2,2x1] [--launcher mpirun|srun] [--build build]
Writes OUT/scaling.json and OUT/scaling.png, and prints Markdown tables. On SLURM:
jobs/scaling.slurm runs it inside one allocation with --launcher srun."""
import argparse
import json
import math
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--configs", default="1x1,1x2,2x1", help="ranks x threads")
ap.add_argument("--launcher", choices=["mpirun", "srun"], default="mpirun")
ap.add_argument("--build", default=os.path.join(ROOT, "build"))
ap.add_argument("--genes", type=int, default=5000)
ap.add_argument("--nnz", type=int, default=100000)
ap.add_argument("--perturbations", type=int, default=5000)
ap.add_argument("--per-core", type=int, default=2500)
ap.add_argument("--repeat", type=int, default=3)
ap.add_argument("--fit-deck", default=os.path.join(ROOT, "bench", "inputs", "study_large.toml"))
ap.add_argument("--fit-iterations", type=int, default=20)
ap.add_argument("--w1g-json", help="a bench_loss_gradient JSON of W1-G (G 20k, nnz 400k, P 10k): its measured "
                "per-perturbation cost replaces the model's 4 x W1")
ap.add_argument("--model-only", action="store_true", help="reuse OUT/scaling.json's measurements; redo the model")
args = ap.parse_args()
os.makedirs(args.out, exist_ok=True)
configs = [tuple(int(x) for x in c.split("x")) for c in args.configs.split(",")]
exe = os.path.join(args.build, "src", "perturbfit")


def launch(ranks, threads, cmd):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMP_PROC_BIND="close")
    if args.launcher == "srun":
        prefix = ["srun", f"--ntasks={ranks}", f"--cpus-per-task={threads}", "--cpu-bind=cores"]
    else:
        prefix = [os.path.join(ROOT, "tools", "mpirun.sh"), str(ranks)]
    return prefix + cmd, env


def run(ranks, threads, cmd):
    full, env = launch(ranks, threads, cmd)
    start = time.time()
    res = subprocess.run(full, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        sys.exit(f"failed: {' '.join(full)}\n{res.stderr[-3000:]}")
    return res.stdout, time.time() - start


def loss_gradient(ranks, threads, perturbations, tag):
    path = os.path.join(args.out, f"loss_gradient_{tag}_{ranks}x{threads}.json")
    run(ranks, threads, [os.path.join(args.build, "bench", "bench_loss_gradient"), "--genes", str(args.genes),
                         "--nnz", str(args.nnz), "--perturbations", str(perturbations), "--repeat", str(args.repeat),
                         "--no-reference", "--out", path])
    j = json.load(open(path))
    return {"ranks": ranks, "threads": threads, "perturbations": perturbations,
            "cold_seconds": j["batched"]["wall_seconds"], "cold_runs": j["batched"]["wall_seconds_of_each_run"],
            "steady_state_seconds": j["batched"]["steady_state_seconds"],
            "adjoint_seconds": j["batched"]["adjoint_seconds"], "warm_seconds": j["warm_batched"]["wall_seconds"],
            "parameters": j["parameters"]}


if args.model_only:
    results = json.load(open(os.path.join(args.out, "scaling.json")))
    mpi = results["mpi"]
else:
    results = {"configs": [f"{r}x{t}" for r, t in configs], "genes": args.genes, "nnz": args.nnz,
               "launcher": args.launcher, "strong": [], "weak": [], "fit": []}
    for r, t in configs:
        results["strong"].append(loss_gradient(r, t, args.perturbations, "strong"))
        print(f"strong {r}x{t}: {results['strong'][-1]['cold_seconds']:.2f} s", flush=True)
        results["weak"].append(loss_gradient(r, t, args.per_core * r * t, "weak"))
        print(f"weak {r}x{t}: {results['weak'][-1]['cold_seconds']:.2f} s", flush=True)

    # The fit: one simulated screen, then 20 iterations per configuration (no early stop).
    screen = os.path.join(args.out, "fit_screen")
    if not os.path.exists(os.path.join(screen, "screen.h5ad")):
        run(2 if any(r >= 2 for r, _ in configs) else 1, 1, [exe, "simulate", args.fit_deck, "-o", screen, "-q", "--force"])
    for r, t in configs:
        out = os.path.join(args.out, f"fit_{r}x{t}")
        stdout, wall = run(r, t, [exe, "fit", args.fit_deck, "--data", os.path.join(screen, "screen.h5ad"), "-o", out,
                                  "--force", "-q", "--json", "--set", "fit.truth=", "--set",
                                  f"fit.max_iterations={args.fit_iterations}", "--set", "fit.gatol=0",
                                  "--set", "fit.validation_patience=100000"])
        m = json.loads(stdout)
        results["fit"].append({"ranks": r, "threads": t, "iterations": m["iterations"], "fit_seconds": m["wall_seconds"],
                               "process_seconds": wall, "parameters": m["parameters"], "perturbations": m["perturbations"]})
        print(f"fit {r}x{t}: {m['iterations']} iterations in {m['wall_seconds']:.2f} s", flush=True)

    mpi_path = os.path.join(args.out, "mpi_np2.json")
    run(2, 1, [os.path.join(args.build, "bench", "bench_mpi"), "--out", mpi_path])
    mpi = json.load(open(mpi_path))
    results["mpi"] = mpi

# ---- The performance model -------------------------------------------------------------
# One evaluation at R ranks: T(R) = ceil(P/R) * t_p + T_allreduce(|theta|, R), where t_p is
# the measured per-perturbation cost (steady state + adjoint + parameter products, one
# core) and the allreduce is the bandwidth-optimal one large messages get (reduce-scatter
# + allgather: 2 log2(R) latencies + 2 (R-1)/R n 8 / bandwidth, plus the local sums).
serial = next(s for s in results["strong"] if s["ranks"] == 1 and s["threads"] == 1)
t_p = serial["cold_seconds"] / serial["perturbations"]
big = [a for a in mpi["allreduce"] if a["doubles"] >= 100000]
# Fit the measured 2-rank allreduce: seconds = alpha + n * 8 / beta_eff (large messages).
n0, n1 = big[0]["doubles"], big[-1]["doubles"]
s0, s1 = big[0]["seconds"], big[-1]["seconds"]
local_beta = (n1 - n0) * 8 / max(s1 - s0, 1e-12)
latency_here = next(p for p in mpi["ping_pong"] if p["bytes"] == 8)["one_way_seconds"]
bandwidth_here = max(p["bandwidth_bytes_per_second"] for p in mpi["ping_pong"])
networks = {
    "this VM (measured, shared memory)": {"latency": latency_here, "bandwidth": bandwidth_here},
    "InfiniBand HDR (stated: 1.5 us, 25 GB/s)": {"latency": 1.5e-6, "bandwidth": 25e9},
    "25 GbE (stated: 15 us, 3 GB/s)": {"latency": 15e-6, "bandwidth": 3e9},
}
# Genome scale: measured (--w1g-json: seconds x ranks / P), else 4x W1's (cost ~ nnz).
t_p_g, t_p_g_source = 4 * t_p, "4 x W1 (cost ~ nnz(W))"
if args.w1g_json:
    g = json.load(open(args.w1g_json))
    t_p_g = g["batched"]["wall_seconds"] * g["ranks"] / g["perturbations"]
    t_p_g_source = f"measured: {args.w1g_json}"
workloads = {
    "W1 (G 5k, nnz 100k, P 5k)": {"P": 5000, "theta": 120090, "t_p": t_p},
    "W1-G (G 20k, nnz 400k, P 10k)": {"P": 10000, "theta": 400000 + 5 * 20000, "t_p": t_p_g, "t_p_source": t_p_g_source},
}
# Summing n doubles locally runs at memory speed: about 2 reads + 1 write of 8 bytes.
sum_rate = 3 * 8 / 4e9


def allreduce_seconds(n, R, net):
    if R == 1:
        return 0.0
    return 2 * math.log2(R) * net["latency"] + 2 * (R - 1) / R * n * 8 / net["bandwidth"] + (R - 1) / R * n * sum_rate


projection = {}
ranks_list = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
for wname, w in workloads.items():
    projection[wname] = {}
    for nname, net in networks.items():
        rows = []
        for R in ranks_list:
            compute = math.ceil(w["P"] / R) * w["t_p"]
            comm = allreduce_seconds(w["theta"], R, net)
            rows.append({"ranks": R, "compute_seconds": compute, "allreduce_seconds": comm,
                         "evaluation_seconds": compute + comm, "allreduce_fraction": comm / (compute + comm)})
        crossover = next((r["ranks"] for r in rows if r["allreduce_seconds"] >= r["compute_seconds"]), None)
        projection[wname][nname] = {"rows": rows, "allreduce_dominates_from_ranks": crossover}
results["model"] = {"per_perturbation_seconds_one_core": t_p, "allreduce_2_ranks_bytes_per_second": local_beta,
                    "local_sum_seconds_per_double": sum_rate, "networks": networks, "workloads": workloads,
                    "projection": projection}
# Model check at 2 ranks: predicted against measured.
two = next((s for s in results["strong"] if s["ranks"] == 2 and s["threads"] == 1), None)
if two:
    net = networks["this VM (measured, shared memory)"]
    predicted = math.ceil(args.perturbations / 2) * t_p + allreduce_seconds(two["parameters"], 2, net)
    results["model"]["check_2_ranks"] = {"predicted_seconds": predicted, "measured_seconds": two["cold_seconds"]}
results["date"] = mpi.get("date")
json.dump(results, open(os.path.join(args.out, "scaling.json"), "w"), indent=2)

# ---- Tables and plot -------------------------------------------------------------------
print("\n| ranks x threads | strong: W1 loss+gradient (s) | speed-up | weak: P | weak (s) | efficiency | "
      "20-iteration fit (s) |")
print("|---|---|---|---|---|---|---|")
for s, w, f in zip(results["strong"], results["weak"], results["fit"]):
    print(f"| {s['ranks']}x{s['threads']} | {s['cold_seconds']:.2f} | {serial['cold_seconds'] / s['cold_seconds']:.2f} | "
          f"{w['perturbations']} | {w['cold_seconds']:.2f} | {results['weak'][0]['cold_seconds'] / w['cold_seconds']:.2f} | "
          f"{f['fit_seconds']:.2f} |")
for wname, per_net in projection.items():
    print(f"\n{wname}: projected seconds per evaluation (allreduce share)\n")
    print("| ranks | " + " | ".join(per_net) + " |")
    print("|---|" + "---|" * len(per_net))
    for i, R in enumerate(ranks_list):
        if R < 64 and R not in (1, 2, 16):
            continue
        cells = [f"{v['rows'][i]['evaluation_seconds']:.4f} ({100 * v['rows'][i]['allreduce_fraction']:.0f}%)"
                 for v in per_net.values()]
        print(f"| {R} | " + " | ".join(cells) + " |")
    print("\nallreduce dominates from: " + ", ".join(f"{n}: {v['allreduce_dominates_from_ranks']}" for n, v in per_net.items()))

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    labels = [f"{s['ranks']}x{s['threads']}" for s in results["strong"]]
    x = range(len(labels))
    axes[0].bar([i - 0.2 for i in x], [s["cold_seconds"] for s in results["strong"]], 0.4, label="strong (P = 5000)")
    axes[0].bar([i + 0.2 for i in x], [w["cold_seconds"] for w in results["weak"]], 0.4,
                label=f"weak ({args.per_core} per core)")
    axes[0].set_xticks(list(x), labels)
    axes[0].set_xlabel("MPI ranks x OpenMP threads")
    axes[0].set_ylabel("W1 loss + gradient (s)")
    axes[0].legend()
    axes[0].set_title("measured on this machine")
    for wname, per_net in projection.items():
        for nname, v in per_net.items():
            if "VM" in nname:
                continue
            axes[1].loglog([r["ranks"] for r in v["rows"]], [r["evaluation_seconds"] for r in v["rows"]],
                           label=f"{wname.split(' ')[0]}, {nname.split(' (')[0]}")
    axes[1].set_xlabel("ranks")
    axes[1].set_ylabel("projected seconds per evaluation")
    axes[1].set_title("model: ceil(P/R) t_p + allreduce(|theta|)")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "scaling.png"), dpi=110)
except ImportError:
    print("matplotlib missing: no plot (install python3-matplotlib)")
