"""Warm-fit time against sampler quality for a few sampler settings, on context points only.

    python -m benchmarks.sampler_settings              # bnsl-1
    python -m benchmarks.sampler_settings --breaks 2   # bnsl-2 (or 0)

For the benchmark's quick set of curves (2 per domain), each setting fits the spec to the context
points (held-out targets are not read) after one warm-up fit, and we record wall time per fit, mean
leapfrog steps per draw, r_hat, divergences, the smallest bulk ESS, and the within-chain correlation
of log_offset and c0 (the level at the window's centre and the first slope), which a diagonal mass
matrix cannot follow. It answers "how much faster
is X, and what does it cost", not "which forecasts better": only benchmarks/context_validation.py
may decide a default. Results: benchmarks/results/sampler_settings.json (bnsl-1) and
sampler_settings_bnsl-<n>.json (other break counts).
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

# Spelled out in full, so the rows keep their meaning when the spec's defaults change.
SETTINGS = {
    "diag mass matrix, 500 draws (bnsl-0, bnsl-2 default; bnsl-1 until 2026-11-23)": {"mass_matrix": "diag", "draws": 500},
    "low-rank mass matrix, 500 draws": {"mass_matrix": "low_rank", "draws": 500},
    "low-rank mass matrix, 1000 draws (bnsl-1 default)": {"mass_matrix": "low_rank", "draws": 1000},
    # The low-rank rows above diverge 2-5x as often as the diag row: does a smaller step size
    # (higher target acceptance) remove that, and at what cost?
    "low-rank mass matrix, 1000 draws, target_accept 0.95": {"mass_matrix": "low_rank", "draws": 1000,
                                                             "target_accept": 0.95},
    "low-rank mass matrix, 1000 draws, target_accept 0.98": {"mass_matrix": "low_rank", "draws": 1000,
                                                             "target_accept": 0.98},
    # On an easy curve warm-up costs more leapfrog steps than the 1000 draws (IC/bird_25/BiT/101/3,
    # 2026-11-30: 77k warm-up steps, 47k draw steps): does nutpie's own default of 300 warm-up draws
    # adapt as well as our 600?
    "low-rank mass matrix, 1000 draws, 300 warm-up draws": {"mass_matrix": "low_rank", "draws": 1000, "tune": 300},
    # What a user gets by following both remedies the unconverged-fit warning offers (Fit.warn_if_unconverged):
    # on the 4-digit demo they took r_hat 1.128 -> 1.009 and divergences 186 -> 3. On these curves?
    "low-rank mass matrix, the warning's remedies: tune 2000, draws 2000, target_accept 0.99": {
        "mass_matrix": "low_rank", "draws": 2000, "tune": 2000, "target_accept": 0.99},
}


def main(argv=None) -> int:
    import bnsl_bayes
    from bnsl_bayes.datasets import benchmark

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--breaks", type=int, default=1)
    breaks = p.parse_args(argv).breaks
    data = benchmark()
    names = run.plan_curves(data, quick=True)
    first = run.curve_parts(data, names[0])[0]
    bnsl_bayes.fit(first.x, first.y, breaks=breaks, seed=99, warn=False)  # compile once: every setting is warm
    summary, records = {}, []
    for label, options in SETTINGS.items():
        rows = []
        for k, name in enumerate(names):
            ctx = run.curve_parts(data, name)[0]
            t0 = time.perf_counter()
            fit = bnsl_bayes.fit(ctx.x, ctx.y, breaks=breaks, seed=k, warn=False, **options)
            seconds = time.perf_counter() - t0
            d = fit.diagnostics()
            post = fit.idata.posterior
            r = np.mean([np.corrcoef(post["log_offset"].values[ch], post["c0"].values[ch])[0, 1]
                         for ch in range(post.sizes["chain"])])
            rows.append({"setting": label, "curve": name, "seconds": seconds,
                         "steps_per_draw": float(fit.idata.sample_stats["n_steps"].mean()),
                         "r_hat_max": d["r_hat_max"], "divergences": d["divergences"],
                         "ess_bulk_min": d["ess_bulk_min"], "corr_log_offset_c0": float(r)})
        med = lambda key: float(np.median([r[key] for r in rows]))  # noqa: E731
        summary[label] = {"options": options, "curves": len(rows), "median_seconds": med("seconds"),
                          "median_steps_per_draw": med("steps_per_draw"), "median_r_hat_max": med("r_hat_max"),
                          "fits_r_hat_above_1.01": int(sum(r["r_hat_max"] > 1.01 for r in rows)),
                          "median_divergences": med("divergences"), "median_ess_bulk_min": med("ess_bulk_min"),
                          "median_abs_corr_log_offset_c0": float(np.median([abs(r["corr_log_offset_c0"]) for r in rows])),
                          "median_ess_bulk_min_per_second": float(np.median(
                              [r["ess_bulk_min"] / r["seconds"] for r in rows]))}
        records.extend(rows)
        print(label, {k: round(v, 3) if isinstance(v, float) else v for k, v in summary[label].items()}, flush=True)
    name = "sampler_settings.json" if breaks == 1 else f"sampler_settings_bnsl-{breaks}.json"
    run.write_json(run.RESULTS / name,
                   {"summary": summary, "records": records, "provenance": run.provenance()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
