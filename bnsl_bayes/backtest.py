"""Backtests: how would the model have forecast this curve's own later points?

A fit's bands are honest only if the model is right about what happens past the data, which the
data cannot show. The one check a user can run on their own curve is the one the benchmark runs on
many: pretend the curve stopped earlier, fit the first points, and score the forecast of the points
that came after (rolling-origin evaluation; leave-future-out in Bürkner, Gabry & Vehtari 2020).

>>> bt = backtest(x, y, cuts=[0.5, 0.7], seed=0)   # doctest: +SKIP
>>> bt.summary()      # per cut: points scored, RMSLE of the median, mean log density, coverage
>>> bt.points         # per held-out point: its forecast, whether it fell inside, its log density

A cut is a number of distinct x values fitted (an int >= 3, or a negative int: -1 fits all but the
last) or a share of them (a float in (0, 1), rounded up); every point past the cut's largest x is
scored. Each cut is one full fit (`fit`), with the same seed and options. `backtest_many` backtests
every curve of a long table; either runs its fits one after another here, in local processes or on
Dask, through `fit_many`'s task runners.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import forecast as fc
from . import metrics
from .compare import averaged_log_draws, averaged_log_predictive_density, stacking_weights, summarize_mixture
from .fit import Fit, curve_input
from .many import CurveTask, Job, curve_parts, fingerprint, progress_bar, run_options, run_tasks
from .spec import specs_to_fit
from .store import curve_id
from .validate import check_prob

__all__ = ["Backtest", "backtest", "backtest_many", "cut_size", "pooled_calibration"]

WEIGHT_SEEN = 0.01


def cut_size(cut, n_distinct: int) -> int:
    """Number of distinct x a cut fits: the int itself, all but the last -cut for a negative int
    (-1 leaves out the last distinct x: curves of different lengths get the same check), or
    ceil(share * n_distinct) for a share.

    The fit needs 3 distinct x and at least one later x must be left to score; a cut outside that
    is an error (never moved to the nearest cut that works: the user asked for that one).

    >>> cut_size(0.7, 10), cut_size(4, 10), cut_size(-1, 10)
    (7, 4, 9)
    """
    if isinstance(cut, (bool, np.bool_)) or not isinstance(cut, numbers.Real):
        raise ValueError(f"cut {cut!r}: expected a number of distinct x (an int >= 3, or < 0 to count from the "
                         "end) or a share in (0, 1)")
    if isinstance(cut, numbers.Integral) and cut < 0:
        size, what = n_distinct + int(cut), f"cut {cut!r} (all but the last {-int(cut)} of {n_distinct} distinct x)"
    elif isinstance(cut, numbers.Integral):
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
    """The answer of `backtest`: the fit (or fits, for a model average) of each cut and its forecast
    of every later point.

    points: one row per scored point: cut (distinct x fitted), x_cut (largest x fitted), x, y,
    (y_err, when the curve has known errors), median, lower, upper (central `prob` interval of the
    posterior predictive of that measurement: with its known error, if any), inside, log_density
    (log predictive density of y, density of y), efolds_past (log(x / x_cut)).
    fits: {cut: Fit}, or {cut: {spec name: Fit}} for a model average; weights: {cut: {spec name:
    LOO stacking weight}} for a model average, else empty. failed: {cut: reason} of cuts whose fit
    raised (a sampler error, a lost worker): left out of points and fits, and warned about.
    """

    points: pd.DataFrame
    fits: dict
    prob: float
    seed: int
    x_name: str = "x"
    y_name: str = "y"
    weights: dict = field(default_factory=dict)
    failed: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        """What was backtested: a spec name, or 'LOO-stacked average of bnsl-0, bnsl-1, bnsl-2'."""
        first = next(iter(self.fits.values()))
        return f"LOO-stacked average of {', '.join(first)}" if self.weights else first.spec.name

    def cut_fits(self, cut: int) -> list:
        """The fits of one cut, as a list (one, or one per averaged spec)."""
        return list(self.fits[cut].values()) if self.weights else [self.fits[cut]]

    def forecast(self, cut: int, x_new, prob: float | None = None, log_y_se=None) -> pd.DataFrame:
        """The posterior predictive forecast of the fit(s) at `cut` (as `Fit.forecast`, or
        `averaged_forecast` with the cut's stacking weights), with the backtest's `prob` unless given.
        log_y_se: known standard errors of log y of measurements at x_new (`measured_band`)."""
        prob = check_prob(self.prob if prob is None else prob)
        if self.weights:
            return summarize_mixture(averaged_log_draws(self.fits[cut], x_new, "predictive", self.weights[cut],
                                                        self.seed, log_y_se), prob)
        return fc.summarize(self.fits[cut]._log_draws(x_new, "predictive", log_y_se), prob)

    def measured_band(self, cut: int, pts: pd.DataFrame, prob: float) -> pd.DataFrame:
        """`forecast` at the points of `pts` (columns x, y, and y_err if known), as the measurements they
        are: with known errors, each point's predictive noise is widened by its own (y_err / y on log y,
        as in the likelihood); without, this is `forecast`."""
        se = fc.log_y_se(pts["y"].to_numpy(), pts["y_err"].to_numpy() if "y_err" in pts else None)
        return self.forecast(cut, pts["x"].to_numpy(), prob, se)

    def log_density(self, cut: int, x_new, y_new, y_err=None) -> np.ndarray:
        """log predictive density of y_new under the fit(s) at `cut` (for an average, the exact mixture);
        y_err: known standard errors of those measurements (`Fit.log_predictive_density`)."""
        if self.weights:
            return averaged_log_predictive_density(self.fits[cut], x_new, y_new, weights=self.weights[cut],
                                                   y_err=y_err)
        return self.fits[cut].log_predictive_density(x_new, y_new, y_err)

    def calibration(self, levels=metrics.DEFAULT_LEVELS) -> pd.DataFrame:
        """Share of all later points (pooled over cuts) inside their central interval at each level:
        columns level, inside, points. Near the diagonal at every level, the bands are calibrated on
        this curve; at the backtest's `prob` it equals the pooled share of `points["inside"]`.
        (The levels NSL-PFN's MSCE averages over by default.) `pooled_calibration` pools curves."""
        return pooled_calibration([self], levels)

    def inside_counts(self, levels) -> np.ndarray:
        """Number of later points inside their central interval at each level."""
        counts = np.zeros(len(levels), dtype=int)
        for cut, pts in self.points.groupby("cut", sort=True):
            for i, level in enumerate(levels):
                counts[i] += _inside(pts["y"].to_numpy(), self.measured_band(cut, pts, check_prob(level))).sum()
        return counts

    def summary(self) -> pd.DataFrame:
        """One row per cut: n_fit (points fitted), x_cut, n_scored, rmsle (of the median),
        mean_log_density, coverage (share inside the central `prob` interval), and r_hat_max and
        divergences (the largest r_hat and the total divergences of the cut's fits: a cut whose fit
        did not converge scores a sampler, not the model); for a model average also the weights, and
        the diagnostics are those of the fits weighing at least WEIGHT_SEEN (1%)."""
        rows = []
        for cut, pts in self.points.groupby("cut", sort=True):
            fits = self.fits[cut] if self.weights else {None: self.fits[cut]}
            # In an average, a fit of (near) zero weight does not shape the forecast: its sampler is not scored.
            diags = [f.diagnostics() for k, f in fits.items() if k is None or self.weights[cut][k] >= WEIGHT_SEEN]
            row = {"cut": cut, "n_fit": len(self.cut_fits(cut)[0].x), "x_cut": float(pts["x_cut"].iloc[0]),
                   "n_scored": len(pts), "rmsle": metrics.rmsle(pts["y"], pts["median"]),
                   "mean_log_density": metrics.mean_log_density(pts["log_density"]),
                   "coverage": float(pts["inside"].mean()),
                   "r_hat_max": max(d["r_hat_max"] for d in diags), "divergences": sum(d["divergences"] for d in diags)}
            if self.weights:
                row["weights"] = ", ".join(f"{k} {w:.2f}" for k, w in self.weights[cut].items())
            rows.append(row)
        return pd.DataFrame(rows)


def as_backtests(backtests) -> list:
    """A Backtest, a list of them or `backtest_many`'s dict, as a non-empty list."""
    if isinstance(backtests, Backtest):
        return [backtests]
    bts = list(backtests.values()) if isinstance(backtests, dict) else list(backtests)
    if not bts:
        raise ValueError("no backtests given")
    return bts


def pooled_calibration(backtests, levels=metrics.DEFAULT_LEVELS) -> pd.DataFrame:
    """`Backtest.calibration` over several backtests (a list, or `backtest_many`'s dict): the share of
    all their later points inside the central interval at each level (each point counts once, so a
    curve weighs by its points). Columns level, inside, points."""
    bts = as_backtests(backtests)
    inside = sum(bt.inside_counts(levels) for bt in bts)
    n = sum(len(bt.points) for bt in bts)
    return pd.DataFrame({"level": [float(v) for v in levels], "inside": inside / n, "points": n})


def backtest(x, y, cuts=(0.7,), breaks=None, seed: int = 0, *, y_err=None, spec=None, prob: float = 0.9,
             x_name: str | None = None, y_name: str | None = None, priors: dict | None = None,
             likelihood: str | None = None, drift_per_efold: float | None = None, workers: int | None = None,
             client=None, progress: bool = False, warn: bool = True, **fit_options) -> Backtest:
    """Fit the curve's first points at each cut and score the forecast of every point after it.

    x, y: one curve, as for `fit` (arrays, lists or Series; repeated x allowed; any order).
    y_err: known standard errors of y, as for `fit`: each cut's fit uses those of its points, and
    each later point is scored as the measurement it is (its band and log density include its error).
    cuts: distinct x values to fit (ints >= 3; a negative int leaves out that many of the last, -1
    all but the last) or shares of them (floats in (0, 1)); default one cut at 70%, the split the
    benchmark's context-only validations use. Two cuts that fit the same points are an error.
    breaks, spec: the model, as for `fit`; or a model average: breaks="auto" fits bnsl-0, bnsl-1
    and bnsl-2 at each cut, a list of specs fits those, and each cut forecasts with their LOO
    stacking weights on its own points (`averaged_forecast`; log densities of the exact mixture).
    seed, priors, likelihood, drift_per_efold, fit_options: as for `fit`, the same for every cut
    and spec (fit_options: chains, tune, draws, target_accept, backend, mass_matrix, coordinates,
    stack_chains, cores).
    workers, client: where the cuts' fits run, as in `fit_many`: one after another here (default),
    in `workers` local processes (spawned: call from under ``if __name__ == "__main__":`` in a
    script), or on a Dask cluster (a Client or a scheduler address). The draws are the same.
    progress: a progress bar over the fits. warn: re-raise each fit's warnings, naming its cut.
    prob: the central interval scored for coverage (equal-tailed, as `Fit.forecast`).

    Scores are those of the benchmark (`bnsl_bayes.metrics`): RMSLE of the predictive median and
    the mean log predictive density of y (higher is better), on the points each cut left out.
    """
    run = _Run.make(seed, prob, breaks, spec, priors, likelihood, drift_per_efold, workers, client, fit_options)
    curve = _Curve.make(None, x, y, cuts, x_name, y_name, y_err)
    return run.backtests([curve], progress, warn)[None]


def backtest_many(data: pd.DataFrame, x: str, y: str, group, cuts=(0.7,), breaks=None, seed: int = 0, *,
                  y_err: str | None = None, spec=None, prob: float = 0.9, priors: dict | None = None,
                  likelihood: str | None = None, drift_per_efold: float | None = None, workers: int | None = None,
                  client=None, progress: bool = False, warn: bool = True, **fit_options) -> dict:
    """`backtest` of every curve of a long-format table (one curve per value of `group`, a column
    name or a list), its fits spread over `workers` local processes or a Dask `client` together.

    Returns {key: Backtest}, keys as pandas groupby gives them (as `fit_many`). Every curve and cut
    is checked before any fit runs: an error names the curve. Each curve is backtested with the
    same `seed`, so its result equals `backtest` of that curve alone. y_err: the column of known
    standard errors of y, if any. The rest as for `backtest`.

    >>> bts = backtest_many(df, "tokens", "loss", "run", cuts=[0.7], workers=2)  # doctest: +SKIP
    >>> pd.concat({k: bt.summary() for k, bt in bts.items()})                  # doctest: +SKIP
    """
    run = _Run.make(seed, prob, breaks, spec, priors, likelihood, drift_per_efold, workers, client, fit_options)
    curves = []
    for key, rows in curve_parts(data, x, y, group, y_err):
        try:
            curves.append(_Curve.make(key, rows[x], rows[y], cuts, x, y, None if y_err is None else rows[y_err]))
        except ValueError as e:
            raise ValueError(f"curve {key!r}: {e}") from None
    return run.backtests(curves, progress, warn)


@dataclass(frozen=True)
class _Curve:
    """One curve to backtest: its checked, sorted data and the distinct x each of its cuts fits."""

    key: object  # None for a lone curve
    xs: np.ndarray
    ys: np.ndarray
    x_name: str
    y_name: str
    sizes: tuple
    distinct: np.ndarray  # the sorted distinct x: cut size n ends at distinct[n - 1]
    errs: np.ndarray | None = None  # known standard errors of ys, or None

    @classmethod
    def make(cls, key, x, y, cuts, x_name, y_name, y_err=None) -> "_Curve":
        xs, ys, x_name, y_name, errs = curve_input(x, y, x_name, y_name, y_err)
        distinct = np.unique(xs)
        n_distinct = len(distinct)
        cut_list = list(cuts) if isinstance(cuts, (list, tuple, np.ndarray, pd.Series)) else [cuts]
        if not cut_list:
            raise ValueError("cuts is empty: give at least one cut")
        sizes = [cut_size(c, n_distinct) for c in cut_list]
        for i, s in enumerate(sizes):
            if s in sizes[:i]:
                raise ValueError(f"cuts {cut_list[sizes.index(s)]!r} and {cut_list[i]!r} both fit the first {s} "
                                 f"distinct x: give each cut once")
        return cls(key, xs, ys, x_name, y_name, tuple(sorted(sizes)), distinct, errs)

    def x_cut(self, size: int) -> float:
        return self.distinct[size - 1]

    def where(self, size: int) -> str:
        """'cut 9 (x <= 544)', with the curve first when there are several."""
        return ("" if self.key is None else f"curve {self.key!r}, ") + \
            f"cut {size} ({self.x_name} <= {self.x_cut(size):.4g})"


@dataclass(frozen=True)
class _Run:
    """What every fit of a backtest shares: the model(s), seed, sampler options and where fits run."""

    specs: list
    averaged: bool
    seed: int
    prob: float
    options: dict
    workers: int | None
    client: object

    @classmethod
    def make(cls, seed, prob, breaks, spec, priors, likelihood, drift_per_efold, workers, client, fit_options):
        changes = dict(priors=priors, likelihood=likelihood, drift_per_efold=drift_per_efold)
        specs = specs_to_fit(breaks, spec, **changes)
        # More than one spec is a model average (averaged_specs refuses an average of one).
        return cls(specs, len(specs) > 1, seed, check_prob(prob), run_options(specs, fit_options, workers, client),
                   workers, client)

    def backtests(self, curves: list, progress: bool, warn: bool) -> dict:
        """{curve key: Backtest}: every cut of every curve fitted (all of one spec, then the next:
        each worker compiles a spec once), then scored here. A fit that raises (the data were checked
        before any fit, so a sampler error or a lost worker) drops its cut, with a warning naming it,
        and the rest of the run is kept, as fit_many keeps its other curves; a curve with no cut left
        is left out of the answer, and if nothing is left the run raises."""
        fits, failed = {}, {}
        n_fits = len(self.specs) * sum(len(c.sizes) for c in curves)
        with progress_bar(n_fits, progress, "backtest fits", "fit") as bar:
            for spec in self.specs:
                cut_of, tasks = {}, []
                for c in curves:
                    for size in c.sizes:
                        seen = c.xs <= c.x_cut(size)
                        xs, ys = pd.Series(c.xs[seen], name=c.x_name), pd.Series(c.ys[seen], name=c.y_name)
                        errs = None if c.errs is None else pd.Series(c.errs[seen])
                        label = c.where(size)
                        cut_of[label] = (c.key, size)
                        # The label names the curve and cut in messages; it is unique (it holds both).
                        key = fingerprint(xs, ys, spec, self.seed, self.options, errs)
                        tasks.append(CurveTask(label, curve_id(label), key, self.seed, xs, ys, errs))
                for out in run_tasks(tasks, Job(spec, self.options, None, None), self.workers, self.client):
                    if out.status == "done":
                        fits[(*cut_of[out.key], spec.name)] = out.fit
                    else:  # in a model average, one failed spec drops the cut: never averaged over fewer
                        failed.setdefault(cut_of[out.key], []).append(f"{spec.name}: {out.reason}")
                    bar.update()
        results = {}
        for c in curves:
            kept = [size for size in c.sizes if (c.key, size) not in failed]
            if kept:
                results[c.key] = self._score(c, {size: {s.name: fits[(c.key, size, s.name)] for s in self.specs}
                                                 for size in kept})
                results[c.key].failed = {size: "; ".join(failed[(c.key, size)]) for size in c.sizes
                                         if (c.key, size) in failed}
        if failed:
            where = {(c.key, size): c.where(size) for c in curves for size in c.sizes}
            message = (f"backtest: {len(failed)} of {len(where)} cuts failed and are left out: "
                       + "; ".join(f"{where[k]}: {' / '.join(reasons)}" for k, reasons in failed.items()))
            if not results:
                raise RuntimeError(message)
            warnings.warn(message, RuntimeWarning, stacklevel=3)
        if warn:
            for c in curves:
                bt = results.get(c.key)
                for size in bt.fits if bt else []:
                    for f in bt.cut_fits(size):
                        _warn_for_cut(f, c.where(size))
        return results

    def _score(self, c: _Curve, fits: dict) -> Backtest:
        """The Backtest of one curve from its fits {size: {spec name: Fit}}."""
        bt = Backtest(points=pd.DataFrame(), fits={}, prob=self.prob, seed=self.seed, x_name=c.x_name,
                      y_name=c.y_name)
        tables = []
        for size, by_spec in fits.items():
            if self.averaged:
                bt.fits[size], bt.weights[size] = by_spec, stacking_weights(by_spec)
            else:
                (bt.fits[size],) = by_spec.values()
            x_cut = c.x_cut(size)
            later = c.xs > x_cut
            pts = pd.DataFrame({"cut": size, "x_cut": x_cut, "x": c.xs[later], "y": c.ys[later]})
            if c.errs is not None:
                pts["y_err"] = c.errs[later]
            band = bt.measured_band(size, pts, self.prob)
            pts = pts.assign(median=band["median"].to_numpy(), lower=band["lower"].to_numpy(),
                             upper=band["upper"].to_numpy(), inside=_inside(pts["y"].to_numpy(), band),
                             log_density=bt.log_density(size, pts["x"], pts["y"], pts.get("y_err")),
                             efolds_past=np.log(pts["x"] / x_cut))
            tables.append(pts)
        bt.points = pd.concat(tables, ignore_index=True)
        return bt


def _inside(y: np.ndarray, fc: pd.DataFrame) -> np.ndarray:
    """Whether each y lies in its forecast's central interval (ends count as inside, as in metrics)."""
    return (y >= fc["lower"].to_numpy()) & (y <= fc["upper"].to_numpy())


def _warn_for_cut(f: Fit, label: str) -> None:
    """The fit's own warnings (unconverged, rising), each naming the cut it belongs to."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f.warn_if_unconverged()
        f.warn_if_rising()
    for w in caught:
        warnings.warn(f"backtest {label}: {w.message}", w.category, stacklevel=4)
