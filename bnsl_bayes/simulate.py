"""Curves simulated from known BNSL parameters, and the checks that a fit recovers them.

The parameter ranges are those of published 1-break fits to loss curves (slopes 0.1-0.5 before the
break, 0.3-1.5 steeper after it, sharpness 0.1-0.6: Caballero et al. 2023), with the break placed
inside or just past the fitted window and 2% multiplicative noise, about what seeds give on
small runs. tests/test_science.py and benchmarks/recovery.py use the same curves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .forms import bnsl


@dataclass(frozen=True)
class SimulatedCurve:
    """True 1-break parameters, the points to fit, and held-out points past them."""

    params: dict
    x: np.ndarray
    y: np.ndarray
    x_heldout: np.ndarray
    y_heldout: np.ndarray
    y_err: np.ndarray | None = None  # known standard errors of y (measured_curves), else None


def simulated_curves(n_curves: int, seed: int, noise: float = 0.02) -> list[SimulatedCurve]:
    """`n_curves` curves on 24 log-spaced x in [1e2, 2e5]: the first 18 to fit, the last 6 held out.

    >>> c = simulated_curves(1, seed=0)[0]
    >>> len(c.x), len(c.x_heldout), sorted(c.params)
    (18, 6, ['a', 'b', 'c', 'c0', 'd', 'f'])
    """
    rng = np.random.default_rng(seed)
    curves = []
    for _ in range(n_curves):
        p = dict(a=rng.uniform(0.05, 0.5), b=rng.uniform(2, 8), c0=rng.uniform(0.1, 0.5),
                 c=[rng.uniform(0.3, 1.5)], d=[10 ** rng.uniform(3.5, 4.5)], f=[rng.uniform(0.1, 0.6)])
        x_all = np.geomspace(1e2, 2e5, 24)
        y_all = bnsl(x_all, **p) * np.exp(rng.normal(0, noise, x_all.size))
        curves.append(SimulatedCurve(p, x_all[:18], y_all[:18], x_all[18:], y_all[18:]))
    return curves


def measured_curves(n_curves: int, seed: int, se=(0.005, 0.15)) -> list[SimulatedCurve]:
    """Curves as `simulated_curves` draws them, measured with known errors of two sizes: every other
    fitted point is precise (standard error se[0] on log y, a large eval set) and the rest noisy
    (se[1], a small one), with y_err their standard errors in y units (y_err / y = se). Nothing but
    the measurement error separates y from the law, so a fit told the errors should lean on the
    precise points; the held-out y are the noise-free law.

    >>> c = measured_curves(1, seed=0)[0]
    >>> [round(float(v), 3) for v in c.y_err[:2] / c.y[:2]]
    [0.005, 0.15]
    """
    rng = np.random.default_rng(seed)
    curves = []
    for base in simulated_curves(n_curves, seed):
        log_se = np.where(np.arange(base.x.size) % 2 == 0, se[0], se[1])
        law = bnsl(base.x, **base.params)
        y = law * np.exp(rng.normal(0, log_se))
        curves.append(SimulatedCurve(base.params, base.x, y, base.x_heldout, bnsl(base.x_heldout, **base.params),
                                     y_err=log_se * y))
    return curves


def recovered(fit, curve: SimulatedCurve, prob: float = 0.9) -> dict:
    """Whether the central `prob` intervals of the break position, the limit a and the first slope c0
    contain the truth, which held-out points lie inside the `prob` predictive interval, and whether
    the `prob` interval of `fit.reach` contains the true x at which the noise-free curve reaches its
    value at the nearest and at the farthest held-out x (the simulated curves only fall, so that x
    is the held-out x itself)."""
    lo, hi = (1 - prob) / 2, (1 + prob) / 2
    post = fit.posterior
    bp = fit.break_positions(prob=prob)
    p = curve.params
    inside = lambda draws, truth: bool(np.quantile(draws, lo) <= truth <= np.quantile(draws, hi))  # noqa: E731
    fc = fit.forecast(curve.x_heldout, prob=prob)
    return {
        "d": bool(bp.lower[0] <= p["d"][0] <= bp.upper[0]),
        "a": inside(np.exp(post["log_a"].values.ravel()), p["a"]),
        "c0": inside(post["c0"].values.ravel(), p["c0"]),
        "heldout": ((fc.lower.values <= curve.y_heldout) & (curve.y_heldout <= fc.upper.values)).tolist(),
        "reach": [bool(r.lower <= x <= r.upper) for x, r in zip(
            curve.x_heldout[[0, -1]], fit.reach(bnsl(curve.x_heldout[[0, -1]], **p), prob=prob).itertuples())],
    }


@dataclass(frozen=True)
class CrossingPair:
    """Two simulated curves whose true laws cross at `x_cross`, past the fitted window."""

    a: SimulatedCurve
    b: SimulatedCurve
    x_cross: float


def crossing_pairs(n_pairs: int, seed: int, noise: float = 0.02, where: tuple = (2.0, 10.0)) -> list[CrossingPair]:
    """`n_pairs` pairs of curves on the grid of `simulated_curves` (18 points fitted, 6 held out)
    whose laws cross at `where[0]` to `where[1]` times the last fitted x (log-uniform): past the
    data by default, inside it for factors below 1.

    A is a 1-break law with limit a = 0 (loss curves far from their floor); B = A * (x / x_cross)^-e,
    which is again a BNSL (first slope c0 + e, offset b * x_cross^e), above A before x_cross and below
    after it: B scales better by e = 0.05-0.15 in log-log slope, a recipe that starts behind and
    overtakes. Each curve gets its own noise.
    """
    rng = np.random.default_rng(seed)
    x_all = np.geomspace(1e2, 2e5, 24)
    pairs = []
    for _ in range(n_pairs):
        pa = dict(a=0.0, b=rng.uniform(2, 8), c0=rng.uniform(0.1, 0.5), c=[rng.uniform(0.3, 1.5)],
                  d=[10 ** rng.uniform(3.5, 4.5)], f=[rng.uniform(0.1, 0.6)])
        x_cross = float(x_all[17] * 10 ** rng.uniform(*np.log10(where)))
        e = rng.uniform(0.05, 0.15)
        pb = dict(pa, b=pa["b"] * x_cross**e, c0=pa["c0"] + e)
        curves = []
        for p in (pa, pb):
            y_all = bnsl(x_all, **p) * np.exp(rng.normal(0, noise, x_all.size))
            curves.append(SimulatedCurve(p, x_all[:18], y_all[:18], x_all[18:], y_all[18:]))
        pairs.append(CrossingPair(curves[0], curves[1], x_cross))
    return pairs
