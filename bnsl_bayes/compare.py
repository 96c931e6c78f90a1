"""Comparing numbers of breaks by LOO, and model-averaged forecasts and target timing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special

from . import forecast as fc
from .validate import check_prob, check_targets, check_x_new

# PSIS-LOO needs several posterior draws: from a single one ArviZ's compare raised IndexError.
MIN_LOO_DRAWS = 2


def _named(fits) -> dict:
    if isinstance(fits, dict):
        named = dict(fits)
    else:
        named = {}
        for f in fits:
            name = f.spec.name
            if name in named:
                raise ValueError(f"two fits are both named {name!r}: pass a dict of name -> fit")
            named[name] = f
    if len(named) < 2:
        raise ValueError("compare needs at least two fits")
    first = next(iter(named.values()))
    for name, f in named.items():
        if not (np.array_equal(f.x, first.x) and np.array_equal(f.y, first.y)):
            pairs = lambda g: sorted(zip(g.x.tolist(), g.y.tolist()))  # noqa: E731
            if pairs(f) == pairs(first):
                # LOO pairs observations by position. Fits sort their data since 2026-12-01, so this is
                # a fit saved before that next to a newer one.
                raise ValueError(f"fit {name!r} holds the same data in a different order (saved by an older "
                                 "version, which kept the input order): refit it to compare")
            raise ValueError(f"fit {name!r} was fitted to different data; LOO compares fits of the same data")
    return named


def compare(fits, method: str = "stacking") -> pd.DataFrame:
    """PSIS-LOO comparison (ArviZ) of fits of the same data, best first.

    Columns follow `arviz.compare`: elpd_loo, p_loo, elpd_diff, weight (stacking weights by
    default), se, dse, warning. warning is True when PSIS-LOO is unreliable for that fit: some
    observation's Pareto k is above ArviZ's threshold, min(1 - 1/log10(S), 0.7) for S draws (0.70
    for the shipped bnsl-1's 4000, 0.697 for bnsl-0's and bnsl-2's 2000), common with a dozen points
    and a break near one of them: read its elpd_loo as approximate. Pass a list of fits (named by spec) or a dict name -> fit.
    """
    import warnings

    import arviz as az

    named = _named(fits)
    loo_data = {k: f.loo_idata() for k, f in named.items()}
    for name, idata in loo_data.items():
        n = idata.posterior.sizes["chain"] * idata.posterior.sizes["draw"]
        if n < MIN_LOO_DRAWS:
            raise ValueError(f"fit {name!r} has {n} posterior draw(s); LOO needs at least {MIN_LOO_DRAWS}: "
                             "refit it with more draws")
    with warnings.catch_warnings():
        # Pareto-k warnings are reported in the table's `warning` column instead.
        warnings.simplefilter("ignore", UserWarning)
        # ArviZ's generalized-Pareto fit weighs candidate shapes by 1 / sum(exp(differences)); a
        # difference past 709 overflows to inf and gives that candidate weight 0, which is the right
        # limit. With slowly mixing chains (small relative ESS) it happens on ~1 curve in 10 of the
        # benchmark, and the CLI would print NumPy's warning next to the curve as if it were a problem.
        warnings.filterwarnings("ignore", "overflow encountered in exp", RuntimeWarning, module="arviz")
        return az.compare(loo_data, ic="loo", method=method)


CHOICE_RULES = ("loo-best", "fewest-within-1se")
# Judged on the benchmark's context points only (benchmarks/break_selection.py, rule written before
# the run, 2026-12-02): over 132 curves fewest-within-1se forecast pseudo-targets as well as loo-best
# (mean log density 2.926 vs 2.921, +0.005 +/- 0.008; 90% coverage 0.934 vs 0.938) with fewer
# breaks on the 19 curves where the two differ.
CHOICE_RULE = "fewest-within-1se"


def choose(fits, rule: str = CHOICE_RULE, table: pd.DataFrame | None = None) -> str:
    """The name of the fit that `rule` keeps among fits of the same data (as in `compare`).

    fewest-within-1se (default): the fewest breaks among fits whose elpd_loo is below the best by at
    most one standard error of the difference (compare's dse); ties in breaks go to the higher
    elpd_loo. A LOO difference within its own noise is no evidence for more breaks, and the richer
    fit is the one that mixes worst. loo-best: the highest elpd_loo. `table`: compare(fits), if
    already computed. Model averaging (`averaged_forecast`) is the alternative to choosing.
    """
    if rule not in CHOICE_RULES:
        raise ValueError(f"unknown rule {rule!r}; use one of {CHOICE_RULES}")
    named = _named(fits)
    table = compare(named) if table is None else table
    best = str(table.index[0])
    if rule == "loo-best":
        return best
    close = [str(k) for k in table.index if table.loc[k, "elpd_diff"] <= table.loc[k, "dse"]]
    # table order is best first, so min() keeps the better of two fits with as many breaks
    return min(close, key=lambda k: named[k].spec.breaks)


def _mixture(fits, weights: dict | None, seed: int) -> list:
    """(fit, rows) for each fit in the mixture (see `averaged_draws`): rows index the fit's
    posterior draws, flattened over (chain, draw), that it contributes. Fits with weight 0 are left out."""
    named = _named(fits)
    if weights is None:
        weights = stacking_weights(named)
    unknown = sorted(set(weights) - set(named))
    if unknown:
        raise ValueError(f"weights name models that are not among the fits: {unknown}; fits: {sorted(named)}")
    w = np.array([float(weights.get(k, 0.0)) for k in named])
    bad = [k for k, wk in zip(named, w) if not (np.isfinite(wk) and wk >= 0)]
    if bad:
        raise ValueError(f"model weights must be finite and >= 0; got {[weights[k] for k in bad]} for {bad}")
    if not w.sum() > 0:
        raise ValueError("model weights must have a positive sum")
    w = w / w.sum()
    sizes = [f.posterior.sizes["chain"] * f.posterior.sizes["draw"] for f in named.values()]
    total = min(n / wk for n, wk in zip(sizes, w) if wk > 0)
    rng = np.random.default_rng(seed)
    mix = []
    for f, n, wk in zip(named.values(), sizes, w):
        k = min(int(round(wk * total)), n)
        if k:
            mix.append((f, rng.choice(n, size=k, replace=False)))
    return mix


def _mixed_log_draws(mix: list, x, kind: str, log_y_se=None, y_err=None) -> np.ndarray:
    """log y (kind "predictive") or log curve ("curve") draws of a `_mixture` at x: (sample, x)."""
    return np.concatenate([f._log_draws(x, kind, log_y_se, y_err).values.reshape(-1, len(x))[rows]
                           for f, rows in mix])


def averaged_log_draws(fits, x_new, kind: str, weights: dict | None, seed: int, log_y_se=None,
                       y_err=None) -> xr.DataArray:
    """log y draws of the mixture of fits (see `averaged_draws`), dims (sample, x).

    Mixed in log space so that a draw past the float range (a heavy-tailed Student-t predictive)
    stays an extreme draw instead of becoming inf - inf = NaN in a quantile. `log_y_se` (known
    standard errors of log y of measurements made at x_new) or `y_err` (of measurements still to be
    made, `Fit.forecast`) widens the predictive noise (`Fit._log_draws`).
    """
    mix = _mixture(fits, weights, seed)
    x_new = check_x_new(x_new)
    return xr.DataArray(_mixed_log_draws(mix, x_new, kind, log_y_se, y_err), dims=("sample", "x"),
                        coords={"x": x_new}, name="log_y")


def stacking_weights(fits) -> dict:
    """name -> LOO stacking weight (`compare`), in the order of the fits."""
    named = _named(fits)
    weights = compare(named)["weight"].to_dict()
    return {k: float(weights[k]) for k in named}


def average_label(weights: dict, stacked: bool = True) -> str:
    """How answers of a model average name it: 'LOO-stacked average of bnsl-1 (0.78), bnsl-2 (0.22),
    bnsl-0 (0.00)' (without 'LOO-stacked' for weights of the user's own), heaviest first, weights
    normalised. Fits of weight 0 stay in the name: the reader sees they were weighed and dropped."""
    total = sum(weights.values())
    shown = sorted(((k, w / total) for k, w in weights.items()), key=lambda kw: -kw[1])
    return ("LOO-stacked average" if stacked else "average") + " of " + ", ".join(f"{k} ({w:.2f})" for k, w in shown)


def one_or_average(fit, weights: dict | None = None):
    """(fits, fit, weights, label) for an answer asked of one fit or of the average of several.

    One Fit: (None, fit, None, its spec name); `weights` is refused. Several fits of the same data
    (a list, or a dict name -> fit): the fits by name, the first of them (data, names and window are
    the same in all), their weights (default: LOO stacking) and the mixture's `average_label`.
    """
    if isinstance(fit, (list, tuple, dict)):
        fits = _named(fit)
        mix = stacking_weights(fits) if weights is None else weights
        return fits, next(iter(fits.values())), mix, average_label(mix, stacked=weights is None)
    if weights is not None:
        raise ValueError("weights mix several fits: pass a list or dict of fits with them")
    return None, fit, None, fit.spec.name


def averaged_draws(fits, x_new, kind: str = "predictive", weights: dict | None = None,
                   seed: int = 0, y_err=None) -> xr.DataArray:
    """Draws of y at x_new from the mixture of fits with LOO stacking weights (or given weights,
    finite and >= 0, normalised to sum 1).

    Fit k contributes round(w_k * N) of its draws, without replacement, with N the largest total
    for which no fit is asked for more draws than it has: the mixture proportions are the weights
    even when the fits hold different numbers of draws (the shipped bnsl-1 draws twice as many as
    bnsl-0 and bnsl-2). The result is a sample of the model-averaged posterior (predictive), dims
    (sample, x). `seed` chooses which draws each fit contributes; the observation noise and the
    drift in those draws come from each fit's own streams, as in `Fit.draws`. `y_err`: the standard
    errors the measurements at x_new will have (`Fit.forecast`).
    """
    return fc.exp_draws(averaged_log_draws(fits, x_new, kind, weights, seed, y_err=y_err))


def averaged_forecast(fits, x_new, prob: float = 0.9, kind: str = "predictive",
                      weights: dict | None = None, seed: int = 0, y_err=None) -> pd.DataFrame:
    """Model-averaged forecast: same columns as `Fit.forecast` (x, median, mean, lower, upper),
    from `averaged_draws` with the same `weights`, `seed` and `y_err`. A single model with weight 1
    gives that model's `Fit.forecast`."""
    return summarize_mixture(averaged_log_draws(fits, x_new, kind, weights, seed, y_err=y_err), check_prob(prob))


def summarize_mixture(log_draws: xr.DataArray, prob: float) -> pd.DataFrame:
    """`forecast.summarize` of mixed draws, dims (sample, x)."""
    return fc.summarize(log_draws.rename({"sample": "draw"}).expand_dims("chain"), prob)


def mixture_log_density(log_densities: dict, weights: dict) -> np.ndarray:
    """log of sum_k w_k p_k(y) per point: the exact density of a weighted mixture of models.

    Weights are clipped at 0 and renormalised, as `averaged_draws` does.

    >>> lp = mixture_log_density({"a": np.log([0.2]), "b": np.log([0.6])}, {"a": 0.5, "b": 0.5})
    >>> round(float(np.exp(lp[0])), 6)
    0.4
    """
    names = list(log_densities)
    w = np.array([max(float(weights.get(k, 0.0)), 0.0) for k in names])
    if not w.sum() > 0:
        raise ValueError("mixture weights must have a positive sum")
    w = w / w.sum()
    stacked = np.stack([np.asarray(log_densities[k], dtype=float) for k in names])
    with np.errstate(divide="ignore"):
        return special.logsumexp(stacked + np.log(w)[:, None], axis=0)


def averaged_log_predictive_density(fits, x_new, y_new, weights: dict | None = None, y_err=None) -> np.ndarray:
    """log predictive density of each observed y_new at x_new under the mixture of fits (LOO
    stacking weights, or given ones): log sum_k w_k p_k(y), exact, not from mixed draws. y_err: known
    standard errors of the y_new measurements (`Fit.log_predictive_density`)."""
    named = _named(fits)
    if weights is None:
        weights = stacking_weights(named)
    return mixture_log_density({k: f.log_predictive_density(x_new, y_new, y_err) for k, f in named.items()}, weights)


def averaged_reach(fits, target, prob: float = 0.9, x_max: float | None = None, direction: str | None = None,
                   x_from: float | None = None, weights: dict | None = None, seed: int = 0):
    """When the model-averaged curve reaches `target`: `Fit.reach` (same arguments, same answer
    layout) on the mixture of fits that `averaged_draws` samples with the same `weights` and `seed`.

    Each draw of the mixture is one fit's draw of the noise-free curve, so the answer carries the
    uncertainty about the number of breaks: a target that one model reaches soon and another never
    gets a prob_reached between theirs. The default direction is read from the mixture's median curve.
    """
    prob = check_prob(prob)
    xs, x_min, x_max = _averaged_reach_draws(fits, target, x_max, direction, x_from, weights, seed)
    return fc.reach_table(xs, target, prob, x_min, x_max)


def _averaged_reach_draws(fits, target, x_max, direction, x_from, weights, seed):
    """(per-draw crossing x of the mixture, as `Fit.reach_draws` gives them for one fit; start and
    end of the searched range)."""
    targets = check_targets(target)
    mix = _mixture(fits, weights, seed)
    first = mix[0][0]  # fits of the same data (checked): they search the same range
    x_min, x_max = first.reach_range(x_max, x_from)
    grid = first.reach_grid(x_max, x_from)
    xs = fc.reach_from_curves(_mixed_log_draws(mix, grid, "curve"), grid, targets, direction, float(first.x.max()))
    return (xs if np.ndim(target) else xs[0]), x_min, x_max
