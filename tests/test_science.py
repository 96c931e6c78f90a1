"""Scientific claims, each checked with real NUTS sampling and fixed seeds."""

import numpy as np
import pytest

import bnsl_bayes
from bnsl_bayes import datasets
from bnsl_bayes.forms import bnsl

pytestmark = pytest.mark.slow


def rmsle(pred, true):
    return float(np.sqrt(np.mean((np.log(pred) - np.log(true)) ** 2)))


def test_four_digit_addition_extrapolation():
    """14 fit points, 1 break: held-out points inside the 90% predictive interval, RMSLE <= 0.03."""
    d = datasets.four_digit_addition()
    train, test = d[d.role == "fit"], d[d.role == "extrapolate"]
    fit = bnsl_bayes.fit(train.x, train.y, breaks=1, seed=0)
    fc = fit.forecast(test.x, prob=0.9)
    assert np.all((fc.lower.values <= test.y.values) & (test.y.values <= fc.upper.values)), fc
    assert rmsle(fc["median"].values, test.y.values) <= 0.03
    # the break the original paper fitted (d1 = 612.58) is inside the 90% interval
    bp = fit.break_positions(prob=0.9)
    assert bp.lower[0] <= 612.58 <= bp.upper[0]


def _simulated_curves(n_curves, rng):
    """Curves from known 1-break BNSL parameters with 2% multiplicative noise."""
    curves = []
    for _ in range(n_curves):
        p = dict(a=rng.uniform(0.05, 0.5), b=rng.uniform(2, 8), c0=rng.uniform(0.1, 0.5),
                 c=[rng.uniform(0.3, 1.5)], d=[10 ** rng.uniform(3.5, 4.5)], f=[rng.uniform(0.1, 0.6)])
        x_all = np.geomspace(1e2, 2e5, 24)
        y_all = bnsl(x_all, **p) * np.exp(rng.normal(0, 0.02, x_all.size))
        curves.append((p, x_all[:18], y_all[:18], x_all[18:], y_all[18:]))
    return curves


def test_recovery_and_heldout_coverage():
    """90% intervals contain the true break position, limit and held-out points at about the nominal rate."""
    rng = np.random.default_rng(20231)
    hits_param, hits_heldout = [], []
    for k, (p, x, y, xh, yh) in enumerate(_simulated_curves(8, rng)):
        fit = bnsl_bayes.fit(x, y, breaks=1, seed=k, warn=False)
        bp = fit.break_positions(prob=0.9)
        hits_param.append(bp.lower[0] <= p["d"][0] <= bp.upper[0])
        a = np.exp(fit.idata.posterior["log_a"].values.ravel())
        hits_param.append(np.quantile(a, 0.05) <= p["a"] <= np.quantile(a, 0.95))
        c0 = fit.idata.posterior["c0"].values.ravel()
        hits_param.append(np.quantile(c0, 0.05) <= p["c0"] <= np.quantile(c0, 0.95))
        fc = fit.forecast(xh, prob=0.9)
        hits_heldout.extend((fc.lower.values <= yh) & (yh <= fc.upper.values))
    # 24 parameter intervals and 48 held-out intervals at 90%: allow for binomial spread
    assert np.mean(hits_param) >= 0.75, hits_param
    assert np.mean(hits_heldout) >= 0.75, hits_heldout


def _sim(x_max):
    """The noiseless simulation on x <= x_max, at 60 log-spaced integer x (46 distinct points).

    Thinning keeps the same information about the curve (it is noiseless) at a fraction of the
    sampling cost of all x_max integers, which are packed densely at the top of the window.
    """
    sim = datasets.noiseless_simulation()
    curve = datasets.noiseless_simulation_curve(x_max=x_max)
    keep = np.unique(np.round(np.geomspace(1, x_max, 60)))
    return sim["params"], curve[curve.x.isin(keep)]


def test_noiseless_simulation_break_found_before_it_shows():
    """Fitting x <= 405, the 90% interval of the break position contains the true d1 = 612.58."""
    p, curve = _sim(405)
    fit = bnsl_bayes.fit(curve.x, curve.y, breaks=1, seed=0, warn=False)
    bp = fit.break_positions(prob=0.9)
    assert bp.lower[0] <= p["d1"] <= bp.upper[0], bp


def test_noiseless_simulation_honest_when_break_unseen():
    """Fitting x <= 390 (the point fit extrapolates with RMSLE 0.2+), the band widens with distance
    from the data and the truth at x = 600, 1000, 2000, 4095 lies inside the 90% interval."""
    p, curve = _sim(390)
    fit = bnsl_bayes.fit(curve.x, curve.y, breaks=1, seed=0, warn=False)
    xq = np.array([600.0, 1000.0, 2000.0, 4095.0])
    truth = bnsl(xq, p["a"], p["b"], p["c0"], [p["c1"]], [p["d1"]], [p["f1"]])
    fc = fit.forecast(xq, prob=0.9)
    width = np.log(fc.upper / fc.lower).values
    assert np.all(np.diff(width) > 0), width
    inside = (fc.lower.values <= truth) & (truth <= fc.upper.values)
    assert inside.all(), fc.assign(truth=truth)
