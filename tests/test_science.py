"""Scientific claims, each checked with real NUTS sampling and fixed seeds."""

import numpy as np
import pytest

import bnsl_bayes
from bnsl_bayes import datasets
from bnsl_bayes.forms import bnsl
from bnsl_bayes.simulate import recovered, simulated_curves

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


@pytest.fixture(scope="module")
def simulated_fits():
    """48 curves simulated from known 1-break parameters, each fitted once with the default model.

    The three parameters of one curve tend to miss together and the rate varies a lot between draws
    of curves, so a handful of curves cannot estimate it: the first version of this test used the
    first 8 curves of seed 20231 and got 13/24 (0.54); all 24 of that seed gave 59/72 (0.82,
    benchmarks/recovery.py), 24 fresh curves of seed 20232 gave 69/72 (0.96). The test pools both
    seeds, the unlucky curves included. Measured with the current sampler (low-rank mass matrix,
    1000 draws): 59/72 and 67/72, pooled 126/144 (0.875) parameters inside their 90% intervals;
    279/288 (0.97) held-out points (267/288 before the drift past the data widened far bands); 92/96
    reach intervals (44/48 for the nearest held-out x, 48/48 for the farthest, 2026-11-30)."""
    curves = simulated_curves(24, seed=20231) + simulated_curves(24, seed=20232)
    return [(c, recovered(bnsl_bayes.fit(c.x, c.y, breaks=1, seed=k, warn=False), c)) for k, c in enumerate(curves)]


def test_heldout_coverage_on_simulated_curves(simulated_fits):
    """90% predictive intervals contain the 6 held-out points past each curve's window at about the nominal rate."""
    hits = [h for _, r in simulated_fits for h in r["heldout"]]
    # 288 intervals at 90%, correlated within a curve: about nominal means neither far too narrow
    # nor far too wide
    assert 0.75 <= np.mean(hits) <= 0.98, np.mean(hits)


def test_parameter_recovery_on_simulated_curves(simulated_fits):
    """90% intervals contain the true break position, limit a and first slope c0 at about the nominal rate."""
    hits = [r[k] for _, r in simulated_fits for k in ("d", "a", "c0")]
    assert 0.75 <= np.mean(hits) <= 0.98, np.mean(hits)


def test_reach_timing_on_simulated_curves(simulated_fits):
    """When the curve reaches a level: the 90% interval of `Fit.reach` contains the true x (the
    nearest and the farthest held-out x, 1.4x and 7x past the data) at about the nominal rate.
    Measured 92/96; all 48 far intervals and 22 of the 48 near ones are open above (P(reached by
    1000x the data) < 0.95), so the far hits say only that the lower end is not too high."""
    hits = np.array([r["reach"] for _, r in simulated_fits], float)  # (curve, [nearest, farthest])
    assert 0.75 <= hits.mean() <= 0.98, hits.mean(axis=0)
    assert 0.75 <= hits[:, 0].mean() <= 0.98, hits[:, 0].mean()  # the near target alone (26 of its 48 intervals are closed)


def _sim(x_max):
    """The noiseless simulation on every integer x <= x_max, as the BNSL paper fits it."""
    sim = datasets.noiseless_simulation()
    return sim["params"], datasets.noiseless_simulation_curve(x_max=x_max)


def test_noiseless_simulation_break_found_before_it_shows():
    """Fitting x <= 405, the 90% interval of the break position contains the true d1 = 612.58."""
    p, curve = _sim(405)
    fit = bnsl_bayes.fit(curve.x, curve.y, breaks=1, seed=0, warn=False)
    bp = fit.break_positions(prob=0.9)
    assert bp.lower[0] <= p["d1"] <= bp.upper[0], bp


@pytest.mark.xfail(strict=True, reason=(
    "Known shortfall, measured: fitting x <= 390 the 1-break posterior is confident and wrong beyond the data "
    "(90% predictive interval at x=600 [1.977, 2.054] vs truth 1.753; at x=4095 [1.14, 3.31] vs truth "
    "0.414; measured 2026-12-02 with the Student-t likelihood and streams keyed by data, [1.979, 2.054] and [1.68, 5.08] with the normal "
    "one on 2026-11-23; with the drift past the data, which widens the bands but only by 0.025 log y per "
    "e-fold), though the band does widen with distance. The true break (d1=613, f1=0.059, c1=5.66) leaves a mark below the 0.1% "
    "noise floor on x <= 390, so only the prior speaks past the data, and the claim needs >= 5% of it at or "
    "below the truth. `python -m benchmarks.unseen_break_mass`: among breaks past the data that leave no mark, "
    "P(y <= truth) at x=600/1000/2000/4095 is 0.0065/0.0005/0.0005/0.0007 under the default priors, at most "
    "0.011 with slope changes twice as wide or Cauchy: no weakly informative prior we tried comes near 0.05. "
    "Nor does the data route: with the noise floor at 1e-6 the mark shows (the chains that chain stacking keeps "
    "put the break at 490 and 564) but NUTS does not mix (r_hat 4.6, 1427 divergences in 8 chains) and the "
    "band at x=600 is [1.79, 2.00]; the slope change the data leave free along that ridge needs c1 > 5 "
    "(2026-12-01). "
    "strict: this test fails loudly once the model meets the claim."))
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


def test_monotone_spec_does_not_forecast_a_rise_near_the_floor(tmp_path):
    """A clean power law close to its limit (1.69 + 406 x^-0.34, 1% noise, 1e6..1e12): the default
    model's symmetric slope-change prior has room only to bend upward there, and its forecast median
    rose past the data (1.7035 at 1e12, 1.7148 at 1e15; 90% upper 4.06 at 1e15, measured 2026-12-01).
    bnsl-1-monotone keeps every draw of the law non-increasing, its median falls, and its band still
    holds the truth."""
    from bnsl_bayes.forecast import log_curve_draws

    rng = np.random.default_rng(0)
    x = np.geomspace(1e6, 1e12, 13)
    truth = lambda v: 1.69 + 406 * v ** -0.34  # noqa: E731
    y = truth(x) * np.exp(rng.normal(0, 0.01, x.size))
    fit = bnsl_bayes.fit(x, y, spec="bnsl-1-monotone", seed=0, warn=False)
    grid = np.geomspace(1e6, 1e18, 200)
    law = log_curve_draws(fit.posterior, grid).values  # no drift: the law itself
    assert np.all(np.diff(law, axis=-1) <= 1e-12)
    xq = np.array([1e12, 1e13, 1e14, 1e15])
    fc = fit.forecast(xq, prob=0.9)
    assert np.all((fc.lower.values <= truth(xq)) & (truth(xq) <= fc.upper.values)), fc
    assert fc["median"].iloc[-1] < fc["median"].iloc[0], fc
    fit.save(tmp_path / "mono.nc")
    again = bnsl_bayes.load(tmp_path / "mono.nc")
    assert again.spec.monotone
    np.testing.assert_allclose(again.forecast(xq)["upper"], fc["upper"])


def test_monotone_spec_on_four_digit_addition():
    """The 4-digit addition claim holds for the monotone spec too: held-out points inside the 90%
    interval, RMSLE <= 0.03, the paper's break inside the 90% break interval. Measured 2026-12-01:
    RMSLE 0.0117 (default spec 0.0179), break 613.1 [603.6, 623.5]."""
    d = datasets.four_digit_addition()
    train, test = d[d.role == "fit"], d[d.role == "extrapolate"]
    fit = bnsl_bayes.fit(train.x, train.y, spec="bnsl-1-monotone", seed=0, warn=False)
    fc = fit.forecast(test.x, prob=0.9)
    assert np.all((fc.lower.values <= test.y.values) & (test.y.values <= fc.upper.values)), fc
    assert rmsle(fc["median"].values, test.y.values) <= 0.03
    bp = fit.break_positions(prob=0.9)
    assert bp.lower[0] <= 612.58 <= bp.upper[0]


def test_crossover_and_contrast_of_two_simulated_recipes():
    """Two recipes whose laws cross (B starts behind and scales better: `simulate.crossing_pairs`),
    each curve fitted on its own. Where the crossing lies inside the data (0.05-0.5x the last fitted
    x) its 90% interval is closed and contains the true crossing for 7 of 8 pairs; where it lies
    2-10x past the data, for 8 of 8, but every one of those intervals is open above (P(crossed by
    1000x the data) 0.43-0.66, 2026-12-03): the data cannot yet tell a recipe that overtakes at 5x
    from one that never does, and the lower end is the informative part. The 90% intervals of
    y_A / y_B at the nearest and farthest held-out x contain the true ratio for 32 of 32."""
    from bnsl_bayes.simulate import crossing_pairs

    inside, past, ratio_hits, a_lower_after = [], [], [], []
    for label, pairs in (("inside", crossing_pairs(8, seed=8, where=(0.05, 0.5))),
                         ("past", crossing_pairs(8, seed=7))):
        for k, p in enumerate(pairs):
            fa = bnsl_bayes.fit(p.a.x, p.a.y, breaks=1, seed=2 * k, warn=False)
            fb = bnsl_bayes.fit(p.b.x, p.b.y, breaks=1, seed=2 * k + 1, warn=False)
            co = bnsl_bayes.crossover(fa, fb)
            (inside if label == "inside" else past).append((co, p.x_cross))
            xh = p.a.x_heldout[[0, -1]]
            tab = bnsl_bayes.contrast(fa, fb, xh)
            truth = bnsl(xh, **p.a.params) / bnsl(xh, **p.b.params)
            ratio_hits += ((tab.ratio_lower <= truth) & (truth <= tab.ratio_upper)).tolist()
            if label == "inside":  # past the crossing B is lower: A's chance of being lower should be small
                a_lower_after.append(tab.prob_a_lower.iloc[0])
                if k == 0:  # a side may be an average of fits of its curve (here two seeds of one spec)
                    fa2 = bnsl_bayes.fit(p.a.x, p.a.y, breaks=1, seed=100, warn=False)
                    avg = bnsl_bayes.contrast({"s0": fa, "s100": fa2}, fb, xh)
                    assert ((avg.ratio_lower <= truth) & (truth <= avg.ratio_upper)).all(), avg
    hit = lambda co, x: bool(co["lower"] <= x <= co["upper"])  # noqa: E731
    assert all(np.isfinite(co["upper"]) for co, _ in inside), [co.to_dict() for co, _ in inside]
    assert sum(hit(co, x) for co, x in inside) >= 6, [(co.to_dict(), x) for co, x in inside]
    assert sum(hit(co, x) for co, x in past) >= 6, [(co.to_dict(), x) for co, x in past]
    assert np.mean(ratio_hits) >= 0.75, np.mean(ratio_hits)
    assert sum(p < 0.5 for p in a_lower_after) >= 7, a_lower_after
