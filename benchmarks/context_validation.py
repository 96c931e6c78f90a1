"""Validation on context points only: choices about the default are judged here, never on targets.

    python -m benchmarks.context_validation            # all 132 curves, ~10 min on 2 cores
    python -m benchmarks.context_validation --limit 12

Every benchmark curve's *context* points are split again by x: the first 70% (at least 3 points) are
fitted, the last 30% (at least 1) are scored as pseudo-targets. Held-out benchmark targets are never
read. Each bnsl-1 fit is scored twice from the same posterior draws: with equal chain weights and
with the chains mixed by chain stacking (`forecast.chain_stacking_weights`, `stack_chains=True`).

Decision rule, written before the first run (when stacking was the default): chain stacking stays
the default only if its mean pseudo-target LL over all curves is at least that of equal weights.
It was not (2.425 vs 2.506 over 132 curves), so `fit` weights chains equally unless asked.
Results go to benchmarks/results/context_validation.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks import run  # noqa: E402

FIT_SHARE = 0.7
OUT = run.RESULTS / "context_validation.json"


def split_context(ctx):
    """(fit part, pseudo-target part) of one curve's context points, split by x."""
    xs = np.sort(ctx["x"].unique())
    n_fit = min(max(3, math.ceil(FIT_SHARE * len(xs))), len(xs) - 1)
    cut = xs[n_fit - 1]
    return ctx[ctx["x"] <= cut], ctx[ctx["x"] > cut]


def reweighted(fit, weights):
    """The same posterior draws, answering with other chain weights."""
    import bnsl_bayes

    idata = fit.idata.copy()
    idata.posterior.attrs["chain_weights"] = json.dumps([float(w) for w in weights])
    return bnsl_bayes.Fit(idata)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--limit", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)

    from bnsl_bayes.datasets import benchmark, domain_y_scale
    from bnsl_bayes.many import fit_many

    data = benchmark()
    names = run.plan_curves(data, quick=False)[: args.limit]
    parts = {n: split_context(run.curve_parts(data, n)[0]) for n in names}
    t0 = time.perf_counter()
    fit_rows = pd.concat([f.assign(curve=n) for n, (f, _) in parts.items()])
    res = fit_many(fit_rows, x="x", y="y", group="curve", breaks=1, seed=args.seed)
    records = []
    for n in names:
        fit_part, pseudo = parts[n]
        domain = str(fit_part["domain"].iloc[0])
        rec = {"curve": n, "domain": domain, "n_fit": len(fit_part), "n_pseudo": len(pseudo)}
        if n not in res.fits:
            rec["status"] = "failed"
            records.append(rec)
            continue
        divisor = domain_y_scale(domain, fit_part["y"].to_numpy())
        x_t, y_t = pseudo["x"].to_numpy(), pseudo["y"].to_numpy()
        fit = res.fits[n]
        n_chain = len(fit.chain_stacking_weights)
        rec.update(status="ok", chain_weights=fit.chain_stacking_weights.tolist(),
                   stacked=run.score_fit(reweighted(fit, fit.chain_stacking_weights), x_t, y_t, divisor),
                   equal=run.score_fit(reweighted(fit, [1.0 / n_chain] * n_chain), x_t, y_t, divisor))
        records.append(rec)
    ok = [r for r in records if r["status"] == "ok"]
    summary = {"curves": len(names), "ok": len(ok), "seconds": time.perf_counter() - t0,
               "reweighted": sum(1 for r in ok if max(r["chain_weights"]) > min(r["chain_weights"]) + 1e-9)}
    for group in sorted({r["domain"] for r in ok}) + ["all"]:
        rs = [r for r in ok if group in ("all", r["domain"])]
        summary[group] = {m: {k: float(np.mean([r[m][k] for r in rs if r[m].get(k) is not None]))
                              for k in ("rmsle", "ll", "msce", "coverage90")} for m in ("stacked", "equal")}
    keep = summary["all"]["stacked"]["ll"] >= summary["all"]["equal"]["ll"]
    summary["decision"] = "chain stacking stays the default" if keep else "equal chain weights become the default"
    run.write_json(args.out, {"summary": summary, "records": records, "provenance": run.provenance()})
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
