"""Does `Fit.run_value` foresee what a run will do to the band? Checked against the run itself.

    python -m benchmarks.run_value_check               # 12 curves of seed 20232, 2 candidate runs each
    python -m benchmarks.run_value_check --curves 4

Each simulated 1-break curve (bnsl_bayes.simulate, 2% noise) is fitted on its first 12 points (x up
to 3.8e3); the target is x = 2e5, the last held-out x. For two candidate runs past the data (x =
1.0e4 and 2.8e4, 2.7x and 7.3x past it) `run_value` predicts the band's log width after the run (5
readings, each refitted). Then the run is made: a reading of the true law at that x with the
curve's own 2% noise, refitted, and its band at the target measured. Reported: the mean of
log(actual / predicted width) over curves (0 when the prediction is unbiased), the share of actual
widths inside the readings' range [width_after_min, width_after_max], and the share of runs for
which the prediction ranks the two candidates as the actual runs do (the further run narrowing
more). Nothing here is tuned: run_value has no setting but the number of readings.
Results: benchmarks/results/run_value_check.json.
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

SEED = 20232
TARGET = 2e5


def main(argv=None) -> int:
    import bnsl_bayes
    from bnsl_bayes.design import log_width
    from bnsl_bayes.fit import refit
    from bnsl_bayes.forms import bnsl
    from bnsl_bayes.simulate import simulated_curves

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--curves", type=int, default=12)
    p.add_argument("--out", type=Path, default=run.RESULTS / "run_value_check.json")
    args = p.parse_args(argv)
    rng = np.random.default_rng(SEED)
    records = []
    t0 = time.perf_counter()
    for k, c in enumerate(simulated_curves(args.curves, seed=SEED)):
        x_all = np.concatenate([c.x, c.x_heldout])
        runs = x_all[[14, 17]]
        fit = bnsl_bayes.fit(c.x[:12], c.y[:12], seed=k, warn=False)
        table = fit.run_value(runs, [TARGET])
        for (_, row), x_run in zip(table.iterrows(), runs):
            y_run = float(bnsl(x_run, **c.params) * np.exp(rng.normal(0, 0.02)))
            after = refit(fit, np.append(fit.x, x_run), np.append(fit.y, y_run))
            actual = float(log_width(after.forecast([TARGET], kind="curve"))[0])
            records.append({"curve": k, "x_run": float(x_run), "width_now": row.width_now,
                            "width_after_predicted": row.width_after, "width_after_min": row.width_after_min,
                            "width_after_max": row.width_after_max, "width_after_actual": actual,
                            "r_hat_max_refits": row.r_hat_max, "r_hat_max_actual": after.diagnostics()["r_hat_max"]})
        print(k, records[-2:], flush=True)
    ratio = np.log([r["width_after_actual"] / r["width_after_predicted"] for r in records])
    inside = [r["width_after_min"] <= r["width_after_actual"] <= r["width_after_max"] for r in records]
    pairs = [(records[i], records[i + 1]) for i in range(0, len(records), 2)]
    same_order = [(a["width_after_predicted"] > b["width_after_predicted"]) == (a["width_after_actual"] > b["width_after_actual"])
                  for a, b in pairs]
    summary = {"curves": args.curves, "runs": len(records),
               "mean_log_ratio_actual_to_predicted": float(ratio.mean()),
               "se_log_ratio": float(ratio.std(ddof=1) / np.sqrt(len(ratio))),
               "actual_inside_readings_range": float(np.mean(inside)),
               "candidates_ranked_as_actual": float(np.mean(same_order)),
               "mean_narrowing_predicted": float(np.mean([1 - r["width_after_predicted"] / r["width_now"] for r in records])),
               "mean_narrowing_actual": float(np.mean([1 - r["width_after_actual"] / r["width_now"] for r in records])),
               "seconds": time.perf_counter() - t0}
    print(summary)
    run.write_json(args.out, {"summary": summary, "records": records, "provenance": run.provenance()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
