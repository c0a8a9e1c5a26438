"""Runner executed inside the ChannelAttribution environment (benchmarks/.envs/channelattribution).

Reads a comma-separated path table (path, total_conversions, total_conversion_value,
total_null), runs ChannelAttribution's public ``heuristic_models`` and ``markov_model``, and
writes their tables plus timings and peak RSS to the output folder.

    [CA_SEEDS=0,1,2] python _ca_runner.py IN.csv OUT_DIR ORDER [ORDER ...]

With CA_SEEDS, markov_model runs once per seed (Monte Carlo spread); the first is timed.
"""

import json
import os
import resource
import sys
import time
from importlib import metadata

import pandas as pd


def main() -> None:
    src, out = sys.argv[1], sys.argv[2]
    orders = [int(k) for k in sys.argv[3:]] or [1]
    import ChannelAttribution as ca

    timings = {}
    t = time.perf_counter()
    data = pd.read_csv(src)
    timings["read_s"] = time.perf_counter() - t
    t = time.perf_counter()
    heur = ca.heuristic_models(
        data,
        "path",
        "total_conversions",
        var_value="total_conversion_value",
        sep=">",
        flg_pro=False,
    )
    timings["heuristic_s"] = time.perf_counter() - t
    heur.to_csv(f"{out}/heuristic.csv", index=False)
    seeds = [int(x) for x in os.environ.get("CA_SEEDS", "0").split(",")]
    for order in orders:
        for seed in seeds:
            t = time.perf_counter()
            res = ca.markov_model(
                data,
                "path",
                "total_conversions",
                var_value="total_conversion_value",
                var_null="total_null",
                order=order,
                nsim_start=int(1e6),
                conv_par=0.01,
                sep=">",
                ncore=1,
                seed=seed,
                verbose=False,
                flg_pro=False,
            )
            if seed == seeds[0]:
                timings[f"markov{order}_s"] = time.perf_counter() - t
            if isinstance(res, dict):
                res = res["result"]
            res.to_csv(f"{out}/markov{order}_seed{seed}.csv", index=False)
    timings["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    timings["version"] = metadata.version("ChannelAttribution")
    with open(f"{out}/timings.json", "w") as fh:
        json.dump(timings, fh)


if __name__ == "__main__":
    main()
