"""Parameter recovery on simulated curves, for the default priors and the declared prior variants.

    python -m benchmarks.recovery                 # 24 curves of seed 20231
    python -m benchmarks.recovery --curves 8

Each curve (bnsl_bayes.simulate: known 1-break parameters, 2% noise, break inside or just past the
window) is fitted with bnsl-1; we count how often the 90% intervals of the break position d, the
limit a and the first slope c0 contain the truth, how often the 6 held-out points past the window
lie inside the 90% predictive interval, and how often the 90% interval of `Fit.reach` contains the
x at which the true curve reaches its level at the nearest and the farthest held-out x. The variants are those of benchmarks/context_validation.py:
this script says how recovery moves with the prior; context_validation says which prior predicts
real curves better, and only that decides the default. Results: benchmarks/results/recovery.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks import run  # noqa: E402
from benchmarks.context_validation import VARIANTS  # noqa: E402

SEED = 20231  # the first of the two seeds tests/test_science.py pools


def main(argv=None) -> int:
    import bnsl_bayes
    from bnsl_bayes.simulate import recovered, simulated_curves

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--curves", type=int, default=24)
    p.add_argument("--out", type=Path, default=run.RESULTS / "recovery.json")
    args = p.parse_args(argv)
    curves = simulated_curves(args.curves, seed=SEED)
    summary, records = {}, []
    for name, priors in {"default": None, **VARIANTS}.items():
        t0 = time.perf_counter()
        rows = []
        for k, c in enumerate(curves):
            fit = bnsl_bayes.fit(c.x, c.y, breaks=1, seed=k, priors=priors, warn=False)
            r = recovered(fit, c)
            r.update(curve=k, prior=name, r_hat_max=fit.diagnostics()["r_hat_max"])
            rows.append(r)
        params = [r[k] for r in rows for k in ("d", "a", "c0")]
        summary[name] = {"parameters_inside_90": float(np.mean(params)), "n_parameters": len(params),
                         **{f"{k}_inside_90": float(np.mean([r[k] for r in rows])) for k in ("d", "a", "c0")},
                         "heldout_inside_90": float(np.mean([h for r in rows for h in r["heldout"]])),
                         "reach_inside_90": float(np.mean([h for r in rows for h in r["reach"]])),
                         "first_8_parameters_inside_90": float(np.mean(params[:24])),
                         "fits_r_hat_above_1.01": int(sum(r["r_hat_max"] > 1.01 for r in rows)),
                         "seconds": time.perf_counter() - t0}
        records.extend(rows)
        print(name, summary[name], flush=True)
    run.write_json(args.out, {"summary": summary, "priors": {"default": "models/bnsl-1.toml", **VARIANTS},
                              "records": records, "provenance": run.provenance()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
