"""Scores of one curve's held-out forecast, and their summaries over curves.

The conventions are NSL-PFN's (its public evaluation code, `inference.py` / `get_msce.py`):

- every score is computed per curve on that curve's held-out (target) points only, then averaged
  over the curves of a domain (a curve with 700 held-out points weighs as much as one with 1);
- RMSLE scores the posterior-predictive median;
- LL is the mean over held-out points of log p(y), the posterior predictive density of y. NSL-PFN
  divides y of DD and Nano curves by the largest *context* y before scoring, so their LL is the
  density of y / s: log p(y / s) = log p(y) + log s (`bnsl_bayes.datasets.domain_y_scale` gives s;
  s = 1 for IC, NMT, LM, BB). NSL-PFN also min-max scales x to [0.01, 1]; that relabels the x axis
  but does not change which distribution we predict at a held-out point (our model is fitted on the
  raw x and predicts at the raw held-out x), and a density of y has no x-Jacobian, so LL needs no
  correction for it. RMSLE, coverage and MSCE are unchanged by dividing y by a positive constant;
- MSCE averages, over levels {0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99}, the squared difference between the
  share of held-out points inside the central interval of that level and the level, per curve;
- coverage90 is the plain share of held-out points inside the central 90% interval.

Intervals and medians come from posterior predictive draws (observation noise included).
"""

from __future__ import annotations

import math

import numpy as np

from bnsl_bayes import metrics

LEVELS: tuple[float, ...] = tuple(metrics.DEFAULT_LEVELS)
METRICS = ("rmsle", "ll", "msce", "coverage90")


def _finite_or_none(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def score_draws(y_true, draws, log_density, y_divisor: float = 1.0) -> dict:
    """Scores of a probabilistic forecast of one curve's held-out points.

    y_true: held-out y (plain units), shape (n,). draws: predictive draws, shape (n_draws, n).
    log_density: log p(y_true) per point in plain units (density of y), shape (n,).
    y_divisor: NSL-PFN's y scale for the domain; adds log(y_divisor) to every log density.

    >>> rng = np.random.default_rng(0)
    >>> d = np.exp(rng.normal(0, 0.1, size=(4000, 2)))
    >>> s = score_draws([1.0, 1.0], d, [1.38, 1.38])
    >>> s["rmsle"] < 0.01, s["coverage90"], round(s["ll"], 2)
    (True, 1.0, 1.38)
    """
    y = np.asarray(y_true, dtype=float).reshape(-1)
    # A heavy-tailed predictive (Student-t likelihood, posterior nu near 0) can draw log y past
    # +-709, where exp() gives inf or 0. Such a draw is still the largest (smallest) one, and every
    # score here reads draws by rank (quantiles, intervals), so capping it at the largest (smallest
    # positive) float keeps the scores exact where inf would give NaN quantiles.
    d = np.clip(np.asarray(draws, dtype=float).reshape(-1, y.size), np.finfo(float).tiny, np.finfo(float).max)
    lpd = np.asarray(log_density, dtype=float).reshape(-1) + np.log(float(y_divisor))
    cal = metrics.calibration_curve(y, d, LEVELS)
    return {
        "rmsle": metrics.rmsle(y, np.median(d, axis=0)),
        "ll": _finite_or_none(metrics.mean_log_density(lpd)),
        "msce": metrics.msce(y, d, LEVELS),
        "coverage90": metrics.coverage(y, d, 0.9),
        "calibration": [float(v) for v in cal["observed"]],
    }


def summarize_method(records: list[dict], method: str) -> dict:
    """Mean and standard error over curves of each metric of `method`, and the mean calibration curve.

    records: per-curve records (as written to curves.json). Curves whose `method` failed are counted
    in n_failed and left out of the means; a metric that is None for a curve (e.g. a -inf LL) is
    counted in `n_missing` for that metric.
    """
    ok = [r[method] for r in records if r.get(method, {}).get("status") == "ok"]
    out: dict = {"n_curves": len(records), "n_scored": len(ok),
                 "n_failed": sum(1 for r in records if r.get(method, {}).get("status") == "failed")}
    for m in METRICS:
        vals = [s[m] for s in ok if s.get(m) is not None]
        if vals:
            mean, se = metrics.mean_and_se(vals)
            out[m] = {"mean": mean, "se": _finite_or_none(se), "n": len(vals),
                      "median": float(np.median(vals)), "max": float(np.max(vals))}
            if len(vals) < len(ok):
                out[m]["n_missing"] = len(ok) - len(vals)
        else:
            out[m] = None
    cals = [s["calibration"] for s in ok if s.get("calibration")]
    out["calibration"] = ({"levels": list(LEVELS), "observed": np.mean(cals, axis=0).tolist()} if cals else None)
    diags = [s["diagnostics"] for s in ok if s.get("diagnostics")]
    if diags:
        out["diagnostics"] = {
            "curves_with_divergences": sum(1 for d in diags if d.get("divergences")),
            "curves_rhat_above_1.01": sum(1 for d in diags if not (d.get("r_hat_max", np.inf) <= 1.01)),
            "median_divergences": float(np.median([d.get("divergences", 0) for d in diags])),
        }
    return out
