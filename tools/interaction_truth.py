"""The truth's genetic interactions of a simulated screen, and AUPRC of a ranking against them.

A pair's true interaction score is the RMS over genes of e_ab - e_a - e_b, where e_p is the
mean over p's guide classes of log(eps + x) - log(eps + x_control) at the truth's last
snapshot (eps = 0.1 x the median control level); the singles are the pair's own targets'.
Used by tests/fit/check_predict.py and bench/interaction_recovery.py.
"""
import h5py
import numpy as np

# A pair interacts when its effect departs from additive by more than 1% RMS (log scale).
INTERACTING = 0.01


def true_scores(truth_path):
    """{pair label: true RMS deviation from additive} for every pair whose singles are in the screen."""
    with h5py.File(truth_path, "r") as f:
        pert = np.array([x.decode() for x in f["/classes/perturbation"][:]])
        snapshots = sorted(f["/states"].keys())
        X = f["/states/" + snapshots[-1]][:]
        ctrl = f["/control/steady_state"][:]
    eps = 0.1 * np.median(ctrl)
    L, lc = np.log(X + eps), np.log(ctrl + eps)
    effect = {p: L[pert == p].mean(axis=0) - lc for p in set(pert) if p != "control"}
    out = {}
    for p, e in effect.items():
        parts = p.split("+")
        if len(parts) == 2 and parts[0] in effect and parts[1] in effect:
            out[p] = float(np.sqrt(np.mean((e - effect[parts[0]] - effect[parts[1]]) ** 2)))
    return out


def auprc(scores, labels):
    """Average precision of ranking by score (descending) against boolean labels."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    y = np.asarray(labels, dtype=bool)[order]
    if y.sum() == 0:
        return float("nan")
    hits = np.cumsum(y)
    precision = hits / np.arange(1, len(y) + 1)
    return float(precision[y].mean())
