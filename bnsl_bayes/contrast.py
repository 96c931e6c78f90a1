"""Two curves against each other: which is lower at a given scale, and where one overtakes the other.

The question a comparison of two recipes (architectures, data mixes, optimisers) measured at small
scale leaves open: does A still beat B at 100x, and if B scales better, where does it overtake? Each
side is a fit of its own curve (a `Fit`, or several fits of that curve for their LOO-stacked
average). The posteriors of two curves are independent, so pairing draw i of A with draw i of B
samples their joint posterior; the drift past each window comes from each fit's own streams
(`forecast.stream_key`), so it is independent between the two as well. Both answers are on the
noise-free curves by default: "which recipe scales better" is about the laws, not one seed's run.

    >>> bnsl_bayes.contrast(fit_a, fit_b, [1e10, 1e11])   # doctest: +SKIP
    >>> bnsl_bayes.crossover(fit_a, fit_b)                 # where A falls to B's level  # doctest: +SKIP
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from . import forecast as fc
from .compare import _mixed_log_draws, _mixture, one_or_average
from .validate import check_prob, check_x_new


def _draws(side, x, kind: str, seed: int) -> np.ndarray:
    """log y draws (sample, x) of one side, as `one_or_average` resolved it: a fit or an average of fits."""
    fits, fit, weights, _ = side
    if fits is None:
        return fit._log_draws(x, kind).values.reshape(-1, len(x))
    return _mixed_log_draws(_mixture(fits, weights, seed), x, kind)


def _sides(a, b):
    """Both sides resolved by `one_or_average` (an average's stacking weights computed once)."""
    sa, sb = one_or_average(a), one_or_average(b)
    fa, fb = sa[1], sb[1]
    if np.array_equal(fa.x, fb.x) and np.array_equal(fa.y, fb.y):
        raise ValueError("both sides were fitted to the same data: contrast and crossover compare two curves "
                         "(to compare models of one curve, use bnsl_bayes.compare)")
    if fa.x_name != fb.x_name or fa.y_name != fb.y_name:
        # Not refused: names differ innocently ("n" and "tokens"), but curves of different quantities
        # would compare as if they were one, so say what is being compared.
        warnings.warn(f"A is {fa.y_name} vs {fa.x_name} and B is {fb.y_name} vs {fb.x_name}: they are compared "
                      "at the same x values as if they measured the same quantities", UserWarning, stacklevel=3)
    return sa, sb


def _paired(sa, sb, x, kind: str, seed: int):
    """Paired log y draws of the two sides at x, each (pairs, x).

    With different numbers of draws the larger side contributes a random subset (without
    replacement) of the smaller side's size, so no draw of either counts twice."""
    la, lb = _draws(sa, x, kind, seed), _draws(sb, x, kind, seed)
    n = min(len(la), len(lb))
    rng = np.random.default_rng(seed)
    pick = lambda ly: ly if len(ly) == n else ly[np.sort(rng.choice(len(ly), size=n, replace=False))]  # noqa: E731
    return pick(la), pick(lb)


def contrast(a, b, x_new, prob: float = 0.9, kind: str = "curve", seed: int = 0) -> pd.DataFrame:
    """A against B at each x_new: columns x, prob_a_lower (posterior probability that A's y is
    below B's), ratio_median, ratio_lower, ratio_upper (y_A / y_B: median and central `prob`
    interval; below 1, A is lower).

    a, b: fits of two curves (a `Fit`, or a list or dict of fits of one curve for their LOO-stacked
    average). kind: "curve" (default; the noise-free laws) or "predictive" (one new run of each,
    observation noise included). `seed` picks the draws where the two sides hold different numbers
    of them, and the mixture of an averaged side.
    """
    prob = check_prob(prob)
    x_new = check_x_new(x_new)
    la, lb = _paired(*_sides(a, b), x_new, kind, seed)
    log_ratio = la - lb
    lo, med, hi = np.quantile(log_ratio, [(1 - prob) / 2, 0.5, (1 + prob) / 2], axis=0)
    with np.errstate(over="ignore"):  # a ratio past the float range is inf, as it should be
        return pd.DataFrame({"x": x_new, "prob_a_lower": (log_ratio < 0).mean(axis=0),
                             "ratio_median": np.exp(med), "ratio_lower": np.exp(lo), "ratio_upper": np.exp(hi)})


def crossover(a, b, prob: float = 0.9, x_max: float | None = None, x_from: float | None = None,
              n_grid: int = 2000, seed: int = 0) -> pd.Series:
    """Where the two noise-free curves cross: the posterior of the first x at which their order
    at x_from flips (the one behind catches up). Symmetric in a and b.

    Searches from x_from (default: the larger of the two curves' smallest fitted x, where both
    have data) to x_max (default 1000 x the larger of their largest fitted x). Returns median,
    lower, upper (central `prob` interval of the crossing x; inf where fewer pairs of draws than
    needed cross by x_max, as in `Fit.reach`), prob_crossed (share of paired draws that cross by
    x_max), prob_a_lower_at_start (share in which A is the lower one at x_from, the one to be
    caught), x_from and x_max. A crossing at x_from itself means the curves touch there.
    """
    return crossover_of_sides(*_sides(a, b), prob=prob, x_max=x_max, x_from=x_from, n_grid=n_grid, seed=seed)


def crossover_of_sides(sa, sb, prob: float = 0.9, x_max: float | None = None, x_from: float | None = None,
                       n_grid: int = 2000, seed: int = 0) -> pd.Series:
    """`crossover` of two sides already resolved by `_sides` (a plot that also draws their bands
    resolves them once: an averaged side's LOO weights are not computed twice)."""
    prob = check_prob(prob)
    fa, fb = sa[1], sb[1]
    x_lo = max(float(fa.x.min()), float(fb.x.min())) if x_from is None else x_from
    x_hi = 1e3 * max(float(fa.x.max()), float(fb.x.max())) if x_max is None else x_max
    grid = fa.reach_grid(x_hi, x_lo, n_grid)  # checks the range as Fit.reach does, with its messages
    x_lo, x_hi = float(grid[0]), float(grid[-1])
    la, lb = _paired(sa, sb, grid, "curve", seed)
    xs = crossing_of(la - lb, grid)
    s = fc.reach_summary(xs, 1.0, prob, x_lo, x_hi)
    return pd.Series({"median": s["median"], "lower": s["lower"], "upper": s["upper"],
                      "prob_crossed": s["prob_reached"], "prob_a_lower_at_start": float((la[:, 0] < lb[:, 0]).mean()),
                      "x_from": x_lo, "x_max": x_hi})


def crossing_of(log_ratio: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Per row of log(y_A / y_B) on `grid` (rows, grid): the first x where its sign at the start of
    the grid flips, interpolated in log-log space; inf where it never does."""
    start_sign = np.sign(log_ratio[:, :1])
    return fc.crossing_x(log_ratio * start_sign, grid, 0.0, below=True)
