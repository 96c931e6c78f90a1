"""Posterior curves on new x, computed in NumPy from the posterior draws.

Working from draws (rather than re-running PyTensor) keeps a forecast at a few milliseconds and
lets a saved fit forecast without PyMC compiling anything. All arrays carry named dims
(chain, draw, x) so callers never guess axes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special, stats

from .forms import log_curve


@dataclass(frozen=True)
class Drift:
    """How far the true curve may drift from the fitted law past the fitted window.

    log y(x) = law(x) + eta * D(x), D(x) = e-folds of x outside [x_min, x_max] (0 inside), and
    eta ~ Normal(0, per_efold^2) drawn once per posterior draw: an unknown change of log-log slope
    beyond the data, so each draw's forecast stays smooth in x while the band widens with distance.
    The slope changes below x_min and above x_max are drawn independently: a curve that bends one
    way past its largest x says nothing about which way it bent before its smallest one.
    Inside the window it is zero, so it never changes the posterior, only forecasts past the data.
    Its size is not learned from one curve (the window cannot show it) but across curves:
    benchmarks/extrapolation_spread.py.

    The drift acts on log y, not on log(y - a): the floor a is itself an extrapolation the window
    rarely pins down, so a drifted draw may end below its own law's floor (and `Fit.reach` may find
    a level under the fitted floor reachable with some probability, growing with x_max).
    """

    x_min: float
    x_max: float
    per_efold: float
    seed: int

    def efolds(self, x) -> tuple[np.ndarray, np.ndarray]:
        """e-folds of x below x_min and above x_max (each 0 on the other side and inside)."""
        lx = np.log(np.asarray(x, dtype=float))
        return np.maximum(np.log(self.x_min) - lx, 0.0), np.maximum(lx - np.log(self.x_max), 0.0)

    def sd(self, x) -> np.ndarray:
        """sd of the drift of log y at each x."""
        below, above = self.efolds(x)
        return self.per_efold * (below + above)

    def draws(self, shape: tuple, x) -> np.ndarray:
        """Drift of log y for each draw and x, shape shape + (len(x),). Deterministic in `seed`."""
        below, above = self.efolds(x)
        # The stream above the data is the one this class always drew (forecasts past the data are
        # unchanged); the one below is a second, independent stream.
        eta_above = np.random.default_rng(np.random.SeedSequence([int(self.seed), 0xD21F7])).standard_normal(shape)
        eta_below = np.random.default_rng(np.random.SeedSequence([int(self.seed), 0xD21F7, 1])).standard_normal(shape)
        return self.per_efold * (eta_above[..., None] * above + eta_below[..., None] * below)


def stream_key(seed: int, x, y, spec_json: str, y_err=None) -> int:
    """Entropy of a fit's noise, drift and resampling streams: its seed mixed with its data and spec.

    Why not the seed alone: every fit made with the same seed (0 unless the caller picks one) would
    share those streams, so draw i of one fit would carry the same standardised noise and drift as
    draw i of another, and a draw-by-draw difference between their forecasts (will run A beat run B
    at 1e12?) would cancel them and come out too sure. Mixing in the data and the spec gives fits of
    different curves, or of one curve under different specs, independent streams, while a fit stays
    reproducible: the same seed, data and spec give the same key. Known errors of y (`y_err`), when
    given, are part of the data; without them the key is what it was before they could be given.
    """
    h = hashlib.sha256()
    parts = [str(int(seed)).encode(), np.ascontiguousarray(x, dtype="<f8").tobytes(),
             np.ascontiguousarray(y, dtype="<f8").tobytes(), spec_json.encode()]
    if y_err is not None:
        parts.append(np.ascontiguousarray(y_err, dtype="<f8").tobytes())
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))  # length-prefixed: no two inputs hash alike by shifting bytes
        h.update(part)
    return int.from_bytes(h.digest()[:16], "little")


def _drifted(drift: Drift | None) -> bool:
    return drift is not None and drift.per_efold > 0


def param_draws(posterior: xr.Dataset) -> dict:
    """Posterior draws of the natural parameters as arrays with shape (chain, draw[, break])."""
    p = {k: posterior[k].values for k in ("log_a", "log_b", "c0")}
    p["sigma"] = posterior["noise"].values  # total noise sd on log y (floor + sigma)
    if "c" in posterior:
        p.update({k: posterior[k].values for k in ("c", "log_d", "f")})
    else:
        p.update({k: None for k in ("c", "log_d", "f")})
    p["nu"] = posterior["nu"].values if "nu" in posterior else None
    return p


def log_curve_draws(posterior: xr.Dataset, x, drift: Drift | None = None) -> xr.DataArray:
    """log y of the noise-free curve for every draw, dims (chain, draw, x); with `drift`, the
    curve may depart from the law past the fitted window."""
    x = np.asarray(x, dtype=float)
    p = param_draws(posterior)
    e = lambda v: None if v is None else v[..., None, :]  # noqa: E731  (chain, draw, 1, break)
    ly = log_curve(
        np.log(x)[None, None, :],
        p["log_a"][..., None], p["log_b"][..., None], p["c0"][..., None],
        e(p["c"]), e(p["log_d"]), e(p["f"]),
    )
    if _drifted(drift):
        ly = ly + drift.draws(ly.shape[:2], x)
    return xr.DataArray(ly, dims=("chain", "draw", "x"), coords={"x": x}, name="log_y")


def noise_draws(posterior: xr.Dataset, x, seed: int, log_y_se=None) -> np.ndarray:
    """Observation noise on log y for each draw and x, shape (chain, draw, len(x)); with `log_y_se`,
    known standard errors of log y at those x, the noise of a measurement with that error.

    The noise at one x comes from a generator seeded by (seed, that x, how many times that x came
    before in the request), so a forecast at x is the same whichever other x are asked for with it
    (a table and a plot of the same fit agree), and a repeated x (several seeds of one run size)
    gets independent noise, as a new run would.
    """
    p = param_draws(posterior)
    x = np.asarray(x, dtype=float)
    eps = np.empty(p["sigma"].shape + (len(x),))
    seen: dict[int, int] = {}
    for j, bits in enumerate(x.view(np.uint64)):
        k = seen[int(bits)] = seen.get(int(bits), -1) + 1
        # The first occurrence keeps the key without a count: forecasts at distinct x are as before.
        key = [int(seed), 0xF0CA57, int(bits) >> 32, int(bits) & 0xFFFFFFFF] + ([k] if k else [])
        rng = np.random.default_rng(np.random.SeedSequence(key))
        eps[..., j] = (rng.standard_normal(p["sigma"].shape) if p["nu"] is None else rng.standard_t(p["nu"]))
    return eps * noise_scale(p["sigma"], log_y_se)


def log_y_se(y, y_err) -> np.ndarray | None:
    """Known standard errors of y as standard errors of log y, or None without errors: y_err / y, the
    first order of log(y + e) - log(y). The one place a measurement's error is put on the model's scale.

    >>> log_y_se(np.array([2.0, 4.0]), np.array([0.1, 0.1]))
    array([0.05 , 0.025])
    """
    return None if y_err is None else np.asarray(y_err, float) / np.asarray(y, float)


def noise_scale(sigma: np.ndarray, log_y_se=None) -> np.ndarray:
    """Each draw's noise scale on log y, (chain, draw, 1), or per point, (chain, draw, n), when the
    points have known standard errors of log y: sqrt(noise^2 + se^2), the likelihood's scale (model.py)."""
    scale = sigma[..., None]
    return scale if log_y_se is None else np.sqrt(scale**2 + np.asarray(log_y_se, float) ** 2)


def exp_draws(log_y: xr.DataArray) -> xr.DataArray:
    """y from draws of log y. A Student-t draw with nu near 0 can put log y past the float range:
    its y is inf, the honest value, and quantiles and scores rank it correctly, so NumPy's overflow
    warning (which named no fit and no x) is not raised."""
    with np.errstate(over="ignore"):
        return np.exp(log_y).rename("y")


def log_predictive_draws(posterior: xr.Dataset, x, seed: int, drift: Drift | None = None,
                         log_y_se=None, y_err=None) -> xr.DataArray:
    """log y of new observations (curve + noise), dims (chain, draw, x). Deterministic in `seed`.
    `log_y_se`: known standard errors of log y of measurements made at x (`noise_draws`); `y_err`:
    those of measurements not made yet, in y units (`planned_log_y_se`). At most one of the two."""
    curve = log_curve_draws(posterior, x, drift)
    if y_err is not None:
        if log_y_se is not None:
            raise ValueError("give the errors of measured points (log_y_se) or of planned ones (y_err), not both")
        log_y_se = planned_log_y_se(curve.values, y_err)
    return curve + noise_draws(posterior, curve["x"].values, seed, log_y_se)


def error_rate_se(n_examples: int):
    """y_err for an error rate (or accuracy) that will be read off `n_examples` test examples: the
    binomial standard error sqrt(p (1 - p) / n) at each draw's p (clipped to [0, 1]), for
    `Fit.forecast(x, y_err=error_rate_se(2000))` (CLI `forecast --test-examples 2000`).

    >>> round(float(error_rate_se(100)(0.5)), 3)
    0.05
    """
    if isinstance(n_examples, bool) or not isinstance(n_examples, (int, np.integer)) or n_examples < 1:
        raise ValueError(f"n_examples must be an integer >= 1, got {n_examples!r}")

    def se(p):
        p = np.clip(p, 0.0, 1.0)
        return np.sqrt(p * (1.0 - p) / n_examples)
    return se


def planned_log_y_se(log_curve: np.ndarray, y_err) -> np.ndarray:
    """Standard errors on log y of measurements not made yet, per draw, from their errors in y units.

    A measured point's error goes on log y as y_err / y with its measured y (`log_y_se`); before
    the measurement there is no y, so each draw divides by its own noise-free curve at that x, the
    same first-order step around the value that draw expects. `y_err` is an array over x (already
    checked, `validate.check_planned_y_err`) or a callable of y, evaluated on those curve values,
    for errors that depend on the level: sqrt(p (1 - p) / n) for an error rate p measured on n
    examples (`lambda y: np.sqrt(y * (1 - y) / n)`), y * r for a known relative error r.
    """
    with np.errstate(over="ignore"):
        y = np.exp(log_curve)
    if callable(y_err):
        with np.errstate(all="ignore"):  # a y outside the callable's domain is reported below, by value
            e = np.asarray(y_err(y), dtype=float)
        try:
            e = np.broadcast_to(e, y.shape)
        except ValueError:
            raise ValueError(f"y_err(y) returned shape {np.shape(e)} for y of shape {y.shape} (chain, draw, x): "
                             "it must work elementwise on an array of y") from None
        bad = ~(np.isfinite(e) & (e >= 0))
        if bad.any():
            i = np.unravel_index(int(np.argmax(bad)), bad.shape)
            raise ValueError(f"y_err(y) must be finite and >= 0 for every y the fit expects; it gave {e[i]} at "
                             f"y = {y[i]:.6g} (x index {i[-1]})")
    else:
        e = np.asarray(y_err, dtype=float)
    # a curve that underflows to y = 0 has no finite log error: treat it as exact, not as NaN
    return np.where(y > 0, log_y_se(np.where(y > 0, y, 1.0), e), 0.0)


# Quadrature points of t_plus_normal_logpdf (129 gave errors up to 4.8e-4 in log density, 193 1e-5),
# and the most elements a block of its (draws, obs, points) temporaries holds (8 bytes each).
_QUAD_POINTS = 193
_QUAD_BLOCK = 2**18


def t_plus_normal_logpdf(r: np.ndarray, nu: np.ndarray, scale: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """log density at r of (scale * t_nu) + Normal(0, sd^2), arguments broadcast together.

    The sum has no closed form. A t is a normal whose precision is scaled by lambda ~
    Gamma(nu/2, rate nu/2), so the sum is Normal(0, scale^2 / lambda + sd^2) mixed over lambda: a
    one-dimensional integral of a smooth function, taken over u = log lambda with the trapezoid
    rule on 193 points. The grid is centred on lambda's mode, stretched by sqrt(2/nu) (the sd of
    log lambda for large nu) and wide enough for the slow left tail a small nu gives; it is shared
    along the last axis (the observations of one draw), so lay arrays out as (..., obs).
    Against a dense reference (tests/test_drift.py) it is within 1e-5 in log density for nu from
    0.1 to 300, scales 1e-3 to 0.05, drift sd 1e-4 to 0.2 and |r| up to 5000 noise scales.
    """
    r, nu, scale, sd = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (r, nu, scale, sd)))
    if r.ndim == 0:
        return t_plus_normal_logpdf(r[None], nu[None], scale[None], sd[None])[0]
    if np.any(nu != nu[..., :1]):
        raise ValueError("t_plus_normal_logpdf: nu must not vary along the last axis (one draw's observations)")
    if r.size == 0:
        return np.empty(r.shape)
    # Blocks of draws bound the (draws, obs, points) temporaries by their size, not by the number
    # of draws: blocks of 256 draws took 2.2 GB and 23 s for 4000 draws of a curve with 710
    # held-out points; blocks that stay in cache take 270 MB and 4-8 s.
    rows = max(1, _QUAD_BLOCK // (r.shape[-1] * _QUAD_POINTS))
    flat = [v.reshape(-1, r.shape[-1]) for v in (r, nu, scale, sd)]
    out = [_t_plus_normal_block(*(v[i:i + rows] for v in flat)) for i in range(0, len(flat[0]), rows)]
    return np.concatenate(out).reshape(r.shape)


def _t_plus_normal_block(r, nu, scale, sd):
    """t_plus_normal_logpdf of 2-d arrays (draws, obs), all of one shape."""
    width = np.sqrt(2.0 / nu[:, :1])
    # Far in the tail of a t with large nu (|r| >> scale and >> sd) the mass sits at small lambda,
    # near the t's own optimum (nu + 1) / (nu + (r / scale)^2): the grid reaches down past it.
    log_lam_t = np.log((nu + 1) / (nu + (r / scale) ** 2))
    z_lo = np.minimum(-24.0, (log_lam_t - 8 * np.sqrt(2 / (nu + 1))) / width).min(axis=-1, keepdims=True)
    z_hi = 8.0
    t = np.linspace(0.0, 1.0, _QUAD_POINTS)
    u = (z_lo[..., None] + (z_hi - z_lo)[..., None] * t) * width[..., None]  # (draws, 1, points) of log lambda
    h = nu[:, :1, None] / 2
    log_gamma_u = h * np.log(h) - special.gammaln(h) + h * u - h * np.exp(u)  # density of u = log lambda
    var = scale[..., None] ** 2 * np.exp(-u) + sd[..., None] ** 2
    terms = log_gamma_u - 0.5 * (np.log(2 * np.pi * var) + r[..., None] ** 2 / var)
    terms[..., [0, -1]] += np.log(0.5)  # trapezoid rule: the ends carry half weight
    du = width * (z_hi - z_lo) * (t[1] - t[0])
    top = terms.max(axis=-1)
    # log-sum-exp by hand: scipy.special.logsumexp took 2-3x as long on these blocks (4000 blocks of
    # 710 x 193: 17 s vs 6-7 s; 333 of 12 x 107 x 193: 2.5-3.2 s vs 1.1-1.2 s, /tmp/lse.py)
    return np.log(np.exp(terms - top[..., None]).sum(axis=-1)) + top + np.log(du)


def pointwise_log_density(posterior: xr.Dataset, x, y, drift: Drift | None = None,
                          log_y_se=None) -> xr.DataArray:
    """log p(y_j | draw) of observations y (density of y, not log y), dims (chain, draw, obs).

    With `drift`, the drift is integrated out per draw, exactly: for the normal likelihood the
    variances add; for the Student-t likelihood the density of t noise plus normal drift is
    computed by quadrature (`t_plus_normal_logpdf`), so it is the density of the very draws a
    forecast is made of. `log_y_se`, known standard errors of log y (one per point), widen each
    point's noise scale to sqrt(noise^2 + se^2), as the model's likelihood does (model.py).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    mu = log_curve_draws(posterior, x).values
    p = param_draws(posterior)
    sigma = noise_scale(p["sigma"], log_y_se)
    ly = np.log(y)
    drift_sd = drift.sd(x) if _drifted(drift) else np.zeros_like(x)
    if p["nu"] is None:
        lp = stats.norm.logpdf(ly, loc=mu, scale=np.sqrt(sigma**2 + drift_sd**2))
    else:
        nu = p["nu"][..., None]
        lp = stats.t.logpdf(ly, df=nu, loc=mu, scale=sigma)
        past = drift_sd > 0  # inside the window the t alone is exact; the quadrature only where it must
        if past.any():
            lp[..., past] = t_plus_normal_logpdf(ly[past] - mu[..., past], nu,
                                                 np.broadcast_to(sigma, mu.shape)[..., past], drift_sd[past])
    # Change of variables from log y to y, so densities compare across models and with y-space metrics.
    return xr.DataArray(lp - ly, dims=("chain", "draw", "obs"))


def log_predictive_density(posterior: xr.Dataset, x, y, drift: Drift | None = None,
                           log_y_se=None) -> np.ndarray:
    """log of the posterior predictive density of each y (mixture over draws), one per point."""
    lp = pointwise_log_density(posterior, x, y, drift, log_y_se).values.reshape(-1, len(np.atleast_1d(y)))
    return special.logsumexp(lp, axis=0) - np.log(lp.shape[0])


def summarize(draws: xr.DataArray, prob: float) -> pd.DataFrame:
    """median, mean and the central (equal-tailed) `prob` interval of y = exp(draws) per x.

    The mean is the Monte Carlo mean of y, taken in log space so that it does not overflow. It is
    ruled by rare extreme draws wherever the posterior of log y has heavy tails (far past the
    data; a Student-t likelihood with small nu, whose predictive mean may not exist) and is then
    far above the median: read the median and the interval first.
    """
    from scipy.special import logsumexp

    ly = draws.values.reshape(-1, draws.sizes["x"])
    with np.errstate(over="ignore"):  # an interval end or mean past the float range is inf, as it should be
        lo, med, hi = np.exp(np.quantile(ly, [(1 - prob) / 2, 0.5, (1 + prob) / 2], axis=0))
        mean = np.exp(logsumexp(ly, axis=0) - np.log(len(ly)))
    return pd.DataFrame({"x": draws["x"].values, "median": med, "mean": mean, "lower": lo, "upper": hi})


def reach_summary(xs: np.ndarray, target: float, prob: float, x_min: float, x_max: float) -> pd.Series:
    """`Fit.reach`'s answer from per-draw crossing x (`Fit.reach_draws`; inf = not reached by x_max,
    x_min = already there where the search starts: the smallest fitted x unless asked otherwise)."""
    # No interpolation between draws: a quantile falling among draws that never reach stays inf.
    lo, med, hi = np.quantile(xs, [(1 - prob) / 2, 0.5, (1 + prob) / 2], method="inverted_cdf")
    return pd.Series({"target": float(target), "median": med, "lower": lo, "upper": hi,
                      "prob_reached": float(np.isfinite(xs).mean()),
                      "prob_before_data": float((xs <= x_min).mean()), "x_max": float(x_max)})


def reach_table(xs: np.ndarray, target, prob: float, x_min: float, x_max: float):
    """`reach_summary` of each level: a Series for one target (xs of shape (draws,)), a DataFrame
    with one row per target for a sequence of them (xs of shape (levels, draws))."""
    if not np.ndim(target):
        return reach_summary(xs, target, prob, x_min, x_max)
    return pd.DataFrame([reach_summary(row, t, prob, x_min, x_max) for row, t in zip(xs, np.asarray(target, float))])


def reach_from_curves(log_curves: np.ndarray, grid: np.ndarray, targets: np.ndarray, direction: str | None,
                      x_data_max: float) -> np.ndarray:
    """Per-draw first x on `grid` where each log curve (draws, grid) reaches each target: shape
    (levels, draws), inf where not reached. direction None: the way the median curve moves from the
    start of the grid to the largest fitted x (`Fit.reach_draws` says why)."""
    if direction not in (None, "down", "up"):
        raise ValueError(f"direction must be 'down', 'up' or None, got {direction!r}")
    if direction is None:
        # From the trend over the data, not from where the target sits relative to the last point:
        # a falling curve asked for a level just above its last value has reached it inside the
        # window (deciding by the last value sent such a query upwards, answering x = x_min).
        end = min(max(np.searchsorted(grid, x_data_max), 1), len(grid) - 1)
        direction = "down" if np.median(log_curves[:, end]) <= np.median(log_curves[:, 0]) else "up"
    return np.stack([crossing_x(log_curves, grid, np.log(t), below=direction == "down") for t in targets])


def crossing_x(log_curves: np.ndarray, x_grid: np.ndarray, log_target: float, below: bool) -> np.ndarray:
    """First x on the grid where each curve reaches the target, interpolated in log-log space.

    log_curves: (n_draws, n_grid) on the grid x_grid. Returns x per draw, +inf where the target is
    not reached.
    """
    log_x_grid = np.log(x_grid)
    s = (log_target - log_curves) if below else (log_curves - log_target)
    reached = s >= 0
    first = np.argmax(reached, axis=1)
    hit = reached[np.arange(len(first)), first]
    out = np.full(len(first), np.inf)
    i = first[hit]
    # Interpolate between the last grid point short of the target and the first one past it.
    j = np.maximum(i - 1, 0)
    rows = np.flatnonzero(hit)
    s0, s1 = s[rows, j], s[rows, i]
    w = np.clip(np.where((i > 0) & (s1 != s0), -s0 / np.where(s1 != s0, s1 - s0, 1.0), 1.0), 0, 1)
    x = np.exp(log_x_grid[j] + w * (log_x_grid[i] - log_x_grid[j]))
    # On a grid point itself, give that point exactly (exp(log x) is not always x: a target met at
    # the first grid point answered 159.99999999999994 for x_min = 160).
    out[rows] = np.where(w >= 1, x_grid[i], np.where(w <= 0, x_grid[j], x))
    return out


# ---- chain stacking ------------------------------------------------------------------------------
# A BNSL posterior is often multimodal (a break before, inside or beyond the data; a sharp or a soft
# bend) and NUTS chains do not cross between modes: a chain can sit for its whole run in a mode that
# fits the data far worse than another chain's. Averaging chains equally then gives that mode a
# quarter of the forecast. Stacking the chains (Yao, Vehtari & Gelman 2022, "Stacking for non-mixing
# Bayesian computations", JMLR 23) weights each chain by how well it predicts left-out points: chains
# that agree keep equal weight, a chain stuck in a poor mode gets weight zero. Opt-in
# (fit(..., stack_chains=True)): the weights judge fit inside the data window, and on the benchmark's
# context points dropping chains cost more in extrapolation than it gained (benchmarks/context_validation.py).


STACKING_MIN_GAIN = 4.0  # elpd units
MAX_STACKED_CHAINS = 12


def chain_stacking_weights(log_lik: np.ndarray) -> np.ndarray:
    """Weights of chains from their pointwise log-likelihood (chain, draw, obs).

    Each chain's PSIS-LOO predictive density of every point; then every subset of chains, mixed
    with equal weights, is scored by its LOO elpd. All chains keep equal weight unless the best
    subset beats them clearly: by more than STACKING_MIN_GAIN and by two standard errors (the usual
    reading of LOO differences). If so, the largest subset that is not clearly worse than the best
    one is kept. This is stacking restricted to equal weights over a subset of chains: unlike free
    simplex weights it does not turn the Monte Carlo noise between chains that sit in the same mode
    into lopsided weights. Above MAX_STACKED_CHAINS chains the subsets are too many: equal weights.
    """
    import itertools
    import warnings

    import arviz as az

    ll = np.asarray(log_lik, dtype=float)
    n_chain = ll.shape[0]
    equal = np.full(n_chain, 1.0 / n_chain)
    if n_chain == 1 or n_chain > MAX_STACKED_CHAINS:
        return equal
    loo = np.empty((n_chain, ll.shape[2]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pareto-k warnings: a rough LOO still ranks chains
        for k in range(n_chain):
            lw, _ = az.psislw(-ll[k].T)  # (obs, draw) -> smoothed, normalised log weights
            loo[k] = special.logsumexp(lw + ll[k].T, axis=1)

    def clearly_better(a, b):  # pointwise elpd a beats b beyond noise
        d = a - b
        return d.sum() > STACKING_MIN_GAIN and d.sum() > 2 * np.sqrt(len(d)) * d.std()

    subsets = [list(c) for r in range(1, n_chain + 1) for c in itertools.combinations(range(n_chain), r)]
    elpd = [special.logsumexp(loo[c], axis=0) - np.log(len(c)) for c in subsets]
    best = int(np.argmax([e.sum() for e in elpd]))
    if not clearly_better(elpd[best], elpd[-1]):  # the last subset is all chains
        return equal
    ok = [i for i in range(len(subsets)) if not clearly_better(elpd[best], elpd[i])]
    keep = subsets[max(ok, key=lambda i: (len(subsets[i]), elpd[i].sum()))]
    w = np.zeros(n_chain)
    w[keep] = 1.0 / len(keep)
    return w


def stacked_index(weights, n_draw: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(chain, draw) indices of an equally weighted sample of n_chain * n_draw draws from the chains
    mixed with `weights`: each chain gives its share (largest remainder rounding), without
    replacement up to its own length. Deterministic in `seed`."""
    w = np.asarray(weights, dtype=float)
    total = len(w) * n_draw
    raw = w / w.sum() * total
    counts = np.floor(raw).astype(int)
    counts[np.argsort(raw - counts)[::-1][: total - counts.sum()]] += 1
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x57AC]))
    chains, draws = [], []
    for k, m in enumerate(counts):
        full, rest = divmod(int(m), n_draw)
        idx = np.concatenate([np.tile(np.arange(n_draw), full), rng.choice(n_draw, size=rest, replace=False)])
        chains.append(np.full(len(idx), k))
        draws.append(np.sort(idx))
    return np.concatenate(chains), np.concatenate(draws)


def take_draws(ds, index: tuple[np.ndarray, np.ndarray]):
    """Select (chain, draw) pairs from a Dataset/DataArray: result has one chain holding them all."""
    ci, di = (xr.DataArray(v, dims="sample") for v in index)
    out = ds.isel(chain=ci, draw=di)
    out = out.drop_vars([c for c in ("chain", "draw") if c in out.coords])
    return out.rename({"sample": "draw"}).expand_dims(chain=[0]).transpose("chain", "draw", ...)
