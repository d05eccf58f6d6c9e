"""Reference for bench_read: the same read + pseudo-bulk statistics with anndata + scipy
(what a Python pipeline does), on one core. usage: reference_read_anndata.py FILE OUT.json"""
import json
import resource
import sys
import time

import anndata
import numpy as np
import scipy.sparse as sp

t0 = time.perf_counter()
a = anndata.read_h5ad(sys.argv[1])
t1 = time.perf_counter()
X = a.X.tocsr().astype(np.float64)
tot = np.asarray(X.sum(axis=1)).ravel()
s = tot / tot.mean()
Z = sp.diags(1.0 / np.where(s > 0, s, 1.0)) @ X
Z.data = np.log1p(Z.data)
keys = a.obs["perturbation"].astype(str) + "|" + a.obs["batch"].astype(str)
codes, uniques = keys.factorize()
G = sp.csr_matrix((np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(len(uniques), len(codes)))
sums = G @ Z
Z.data **= 2
sumsq = G @ Z
t2 = time.perf_counter()
out = {"method": "anndata.read_h5ad + scipy sparse group sums (1 core)", "read_seconds": t1 - t0,
       "statistics_seconds": t2 - t1, "wall_seconds": t2 - t0, "groups": len(uniques),
       "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
       "check_sum_of_all_group_sums": float(sums.sum())}
print(json.dumps(out, indent=2))
json.dump(out, open(sys.argv[2], "w"), indent=2)
