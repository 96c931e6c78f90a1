"""Backtests: how would the model have forecast this curve's own later points?

A fit's bands are honest only if the model is right about what happens past the data, which the
data cannot show. The one check a user can run on their own curve is the one the benchmark runs on
many: pretend the curve stopped earlier, fit the first points, and score the forecast of the points
that came after (rolling-origin evaluation; leave-future-out in Bürkner, Gabry & Vehtari 2020).

>>> bt = backtest(x, y, cuts=[0.5, 0.7], seed=0)   # doctest: +SKIP
>>> bt.summary()      # per cut: points scored, RMSLE of the median, mean log density, coverage
>>> bt.points         # per held-out point: its forecast, whether it fell inside, its log density

A cut is a number of distinct x values fitted (an int >= 3) or a share of them (a float in (0, 1),
rounded up); every point past the cut's largest x is scored. Each cut is one full fit (`fit`), with
the same seed and options.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import metrics
from .fit import Fit, curve_input, fit as fit_curve
from .validate import check_prob

__all__ = ["Backtest", "backtest", "cut_size"]


def cut_size(cut, n_distinct: int) -> int:
    """Number of distinct x a cut fits: the int itself, or ceil(share * n_distinct) for a share.

    The fit needs 3 distinct x and at least one later x must be left to score; a cut outside that
    is an error (never moved to the nearest cut that works: the user asked for that one).

    >>> cut_size(0.7, 10), cut_size(4, 10)
    (7, 4)
    """
    if isinstance(cut, (bool, np.bool_)) or not isinstance(cut, numbers.Real):
        raise ValueError(f"cut {cut!r}: expected a number of distinct x (an int >= 3) or a share in (0, 1)")
    if isinstance(cut, numbers.Integral):
        size, what = int(cut), f"cut {cut!r}"
    elif 0 < cut < 1:
        size, what = math.ceil(float(cut) * n_distinct - 1e-9), f"cut {cut!r} ({cut!r} of {n_distinct} distinct x)"
    else:
        raise ValueError(f"cut {cut!r}: a share must lie strictly between 0 and 1 (an int counts distinct x)")
    if size < 3:
        raise ValueError(f"{what} fits {size} distinct x; a fit needs at least 3")
    if size >= n_distinct:
        raise ValueError(f"{what} fits {size} of the {n_distinct} distinct x, leaving none to score")
    return size


@dataclass
class Backtest:
    """The answer of `backtest`: one fit per cut and its forecast of every later point.

    points: one row per scored point: cut (distinct x fitted), x_cut (largest x fitted), x, y,
    median, lower, upper (central `prob` interval of the posterior predictive), inside,
    log_density (log predictive density of y, density of y), efolds_past (log(x / x_cut)).
    fits: {cut: Fit}.
    """

    points: pd.DataFrame
    fits: dict[int, Fit]
    prob: float
    x_name: str = "x"
    y_name: str = "y"
    diagnostics: dict[int, dict] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """One row per cut: n_fit (points fitted), x_cut, n_scored, rmsle (of the median),
        mean_log_density, coverage (share inside the central `prob` interval), and the fit's
        r_hat_max and divergences (a cut whose fit did not converge scores a sampler, not the model)."""
        rows = []
        for cut, pts in self.points.groupby("cut", sort=True):
            d = self.diagnostics[cut]
            rows.append({"cut": cut, "n_fit": len(self.fits[cut].x), "x_cut": float(pts["x_cut"].iloc[0]),
                         "n_scored": len(pts), "rmsle": metrics.rmsle(pts["y"], pts["median"]),
                         "mean_log_density": metrics.mean_log_density(pts["log_density"]),
                         "coverage": float(pts["inside"].mean()),
                         "r_hat_max": d["r_hat_max"], "divergences": d["divergences"]})
        return pd.DataFrame(rows)


def backtest(x, y, cuts=(0.7,), breaks: int | None = None, seed: int = 0, *, prob: float = 0.9,
             x_name: str | None = None, y_name: str | None = None, **fit_options) -> Backtest:
    """Fit the curve's first points at each cut and score the forecast of every point after it.

    x, y: one curve, as for `fit` (arrays, lists or Series; repeated x allowed; any order).
    cuts: distinct x values to fit (ints >= 3) or shares of them (floats in (0, 1)); default one
    cut at 70%, the split the benchmark's context-only validations use. Two cuts that fit the same
    points are an error.
    breaks, seed, fit_options: passed to `fit` for every cut (spec, priors, likelihood, sampler
    settings, warn, ...).
    prob: the central interval scored for coverage (equal-tailed, as `Fit.forecast`).

    Scores are those of the benchmark (`bnsl_bayes.metrics`): RMSLE of the predictive median and
    the mean log predictive density of y (higher is better), on the points each cut left out.
    """
    xs, ys, x_name, y_name = curve_input(x, y, x_name, y_name)
    prob = check_prob(prob)
    distinct = np.unique(xs)
    cut_list = list(cuts) if isinstance(cuts, (list, tuple, np.ndarray, pd.Series)) else [cuts]
    if not cut_list:
        raise ValueError("cuts is empty: give at least one cut")
    sizes = [cut_size(c, len(distinct)) for c in cut_list]
    for i, s in enumerate(sizes):
        if s in sizes[:i]:
            raise ValueError(f"cuts {cut_list[sizes.index(s)]!r} and {cut_list[i]!r} both fit the first {s} "
                             f"distinct x: give each cut once")
    warn = fit_options.pop("warn", True)
    fits, diagnostics, tables = {}, {}, []
    for size in sorted(sizes):
        x_cut = distinct[size - 1]
        seen = xs <= x_cut
        f = fit_curve(xs[seen], ys[seen], breaks=breaks, seed=seed, x_name=x_name, y_name=y_name, warn=False,
                      **fit_options)
        if warn:
            _warn_for_cut(f, f"cut {size} ({x_name} <= {x_cut:.4g})")
        fits[size], diagnostics[size] = f, f.diagnostics()
        x_out, y_out = xs[~seen], ys[~seen]
        fc = f.forecast(x_out, prob=prob)
        tables.append(pd.DataFrame({
            "cut": size, "x_cut": x_cut, "x": x_out, "y": y_out, "median": fc["median"].to_numpy(),
            "lower": fc["lower"].to_numpy(), "upper": fc["upper"].to_numpy(),
            "inside": (y_out >= fc["lower"].to_numpy()) & (y_out <= fc["upper"].to_numpy()),
            "log_density": f.log_predictive_density(x_out, y_out), "efolds_past": np.log(x_out / x_cut)}))
    return Backtest(points=pd.concat(tables, ignore_index=True), fits=fits, prob=prob, x_name=x_name,
                    y_name=y_name, diagnostics=diagnostics)


def _warn_for_cut(f: Fit, label: str) -> None:
    """The fit's own warnings (unconverged, rising), each naming the cut it belongs to."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f.warn_if_unconverged()
        f.warn_if_rising()
    for w in caught:
        warnings.warn(f"backtest {label}: {w.message}", w.category, stacklevel=3)
