#!/usr/bin/env python3
"""The reference for `Cairn.Bench drift`: the same statistics as `cairn drift` with pandas and SciPy.

    /usr/bin/python3 bench/drift_scipy.py REF.csv CUR.csv

Prints one line of phase times (load, KS, Wasserstein, PSI + JS) and one JSON line of per-column results. Definitions as in
docs/MONITORING.md (quantile bins from the reference, 1e-4 for an empty bin, natural log).
"""
import json
import sys
import time

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

t0 = time.perf_counter()
ref = pd.read_csv(sys.argv[1])
cur = pd.read_csv(sys.argv[2])
t1 = time.perf_counter()
out = {c: {} for c in ref.columns}
for c in ref.columns:
    r, k = ref[c].dropna().to_numpy(), cur[c].dropna().to_numpy()
    res = stats.ks_2samp(r, k, method="auto")
    out[c]["ks"], out[c]["ks_p"] = float(res.statistic), float(res.pvalue)
t2 = time.perf_counter()
for c in ref.columns:
    out[c]["wasserstein"] = float(stats.wasserstein_distance(ref[c].dropna().to_numpy(), cur[c].dropna().to_numpy()))
t3 = time.perf_counter()
for c in ref.columns:
    r, k = ref[c].dropna().to_numpy(), cur[c].dropna().to_numpy()
    edges = np.unique(np.quantile(r, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]))
    n = edges.size + 1
    rs = np.bincount(np.searchsorted(edges, r, side="right"), minlength=n) / r.size
    cs = np.bincount(np.searchsorted(edges, k, side="right"), minlength=n) / k.size
    rs, cs = np.where(rs == 0, 1e-4, rs), np.where(cs == 0, 1e-4, cs)
    out[c]["psi"] = float(np.sum((cs - rs) * np.log(cs / rs)))
    out[c]["js"] = float(jensenshannon(rs, cs))
t4 = time.perf_counter()
print(f"load {t1 - t0:.2f} s, KS {t2 - t1:.2f} s, Wasserstein {t3 - t2:.2f} s, PSI + JS {t4 - t3:.2f} s")
print(json.dumps(out))
