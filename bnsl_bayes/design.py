"""Which run to make next: how much a measurement at x_run would narrow the band at x_target.

Preposterior analysis by refitting. A run at x_run will read some y we do not know yet; the fit's
posterior predictive there says what it may read. For a few readings spread over that predictive
(its quantiles at (k + 0.5) / K), the curve is refitted with the point added (same spec, seed and
sampler settings; the refits run as `fit_many` runs curves), and the band of the noise-free curve
at x_target is read off each refit. Their mean is the band to expect after the run; set beside the
band now, it says which candidate run teaches most about the x you care about.

Why refits and not the cheaper reweighting of the posterior draws by each reading's likelihood: the
runs worth asking about sit past the data, where a reading rules out most draws. On a simulated
curve (tests/test_design.py's) a run 7x past the data left 10-15 effective draws of 4000, too few
to read a 90% band from.

The band is that of the noise-free curve (what data can teach; a new run's own noise is not
learned away), with the drift past the data each refit has: its window reaches x_run.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .validate import check_planned_y_err, check_prob, check_x_new


def log_width(band: pd.DataFrame) -> np.ndarray:
    """log(upper / lower) of a forecast table's band: its width in e-folds of y."""
    return np.log(band.upper.to_numpy() / band.lower.to_numpy())


def run_value(fit, x_run, x_target, prob: float = 0.9, readings: int = 5, y_err=None,
              workers: int | None = None, client=None) -> pd.DataFrame:
    """How much a run at each x_run would narrow the central `prob` band of the noise-free curve at
    each x_target, expected over what the run may read. `readings` refits per x_run, run as
    `fit_many` runs its curves: one after another here, in `workers` local processes, or on the Dask
    `client` (the same refits, so the same numbers, wherever they run).

    One row per (x_run, x_target): width_now and width_after (log(upper / lower) of the band now and,
    averaged over the readings, after the run), narrowing (1 - width_after / width_now),
    width_after_min / width_after_max (over the readings: an extreme reading can leave the band
    wider than the typical one), r_hat_max (the worst of the refits') and readings (refits that
    succeeded; a failed one is left out with a warning naming it).

    `y_err`: the standard error the run's measurement will have (one number, or a callable of y as
    `Fit.forecast` takes it): readings are drawn with it and the refit is told it, so a noisier run
    teaches less. Without it the new point has none (in a fit with known errors: an error of 0).
    """
    from .fit import refit_options
    from .many import CurveTask, Job, fingerprint, run_tasks

    x_run = check_x_new(x_run, "x_run")
    x_target = check_x_new(x_target, "x_target")
    prob = check_prob(prob)
    if isinstance(readings, bool) or not isinstance(readings, (int, np.integer)) or readings < 1:
        raise ValueError(f"readings must be an integer >= 1, got {readings!r}")
    if y_err is not None:
        if not callable(y_err) and np.size(y_err) != 1:
            raise ValueError("y_err: give one standard error for the run (or a callable of y), not one per x")
        y_err = check_planned_y_err(y_err, 1)
    options = refit_options(fit)
    spec, seed = options.pop("spec"), options.pop("seed")
    width_now = log_width(fit.forecast(x_target, prob, kind="curve"))
    old_errs = np.zeros(len(fit.x)) if fit.y_err is None else fit.y_err
    tasks = []
    for i, xr in enumerate(x_run):
        predictive = fit.draws([xr], y_err=y_err).values.ravel()
        for k, y_new in enumerate(np.quantile(predictive, (np.arange(readings) + 0.5) / readings)):
            err = None if y_err is None else (y_err(np.asarray(y_new)) if callable(y_err) else y_err[0])
            xs = pd.Series(np.append(fit.x, xr), name=fit.x_name)
            ys = pd.Series(np.append(fit.y, y_new), name=fit.y_name)
            errs = (None if err is None and fit.y_err is None
                    else pd.Series(np.append(old_errs, 0.0 if err is None else float(err)), name="y_err"))
            key = (float(xr), k)
            tasks.append(CurveTask(key, f"run-{i}-reading-{k}", fingerprint(xs, ys, spec, seed, options, errs), seed,
                                   xs, ys, errs))
    outcomes = {o.key: o for o in run_tasks(tasks, Job(spec, options, None, None), workers, client)}
    rows = []
    for i, xr in enumerate(x_run):
        widths, r_hat = [], []
        for task in tasks[i * readings:(i + 1) * readings]:
            out = outcomes[task.key]
            if out.status != "done":
                warnings.warn(f"run_value: the refit at x_run = {xr:.6g} with the reading {task.y.iloc[-1]:.6g} failed "
                              f"({out.reason}); that run's row averages the other readings", RuntimeWarning,
                              stacklevel=3)
                continue
            widths.append(log_width(out.fit.forecast(x_target, prob, kind="curve")))
            r_hat.append(out.diagnostics["r_hat_max"])
        widths = np.array(widths).reshape(len(widths), len(x_target))
        r_hat_max = float(np.nanmax(r_hat)) if r_hat else float("nan")
        for t, xt in enumerate(x_target):
            w = widths[:, t]
            after = {k: float(f(w)) if w.size else float("nan")  # NaN when every refit of this run failed
                     for k, f in (("width_after", np.mean), ("width_after_min", np.min), ("width_after_max", np.max))}
            rows.append({"x_run": float(xr), "x_target": float(xt), "width_now": float(width_now[t]),
                         "width_after": after["width_after"], "narrowing": 1 - after["width_after"] / float(width_now[t]),
                         "width_after_min": after["width_after_min"], "width_after_max": after["width_after_max"],
                         "r_hat_max": r_hat_max, "readings": len(w)})
    return pd.DataFrame(rows)
