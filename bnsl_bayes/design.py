"""Which run to make next: how much a measurement at x_run would narrow the band at x_target.

Preposterior analysis by refitting. A run at x_run will read some y we do not know yet; the fit's
posterior predictive there says what it may read. For a few readings spread over that predictive
(its quantiles at (k + 0.5) / K), the curve is refitted with the point added (same spec, seed and
sampler settings), and the band of the noise-free curve at x_target is read off each refit. Their
mean is the band to expect after the run; set beside the band now, it says which candidate run
teaches most about the x you care about.

Why refits and not the cheaper reweighting of the posterior draws by each reading's likelihood: the
runs worth asking about sit past the data, where a reading rules out most draws. On a simulated
curve (tests/test_design.py's) a run 7x past the data left 10-15 effective draws of 4000, too few
to read a 90% band from.

The band is that of the noise-free curve (what data can teach; a new run's own noise is not
learned away), with the drift past the data each refit has: its window reaches x_run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .validate import check_planned_y_err, check_prob, check_x_new


def log_width(band: pd.DataFrame) -> np.ndarray:
    """log(upper / lower) of a forecast table's band: its width in e-folds of y."""
    return np.log(band.upper.to_numpy() / band.lower.to_numpy())


def run_value(fit, x_run, x_target, prob: float = 0.9, readings: int = 5, y_err=None) -> pd.DataFrame:
    """How much a run at each x_run would narrow the central `prob` band of the noise-free curve at
    each x_target, expected over what the run may read. `readings` refits per x_run.

    One row per (x_run, x_target): width_now and width_after (log(upper / lower) of the band now and,
    averaged over the readings, after the run), narrowing (1 - width_after / width_now),
    width_after_min / width_after_max (over the readings: an extreme reading can leave the band
    wider than the typical one), and r_hat_max (the worst of the refits').

    `y_err`: the standard error the run's measurement will have (one number, or a callable of y as
    `Fit.forecast` takes it): readings are drawn with it and the refit is told it, so a noisier run
    teaches less. Without it the new point has none (in a fit with known errors: an error of 0).
    """
    from .fit import refit

    x_run = check_x_new(x_run, "x_run")
    x_target = check_x_new(x_target, "x_target")
    prob = check_prob(prob)
    if isinstance(readings, bool) or not isinstance(readings, (int, np.integer)) or readings < 1:
        raise ValueError(f"readings must be an integer >= 1, got {readings!r}")
    if y_err is not None:
        if not callable(y_err) and np.ndim(y_err) != 0:
            raise ValueError("y_err: give one standard error for the run (or a callable of y), not one per x")
        y_err = check_planned_y_err(y_err, 1)
    width_now = log_width(fit.forecast(x_target, prob, kind="curve"))
    old_errs = np.zeros(len(fit.x)) if fit.y_err is None else fit.y_err
    rows = []
    for xr in x_run:
        predictive = fit.draws([xr], y_err=y_err).values.ravel()
        ys = np.quantile(predictive, (np.arange(readings) + 0.5) / readings)
        widths, r_hat = [], []
        for y_new in ys:
            err = None if y_err is None else (y_err(np.asarray(y_new)) if callable(y_err) else y_err[0])
            errs = None if err is None and fit.y_err is None else np.append(old_errs, 0.0 if err is None else err)
            after = refit(fit, np.append(fit.x, xr), np.append(fit.y, y_new), errs)
            widths.append(log_width(after.forecast(x_target, prob, kind="curve")))
            r_hat.append(after.diagnostics()["r_hat_max"])
        widths = np.array(widths)
        for t, xt in enumerate(x_target):
            mean = float(widths[:, t].mean())
            rows.append({"x_run": float(xr), "x_target": float(xt), "width_now": float(width_now[t]),
                         "width_after": mean, "narrowing": 1 - mean / float(width_now[t]),
                         "width_after_min": float(widths[:, t].min()), "width_after_max": float(widths[:, t].max()),
                         "r_hat_max": float(np.nanmax(r_hat))})
    return pd.DataFrame(rows)
