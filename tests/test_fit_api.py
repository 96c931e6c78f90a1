"""The public API on a small real fit: shapes, columns, metadata, save/load, compare."""

import json
import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bnsl_bayes
from bnsl_bayes import datasets
from bnsl_bayes.forecast import log_curve_draws, summarize

FAST = dict(chains=2, tune=300, draws=300)


@pytest.fixture(scope="module")
def data():
    d = datasets.four_digit_addition()
    return d[d.role == "fit"], d[d.role == "extrapolate"]


@pytest.fixture(scope="module")
def fit1(data):
    train, _ = data
    return bnsl_bayes.fit(train.x, train.y, breaks=1, seed=3, warn=False, **FAST)


def test_forecast_columns_and_ordering(fit1):
    fc = fit1.forecast([800, 1e4, 100], prob=0.9)
    assert list(fc.columns) == ["x", "median", "mean", "lower", "upper"]
    np.testing.assert_array_equal(fc.x, [800, 1e4, 100])
    assert np.all(fc.lower < fc["median"]) and np.all(fc["median"] < fc.upper)
    # the predictive band includes the noise: each predictive draw is its curve draw plus noise on
    # the fit's scale; where that noise is tiny next to the curve's spread (x = 100, 1e4) the two
    # bands differ by less than the Monte Carlo error of 5% quantiles from 600 draws (a few per
    # cent), so the band check allows 5%
    curve = fit1.forecast([800, 1e4, 100], prob=0.9, kind="curve")
    assert np.all(fc.upper - fc.lower >= 0.95 * (curve.upper - curve.lower))
    noise = np.log(fit1.draws([800, 1e4, 100]).values) - np.log(fit1.draws([800, 1e4, 100], kind="curve").values)
    scale = fit1.posterior["noise"].values[..., None]
    assert np.all(noise != 0)
    # in units of the draw's noise scale: the median of |t_nu| is 0.674 (normal), 0.69 (nu = 19), 0.73 (nu = 5)
    assert np.median(np.abs(noise / scale)) == pytest.approx(0.7, rel=0.1)
    narrow = fit1.forecast([800, 1e4, 100], prob=0.5)
    assert np.all(narrow.upper - narrow.lower < fc.upper - fc.lower)


def test_forecast_is_reproducible(fit1):
    pd.testing.assert_frame_equal(fit1.forecast([900, 2000]), fit1.forecast([900, 2000]))


def test_draws_have_named_dims(fit1):
    d = fit1.draws([1e3, 2e3], kind="curve")
    assert d.dims == ("chain", "draw", "x") and d.sizes["chain"] == 2 and d.sizes["draw"] == 300


def test_answers_follow_the_chain_weights(fit1):
    """A chain with zero weight contributes nothing; the weights survive save/load."""
    idata = fit1.idata.copy()
    idata.posterior.attrs["chain_weights"] = json.dumps([0.0, 1.0])
    only_second = bnsl_bayes.Fit(idata)
    post = fit1.idata.posterior.sel(chain=1)
    lo, med, hi = np.quantile(np.exp(post["log_d"].values[:, 0]), [0.05, 0.5, 0.95])
    bp = only_second.break_positions()
    np.testing.assert_allclose([bp.lower[0], bp["median"][0], bp.upper[0]], [lo, med, hi])
    assert only_second.diagnostics()["chain_weights"] == [0.0, 1.0]
    assert only_second.draws([1e3]).sizes == {"chain": 1, "draw": 600, "x": 1}


def test_loo_of_a_chain_subset_reads_each_kept_draw_once(fit1):
    """Stacking keeps equal weights on a subset of chains: LOO sees those chains' draws, not the
    resampled mix that repeats them (repeats skew Pareto k and ArviZ's k threshold)."""
    idata = fit1.idata.copy()
    idata.posterior.attrs["chain_weights"] = json.dumps([0.0, 1.0])
    loo = bnsl_bayes.Fit(idata).loo_idata()
    assert loo.posterior.sizes["chain"] == 1 and loo.posterior.sizes["draw"] == 300
    np.testing.assert_array_equal(loo.log_likelihood["y"].values[0], fit1.idata.log_likelihood["y"].values[1])
    idata.posterior.attrs["chain_weights"] = json.dumps([0.25, 0.75])  # unequal: the weighted mix
    assert bnsl_bayes.Fit(idata).loo_idata().posterior.sizes["draw"] == 600


def test_stack_chains_uses_the_stacking_weights(data):
    train, _ = data
    f = bnsl_bayes.fit(train.x, train.y, breaks=1, seed=3, warn=False, stack_chains=True, **FAST)
    attrs = f.idata.posterior.attrs
    assert json.loads(attrs["chain_weights"]) == json.loads(attrs["chain_stacking_weights"])
    np.testing.assert_allclose(f.chain_weights.sum(), 1.0)


def test_break_positions_and_reach(fit1):
    bp = fit1.break_positions(prob=0.9)
    assert list(bp.columns) == ["break", "median", "lower", "upper", "prob_beyond_data",
                                "slope_change", "slope_change_lower", "slope_change_upper"]
    assert len(bp) == 1 and bp.lower[0] < bp["median"][0] < bp.upper[0]
    c = fit1.posterior["c"].values.ravel()
    assert bp.slope_change[0] == pytest.approx(np.median(c))
    assert bp.slope_change_lower[0] == pytest.approx(np.quantile(c, 0.05))
    assert bp.slope_change[0] > 0  # the 4-digit loss falls faster after its break
    r = fit1.reach(0.6, prob=0.9)
    assert r.lower <= r["median"] <= r.upper and r.prob_reached > 0.9
    assert r["median"] > fit1.x.max()  # 0.6 is below every fitted loss
    never = fit1.reach(1e-9, x_max=1e4)
    assert never.prob_reached < 0.5 and np.isinf(never["median"])


def test_forecast_at_an_x_does_not_depend_on_the_other_x_asked_for(fit1):
    one = fit1.forecast([2000.0])
    both = fit1.forecast([1000.0, 2000.0])
    swapped = fit1.forecast([2000.0, 1000.0])
    pd.testing.assert_frame_equal(both.iloc[[1]].reset_index(drop=True), one)
    pd.testing.assert_frame_equal(swapped.iloc[[0]].reset_index(drop=True), one)
    # distinct x still get independent noise within a draw
    d = fit1.draws([1000.0, 1000.001], kind="predictive").values.reshape(-1, 2)
    c = fit1.draws([1000.0, 1000.001], kind="curve").values.reshape(-1, 2)
    assert abs(np.corrcoef(np.log(d[:, 0] / c[:, 0]), np.log(d[:, 1] / c[:, 1]))[0, 1]) < 0.15
    with pytest.raises(ValueError, match="x_new is empty"):
        fit1.forecast([])


def test_reach_of_several_targets_matches_one_at_a_time(fit1):
    levels = [0.7, 0.6, 1e-9]
    table = fit1.reach(levels, prob=0.8, x_max=1e4)
    assert list(table.columns) == ["target", "median", "lower", "upper", "prob_reached", "prob_before_data", "x_max"]
    for row, level in zip(table.itertuples(), levels):
        one = fit1.reach(level, prob=0.8, x_max=1e4)
        assert row.target == level and row.prob_reached == one.prob_reached
        np.testing.assert_array_equal([row.median, row.lower, row.upper], [one["median"], one.lower, one.upper])
    assert fit1.reach_draws(levels, x_max=1e4).shape == (3, fit1.posterior.sizes["chain"] * fit1.posterior.sizes["draw"])
    with pytest.raises(ValueError, match="position 1"):
        fit1.reach([0.7, -1.0])
    with pytest.raises(ValueError, match="non-empty"):
        fit1.reach([])


def test_reach_of_a_level_already_passed_is_inside_the_data(fit1):
    """A falling curve asked for a level just above its fitted end reached it inside the window.
    (Deciding the direction by the last value once sent such a query upwards: answer x = x_min.)"""
    end = float(np.exp(np.median(np.log(fit1.draws([fit1.x.max()], kind="curve").values))))
    target = 1.02 * end
    r = fit1.reach(target)
    assert fit1.x.min() < r["median"] < fit1.x.max() and r.prob_reached > 0.9
    # the fitted data agree: the observed losses pass the target inside the window
    assert fit1.y.min() < target < fit1.y.max()
    assert r.prob_before_data == 0
    # asked upwards, the falling curve is already above the target at the smallest x: the answer
    # is x_min exactly (the grid starts there) and flagged as "x_min or earlier"
    up = fit1.reach(target, direction="up")
    assert up["median"] == fit1.x.min() and up.prob_before_data > 0.95
    # a search range that is not a finite number is refused (inf once answered x_min, "reached")
    for bad in (np.inf, np.nan, 1e400):
        with pytest.raises(ValueError, match="finite number above the smallest fitted x"):
            fit1.reach(0.5, x_max=bad)
    with pytest.raises(ValueError, match="direction"):
        fit1.reach(target, direction="sideways")


def test_reach_times_the_rise_of_a_double_descent_curve_from_its_valley():
    """A curve that falls to a valley near x = 300 and rises again: from its smallest x it is already
    above 2.0 (answer: x_min, prob_before_data 1); searched from the valley upwards, the answer is
    where the rise crosses 2.0 (x = 1932 on the true curve)."""
    from scipy.optimize import brentq

    rng = np.random.default_rng(0)
    x = np.geomspace(10, 1e4, 14)
    truth = lambda v: (1 + 2 * (v / 10) ** -0.5) * np.exp(0.3 * np.maximum(np.log(v / 300), 0))  # noqa: E731
    y = truth(x) * np.exp(rng.normal(0, 0.01, x.size))
    f = bnsl_bayes.fit(x, y, breaks=1, seed=0, warn=False, **FAST)
    start = f.reach(2.0, direction="up")
    assert start["median"] == 10 and start.prob_before_data == 1
    rise = f.reach(2.0, direction="up", x_from=300)
    cross = brentq(lambda v: truth(v) - 2.0, 300, 1e4)
    # The truth is not a BNSL (its limit multiplies the rise), so only closeness is asked: measured
    # median 2052 [1980, 2136] against 1932 on the true curve, 6% off, inside the data.
    assert rise.prob_before_data == 0 and rise.prob_reached == 1, rise
    assert abs(np.log(rise["median"] / cross)) < 0.1 and rise.upper < 1e4, (rise, cross)
    with pytest.raises(ValueError, match="x_from=0.0 must be a finite number > 0"):
        f.reach(2.0, x_from=0)
    with pytest.raises(ValueError, match=r"x_max=100.0 must be a finite number above x_from \(300.0\)"):
        f.reach(2.0, x_from=300, x_max=100)


def test_summary_rows_and_medians(fit1):
    s = fit1.summary(prob=0.9)
    assert list(s.index) == ["a", "log_b", "c0", "c[1]", "d[1]", "f[1]", "sigma", "nu"]  # bnsl-1: Student-t
    assert list(s.columns) == ["median", "mad", "eti_5%", "eti_95%"]
    post = fit1.posterior
    assert s.loc["d[1]", "median"] == pytest.approx(float(np.exp(np.median(post["log_d"].values))), rel=1e-6)
    assert s.loc["sigma", "median"] == pytest.approx(float(np.median(post["sigma"].values)), rel=1e-9)
    assert s.loc["sigma", "median"] > 0  # not rounded away
    assert np.all(s["eti_5%"] <= s["median"]) and np.all(s["median"] <= s["eti_95%"])


def test_idata_groups_and_metadata(fit1):
    idata = fit1.idata
    for group in ("posterior", "sample_stats", "observed_data", "log_likelihood"):
        assert group in idata.groups()
    attrs = idata.posterior.attrs
    assert attrs["bnsl_bayes_version"] == bnsl_bayes.__version__
    assert json.loads(attrs["spec"])["breaks"] == 1
    assert attrs["x_name"] == "x" and attrs["y_name"] == "y"
    assert idata.log_likelihood["y"].shape == (2, 300, 14)
    assert not [v for v in idata.posterior.data_vars if v.endswith("__")]


def test_diagnostics_keys(fit1):
    d = fit1.diagnostics()
    assert {"r_hat_max", "ess_bulk_min", "divergences"} <= set(d)
    assert d["draws"] == 600
    assert d["chain_weights"] == [0.5, 0.5]  # equal unless fitted with stack_chains=True
    assert d["chains_predicting_worse"] in (0, 1)
    # the parameter with the largest r_hat is named, and each chain's median break position is given
    assert d["r_hat_worst"].split("[")[0] in fit1.idata.posterior
    med = np.exp(fit1.idata.posterior["log_d"].median("draw").values)
    assert np.allclose(d["break_median_by_chain"], med, rtol=1e-3)
    # r_hat of the noise-free curve, at the data's ends and 10x / 100x past it
    assert d["r_hat_curve_at"] in (fit1.x.min(), fit1.x.max(), 10 * fit1.x.max(), 100 * fit1.x.max())
    lc = log_curve_draws(fit1.posterior, [d["r_hat_curve_at"]])
    assert d["r_hat_curve_max"] == pytest.approx(az.rhat(lc.to_dataset(name="c"))["c"].values.item())


def test_diagnostics_of_too_few_draws_are_nan_without_warnings(fit1):
    """Fewer than 4 draws per chain (a fit cut down by hand; sampling itself asks for more) has no
    ess: the report says NaN rather than failing or raising an All-NaN warning of its own."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d = bnsl_bayes.Fit(fit1.idata.isel(draw=slice(0, 3))).diagnostics()
    assert not [w for w in caught if "All-NaN" in str(w.message)]
    assert np.isnan(d["ess_bulk_min"]) and np.isnan(d["ess_tail_min"]) and d["draws"] == 6


def test_unconverged_fit_warns_with_remedy(fit1):
    stats = fit1.idata.sample_stats.copy()
    fit1.idata.sample_stats["diverging"] = stats["diverging"] | True
    try:
        with pytest.warns(RuntimeWarning, match="target_accept"):
            fit1.warn_if_unconverged()
    finally:
        fit1.idata.sample_stats["diverging"] = stats["diverging"]


def _mixed(fit1):
    """fit1 with both chains holding chain 1's draws, each in its own random order: no trend within a
    chain and none between them, so r_hat ~ 1 (a reversed copy kept any trend of chain 1 and let the
    split r_hat see it), no divergences."""
    idata = fit1.idata.copy()
    order = [np.random.default_rng(k).permutation(idata.posterior.sizes["draw"]) for k in (0, 1)]
    for v in idata.posterior.data_vars:
        first = idata.posterior[v].values[0].copy()
        idata.posterior[v].values[0], idata.posterior[v].values[1] = first[order[0]], first[order[1]]
    idata.sample_stats["diverging"] = idata.sample_stats["diverging"] & False
    return bnsl_bayes.Fit(idata)


def test_chains_in_different_modes_warn_with_their_break_positions(fit1):
    """r_hat above the limit because one chain sits elsewhere: the warning names the parameter, gives
    each chain's break position and points at comparing modes rather than at target_accept."""
    f = _mixed(fit1)
    post = f.idata.posterior
    post["log_d"][1] = post["log_d"][1] + 3.0  # chain 2 puts the break e^3 = 20x further out
    post["delta"][1] = post["delta"][1] + 3.0
    with pytest.warns(RuntimeWarning) as rec:
        f.warn_if_unconverged()
    msg = str(rec[-1].message)
    assert "(at delta[1])" in msg and "median break position by chain" in msg and "compare" in msg
    assert "target_accept" not in msg  # no divergences: sampling harder is not the remedy
    d0, d1 = f.diagnostics()["break_median_by_chain"]
    assert d1[0] / d0[0] == pytest.approx(np.exp(3.0), rel=1e-2)


def test_slow_mixing_with_agreeing_breaks_asks_for_longer_sampling(fit1):
    """r_hat above the limit but every chain puts the break in the same place: the warning says so
    and asks for longer sampling instead of pointing at modes."""
    f = _mixed(fit1)
    post = f.idata.posterior
    post["c0"][0] = post["c0"][0] + 1.0  # chain 1 off in the first slope only
    with pytest.warns(RuntimeWarning) as rec:
        f.warn_if_unconverged()
    msg = str(rec[-1].message)
    assert "(at c0)" in msg and "agree on the break but mix slowly" in msg and "different explanations" not in msg
    # chain 1's curve is shifted by a whole slope: the chains disagree on the forecasts too
    assert "forecasts that far differ between chains" in msg


def test_one_chain_warns_that_convergence_is_unchecked(fit1):
    idata = fit1.idata.isel(chain=[0])
    # a new attrs dict: isel shares the original's, which other tests read
    idata.posterior.attrs = {**idata.posterior.attrs, "chain_weights": "[1.0]", "chain_stacking_weights": "[1.0]"}
    one = bnsl_bayes.Fit(idata)
    with pytest.warns(RuntimeWarning, match="one chain: r_hat cannot be computed") as rec:
        one.warn_if_unconverged()
    assert "nan" not in str(rec[-1].message) and "chains=4" in str(rec[-1].message)


def test_warning_says_when_chains_agree_on_the_curve(fit1):
    """Slow mixing in a parameter that does not move the curve (the sharpness of a break far past
    the data): the warning says the chains agree on the curve."""
    f = _mixed(fit1)
    post = f.idata.posterior
    post["log_d"][:] = np.log(fit1.x.max()) + 20.0  # a break e^20 past the data: the curve ignores f
    post["f"][0] = post["f"][0] * 3.0
    with pytest.warns(RuntimeWarning) as rec:
        f.warn_if_unconverged()
    msg = str(rec[-1].message)
    assert "(at f[1])" in msg and "the chains agree on the curve there" in msg
    assert f.diagnostics()["r_hat_curve_max"] <= 1.01


def test_save_load_round_trip(fit1, tmp_path):
    path = tmp_path / "fit.nc"
    fit1.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["fit.nc"]  # no temporary left behind
    back = bnsl_bayes.load(path)
    pd.testing.assert_frame_equal(back.forecast([900, 3000]), fit1.forecast([900, 3000]))
    pd.testing.assert_frame_equal(back.break_positions(), fit1.break_positions())
    assert back.spec == fit1.spec and back.seed == fit1.seed


def test_load_refuses_incompatible_or_foreign_files(fit1, tmp_path):
    path = tmp_path / "old.nc"
    fit1.idata.posterior.attrs["format_version"] = 99
    try:
        fit1.save(path)
    finally:
        fit1.idata.posterior.attrs["format_version"] = 1
    with pytest.raises(ValueError, match="format 99"):
        bnsl_bayes.load(path)
    junk = tmp_path / "junk.nc"
    junk.write_bytes(b"not a netcdf file")
    with pytest.raises(ValueError, match="not a readable bnsl-bayes fit"):
        bnsl_bayes.load(junk)
    with pytest.raises(FileNotFoundError):
        bnsl_bayes.load(tmp_path / "nothing.nc")


def test_log_likelihood_matches_pymc(fit1, data):
    """Our NumPy pointwise log-likelihood equals PyMC's (up to the log y -> y Jacobian)."""
    import pymc as pm

    from bnsl_bayes.model import CurveData, build_model

    train, _ = data
    model = build_model(fit1.spec, CurveData.from_xy(train.x.values, train.y.values))
    post = fit1.idata.posterior.isel(draw=slice(0, 20))
    full = pm.compute_log_likelihood(
        __import__("arviz").InferenceData(posterior=_with_transformed(model, post)), model=model, progressbar=False
    )
    ours = fit1.idata.log_likelihood["y"].isel(draw=slice(0, 20)).values
    np.testing.assert_allclose(ours, full.log_likelihood["obs"].values - np.log(train.y.values), rtol=1e-8)


def _with_transformed(model, post):
    # compute_log_likelihood reads the model's value variables, including transformed ones
    ds = post.copy()
    for rv in model.free_RVs:
        vv = model.rvs_to_values[rv]
        tr = model.rvs_to_transforms.get(rv)
        if tr is not None and vv.name not in ds:
            ds[vv.name] = (ds[rv.name].dims, tr.forward(ds[rv.name].values, *rv.owner.inputs).eval())
    return ds


def test_a_rising_curve_warns_to_fit_the_error(fit1):
    """Accuracy fitted by mistake: the law would forecast it rising without bound."""
    acc = np.array([0.42, 0.55, 0.63, 0.70, 0.74, 0.78])
    with pytest.warns(RuntimeWarning, match=r"rises across the data .*1 - accuracy"):
        bnsl_bayes.fit(np.geomspace(1e18, 1e21, 6), acc, breaks=0, seed=0, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit1.warn_if_rising()  # the falling 4-digit addition loss does not warn


def test_monotone_fit_of_rising_data_warns_from_the_data():
    """A monotone law cannot rise, so it fits an accuracy flat: the warning looks at the data instead."""
    acc = np.array([0.42, 0.55, 0.63, 0.70, 0.74, 0.78])
    with pytest.warns(RuntimeWarning, match=r"the y data rise across the data \(0.485 at .*1 - accuracy"):
        bnsl_bayes.fit(np.geomspace(1e18, 1e21, 6), acc, spec="bnsl-0-monotone", seed=0, **FAST)


def test_row_order_does_not_change_the_fit(data):
    train, _ = data
    shuffled = train.sample(frac=1.0, random_state=3)
    a = bnsl_bayes.fit(train.x, train.y, breaks=0, seed=2, warn=False, **FAST)
    b = bnsl_bayes.fit(shuffled.x.to_numpy(), shuffled.y.to_numpy(), breaks=0, seed=2, warn=False, **FAST)
    np.testing.assert_array_equal(a.posterior["c0"].values, b.posterior["c0"].values)
    np.testing.assert_array_equal(a.x, np.sort(train.x.to_numpy()))


def test_compare_and_average(data):
    train, test = data
    fits = [bnsl_bayes.fit(train.x, train.y, breaks=b, seed=1, warn=False, **FAST) for b in (0, 1)]
    table = bnsl_bayes.compare(fits)
    assert list(table.index)[0] == "bnsl-1"  # the break is plain in the data
    assert table.loc["bnsl-1", "elpd_loo"] > table.loc["bnsl-0", "elpd_loo"]
    avg = bnsl_bayes.averaged_forecast(fits, test.x, prob=0.9)
    assert list(avg.columns) == ["x", "median", "mean", "lower", "upper"]
    # Mixture proportions are the weights even when the fits hold different numbers of draws.
    few = bnsl_bayes.Fit(fits[1].idata.isel(draw=slice(0, 40)))
    x = [float(test.x.max())]
    y = bnsl_bayes.averaged_draws({"m0": fits[0], "m1": few}, x, kind="curve", weights={"m0": 0.5, "m1": 0.5}).values[:, 0]
    from_m1 = np.isin(y, few.draws(x, kind="curve").values.ravel())
    assert len(y) == 2 * few.posterior.sizes["chain"] * 40 and from_m1.mean() == 0.5
    assert not np.isin(y[~from_m1], few.draws(x, kind="curve").values.ravel()).any()
    with pytest.raises(ValueError, match="not among the fits"):
        bnsl_bayes.averaged_draws({"m0": fits[0], "m1": few}, x, weights={"m0": 1.0, "bnsl-2": 1.0})
    with pytest.raises(ValueError, match=r"finite and >= 0; got \[-0.5\] for \['m0'\]"):
        bnsl_bayes.averaged_draws({"m0": fits[0], "m1": few}, x, weights={"m0": -0.5, "m1": 1.5})
    # one model with all the weight is that model's forecast, even where its draws overflow y
    heavy = fits[1].idata.copy()
    heavy.posterior["nu"] = xr.full_like(heavy.posterior["c0"], 0.3)  # Student-t noise, nu 0.3: log y past 709
    heavy = bnsl_bayes.Fit(heavy)
    far = [1e5]
    assert np.isinf(heavy.draws(far).values).any()
    alone = bnsl_bayes.averaged_forecast({"h": heavy, "m0": fits[0]}, far, prob=0.99, weights={"h": 1.0, "m0": 0.0})
    pd.testing.assert_frame_equal(alone.drop(columns="mean"), heavy.forecast(far, prob=0.99).drop(columns="mean"))
    assert not alone.isna().any().any()
    # seed picks the draws of the mixture: same seed same table, another seed another
    half = {"m0": 0.5, "m1": 0.5}
    a, b = (bnsl_bayes.averaged_forecast({"m0": fits[0], "m1": few}, x, weights=half, seed=s) for s in (0, 1))
    pd.testing.assert_frame_equal(a, bnsl_bayes.averaged_forecast({"m0": fits[0], "m1": few}, x, weights=half))
    assert not a.equals(b)
    # a fit saved before fits sorted their data: same points, another order
    unsorted = bnsl_bayes.Fit(fits[1].idata.isel(obs=slice(None, None, -1)))
    with pytest.raises(ValueError, match="same data in a different order"):
        bnsl_bayes.compare({"new": fits[0], "old": unsorted})
    with pytest.raises(ValueError, match="different data"):
        other = bnsl_bayes.fit(train.x[:-1], train.y[:-1], breaks=0, seed=1, warn=False, **FAST)
        bnsl_bayes.compare({"all": fits[0], "fewer": other})


def test_averaged_reach_mixes_the_fits_draws(fit1, data):
    """averaged_reach is Fit.reach on the mixture: all weight on one fit gives that fit's answer, and
    two fits with as many draws and equal weights pool all their draws (prob_reached is the mean)."""
    train, _ = data
    fit0 = bnsl_bayes.fit(train.x, train.y, breaks=0, seed=1, warn=False, **FAST)
    fits = {"m0": fit0, "m1": fit1}
    levels = [0.6, 0.45]
    alone = bnsl_bayes.averaged_reach(fits, levels, prob=0.8, x_max=1e5, weights={"m0": 0.0, "m1": 1.0})
    pd.testing.assert_frame_equal(alone, fit1.reach(levels, prob=0.8, x_max=1e5))
    half = {"m0": 0.5, "m1": 0.5}
    for level in levels:
        mix = bnsl_bayes.averaged_reach(fits, level, x_max=1e5, weights=half)
        each = [f.reach(level, x_max=1e5) for f in (fit0, fit1)]
        assert mix.prob_reached == pytest.approx((each[0].prob_reached + each[1].prob_reached) / 2)
        lo, hi = sorted(e["median"] for e in each)
        assert lo <= mix["median"] <= hi
    assert each[0].prob_reached != each[1].prob_reached  # the models disagree about 0.45: a real mixture
    # the seed picks the draws of an unequal mixture, as for averaged_forecast
    skew = {"m0": 0.3, "m1": 0.7}
    assert bnsl_bayes.averaged_reach(fits, 0.6, weights=skew, seed=1).equals(
        bnsl_bayes.averaged_reach(fits, 0.6, weights=skew, seed=1))
    with pytest.raises(ValueError, match="position 1"):
        bnsl_bayes.averaged_reach(fits, [0.6, 0.0], weights=half)
    with pytest.raises(ValueError, match="direction must be"):
        bnsl_bayes.averaged_reach(fits, 0.6, weights=half, direction="sideways")


def test_forecast_summary_of_extreme_draws_is_quiet_and_exact():
    """The mean is taken in log space: a heavy-tailed draw makes it inf without an overflow warning
    (a Student-t fit leaked one), and ordinary draws give the plain mean of y."""
    rng = np.random.default_rng(0)
    ly = rng.normal(0.0, 0.1, size=(2, 500, 2))
    ly[0, 0, 1] = 800.0  # exp(800) overflows float64
    draws = xr.DataArray(ly, dims=("chain", "draw", "x"), coords={"x": [10.0, 20.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = summarize(draws, 0.9)
    assert table["mean"][0] == pytest.approx(np.exp(ly[..., 0]).mean(), rel=1e-12)
    assert np.isinf(table["mean"][1]) and np.isfinite(table["upper"][1])
    assert table["median"][0] == pytest.approx(np.exp(np.median(ly[..., 0])), rel=1e-12)


def test_draws_past_the_float_range_are_inf_without_a_warning(fit1):
    """A Student-t draw with nu near 0 can put log y past the float range: its y is inf, and NumPy's
    bare 'overflow encountered in exp' (naming no fit and no x) is not raised."""
    idata = fit1.idata.copy()
    idata.posterior["log_b"][0, 0] = 800.0  # one draw's curve at e^800 across the window
    wild = bnsl_bayes.Fit(idata)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = wild.draws([800.0], kind="curve").values
        averaged = bnsl_bayes.averaged_draws({"wild": wild, "tame": fit1}, [800.0], kind="curve",
                                             weights={"wild": 1.0, "tame": 0.0})
    assert np.isinf(y[0, 0, 0]) and np.isfinite(y[0, 1:]).all()
    assert np.isinf(averaged.values).sum() == 1


def test_choose_rules():
    """choose reads a compare() table: loo-best keeps the top row; fewest-within-1se keeps the fewest
    breaks whose elpd_loo is within one dse of the best, the better one when two tie on breaks."""
    from types import SimpleNamespace

    from bnsl_bayes.compare import choose

    fits = {name: SimpleNamespace(spec=SimpleNamespace(breaks=b), x=np.arange(3.0), y=np.ones(3))
            for name, b in [("bnsl-2", 2), ("bnsl-1", 1), ("bnsl-0", 0), ("other-1", 1)]}
    table = pd.DataFrame({"elpd_loo": [10.0, 9.7, 8.0, 9.9], "elpd_diff": [0.0, 0.3, 2.0, 0.1],
                          "dse": [0.0, 1.5, 1.0, 0.5]}, index=["bnsl-2", "bnsl-1", "bnsl-0", "other-1"])
    table = table.sort_values("elpd_loo", ascending=False)
    assert choose(fits, "loo-best", table=table) == "bnsl-2"
    # bnsl-0 is 2.0 below with dse 1.0: out; both 1-break fits are close: the better one is kept
    assert choose(fits, table=table) == "other-1"
    table.loc["bnsl-0", "dse"] = 2.0  # now within one SE: the fewest breaks win
    assert choose(fits, "fewest-within-1se", table=table) == "bnsl-0"
    with pytest.raises(ValueError, match="unknown rule 'best'"):
        choose(fits, "best", table=table)


def test_compare_does_not_leak_arviz_overflow_warning():
    """A real pointwise log-likelihood (benchmark curve IC/cal_10/MiX/L/16, 1 break, first context
    point; tests/data) with chains whose relative ESS is ~0.03 makes ArviZ's Pareto fit overflow exp,
    harmlessly (the overflowed candidate gets weight 0). compare must not pass NumPy's warning on:
    the CLI prints caught RuntimeWarnings next to the curve as problems."""
    from pathlib import Path
    from types import SimpleNamespace

    ll = np.load(Path(__file__).parent / "data" / "loo_overflow_loglik.npy").astype(float)[:, :, None]
    rng = np.random.default_rng(0)
    rho, walk = 0.97 / 1.03, np.zeros(ll.shape[:2])  # AR(1) with relative ESS ~ 0.03
    for t in range(1, walk.shape[1]):
        walk[:, t] = rho * walk[:, t - 1] + rng.normal(size=walk.shape[0])
    idata = az.from_dict(posterior={"a": walk}, log_likelihood={"y": ll})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        az.loo(idata)
    assert any("overflow encountered in exp" in str(w.message) for w in caught)  # ArviZ does overflow here
    fake = lambda shift: SimpleNamespace(x=np.arange(1.0), y=np.ones(1),  # noqa: E731
                                         loo_idata=lambda: az.from_dict(posterior={"a": walk},
                                                                        log_likelihood={"y": ll + shift}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = bnsl_bayes.compare({"m0": fake(0.0), "m1": fake(-1.0)})
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in caught]
    assert list(table.index) == ["m0", "m1"] and np.isclose(table.loc["m1", "elpd_diff"], 1.0)
