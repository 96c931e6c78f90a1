"""Known measurement errors of y (`fit(..., y_err=)`): checks, the likelihood, storage, and what they buy."""

import json
import subprocess
import sys
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest

import bnsl_bayes
from bnsl_bayes import datasets
from bnsl_bayes import forecast as fc
from bnsl_bayes.forms import bnsl
from bnsl_bayes.many import curve_seed, fingerprint, fit_many
from bnsl_bayes.model import CurveData, build_model
from bnsl_bayes.simulate import measured_curves
from bnsl_bayes.spec import load_spec

SMALL = dict(chains=2, tune=300, draws=300)


@pytest.fixture(scope="module")
def addition():
    d = datasets.four_digit_addition()
    train = d[d.role == "fit"].reset_index(drop=True)
    return train.assign(se=0.01 * train.y)  # a 1% standard error on every point


@pytest.fixture(scope="module")
def measured_fit(addition):
    return bnsl_bayes.fit(addition.x, addition.y, y_err=addition.se, seed=0, warn=False)


# ---- checks before any sampling ------------------------------------------------------------------
@pytest.mark.parametrize("errs, needle", [
    ([0.01, -0.01, 0.01, 0.01], "column 'y_err': -0.01 at row 1 must be >= 0"),
    ([0.01, np.nan, 0.01, 0.01], "column 'y_err': nan at row 1"),
    ([0.01, 0.01, 0.01], "column 'y_err' has 3 entries for 4 data points"),
    ([0.01, "a", 0.01, 0.01], "column 'y_err': non-numeric value 'a' at row 1"),
    (pd.Series([0.01, 0.01, 0.01, -1.0], name="sem"), "column 'sem': -1.0 at row 3"),
])
def test_bad_errors_are_named_before_sampling(errs, needle):
    with pytest.raises(ValueError) as e:
        bnsl_bayes.fit([1, 2, 4, 8], [4.0, 3.0, 2.5, 2.2], y_err=errs)
    assert needle in str(e.value)


def test_an_error_too_large_for_the_log_scale_is_warned_about():
    # draws=0 is refused after the data are read and before sampling: nothing is sampled here
    with pytest.warns(RuntimeWarning, match=r"column 'y_err': the error at row 2 is 80% of 'y' \(1 point\(s\) above"):
        with pytest.raises(ValueError, match="draws"):
            bnsl_bayes.fit([1, 2, 4, 8], [4.0, 3.0, 2.5, 2.2], y_err=[0.1, 0.1, 2.0, 0.1], draws=0)


def test_errors_are_paired_by_position_not_label():
    y = pd.Series([4.0, 3.0, 2.5, 2.2], index=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="different indexes"):
        bnsl_bayes.fit(pd.Series([1, 2, 4, 8]), y, y_err=pd.Series([0.1] * 4, index=[3, 2, 1, 0]))


def test_without_errors_nothing_changes():
    """No y_err: the same graph, data, stream key and store fingerprint as before errors could be given."""
    spec = load_spec("bnsl-1")
    data = CurveData.from_xy([1, 2, 4, 8], [4, 3, 2.5, 2.2])
    assert "log_y_se" not in data.shared() and "log_y_se" not in build_model(spec, data).named_vars
    x, y = np.array([1.0, 2, 4]), np.array([3.0, 2, 1.5])
    assert fc.stream_key(0, x, y, "{}") == fc.stream_key(0, x, y, "{}", None)
    assert fc.stream_key(0, x, y, "{}", y * 0.01) != fc.stream_key(0, x, y, "{}")
    xs, ys = pd.Series(x), pd.Series(y)
    assert fingerprint(xs, ys, spec, 0, {}) == fingerprint(xs, ys, spec, 0, {}, None)
    assert fingerprint(xs, ys, spec, 0, {}, ys * 0.01) != fingerprint(xs, ys, spec, 0, {}, ys * 0.02)


# ---- the likelihood, storage and plots (real sampling) -----------------------------------------
def test_log_likelihood_is_the_models_and_survives_a_round_trip(measured_fit, addition, tmp_path):
    """The pointwise log-likelihood LOO reads is PyMC's own for the model with errors (in y units), and
    a saved fit loads back with its errors and the same answers."""
    fit = measured_fit
    np.testing.assert_allclose(fit.y_err, addition.se.to_numpy()[np.argsort(addition.x.to_numpy(), kind="stable")])
    model = build_model(fit.spec, CurveData.from_xy(fit.x, fit.y, fit.y_err))
    free = [v.name for v in model.free_RVs]
    sub = az.InferenceData(posterior=fit.idata.posterior.isel(chain=[0, 2], draw=slice(0, 10))[free])
    import pymc as pm

    with model:
        theirs = pm.compute_log_likelihood(sub, progressbar=False, extend_inferencedata=False)["obs"].values
    ours = fit.idata.log_likelihood["y"].isel(chain=[0, 2], draw=slice(0, 10)).values
    np.testing.assert_allclose(ours, theirs - np.log(fit.y), rtol=0, atol=1e-10)

    fit.save(tmp_path / "f.nc")
    back = bnsl_bayes.load(tmp_path / "f.nc")
    np.testing.assert_array_equal(back.y_err, fit.y_err)
    pd.testing.assert_frame_equal(back.forecast([800, 2000]), fit.forecast([800, 2000]))
    np.testing.assert_array_equal(back.log_predictive_density([800], [0.76], y_err=[0.02]),
                                  fit.log_predictive_density([800], [0.76], y_err=[0.02]))


def test_a_new_points_error_widens_its_density(measured_fit):
    """log_predictive_density(y_err=) treats the new point's error as the likelihood treats fitted
    ones: a point far from the forecast is less surprising when it is known to be noisy."""
    far = measured_fit.log_predictive_density([800], [0.6])
    assert measured_fit.log_predictive_density([800], [0.6], y_err=[0.05]) > far
    with pytest.raises(ValueError, match="column 'y_err': -0.1 at row 0"):
        measured_fit.log_predictive_density([800], [0.6], y_err=[-0.1])


# ---- forecasting a measurement not made yet (`forecast(..., y_err=)`) ---------------------------
AT = [800.0, 864.0, 928.0, 2000.0]


def test_a_planned_error_of_zero_is_the_plain_forecast(measured_fit):
    pd.testing.assert_frame_equal(measured_fit.forecast(AT, y_err=0), measured_fit.forecast(AT))


def test_a_planned_error_widens_each_draws_noise_relative_to_its_curve(measured_fit):
    """Same noise stream, each draw's scale widened to sqrt(noise^2 + (y_err / y_curve)^2): the error
    on log y is taken relative to the value that draw expects, as the likelihood takes it relative
    to the measured y."""
    e = np.array([0.01, 0.02, 0.05, 0.1])
    plain, told = measured_fit.draws(AT).values, measured_fit.draws(AT, y_err=e).values
    curve = measured_fit.draws(AT, kind="curve").values
    noise = measured_fit.posterior["noise"].values[..., None]
    np.testing.assert_allclose(np.log(told / curve), np.log(plain / curve) * np.sqrt(noise**2 + (e / curve) ** 2) / noise,
                               rtol=1e-9, atol=1e-12)
    # a callable of y gives the same draws as the numbers it returns
    rel = measured_fit.draws(AT, y_err=lambda y: 0.03 * y).values
    np.testing.assert_allclose(np.log(rel / curve), np.log(plain / curve) * np.sqrt(noise**2 + 0.03**2) / noise,
                               rtol=1e-9, atol=1e-12)
    band, wide = measured_fit.forecast(AT), measured_fit.forecast(AT, y_err=e)
    assert (wide.upper - wide.lower > band.upper - band.lower).all()
    # the model average passes the errors to each fit: one fit of weight 1 is that fit's forecast
    avg = bnsl_bayes.averaged_forecast({"a": measured_fit, "b": measured_fit}, AT, y_err=e, weights={"a": 1, "b": 0})
    pd.testing.assert_frame_equal(avg[["x", "median", "lower", "upper"]], wide[["x", "median", "lower", "upper"]])


def test_error_rate_se_is_the_binomial_standard_error():
    se = fc.error_rate_se(400)
    np.testing.assert_allclose(se(np.array([0.1, 0.5, 1.2, -0.1])), [0.015, 0.025, 0.0, 0.0])
    with pytest.raises(ValueError, match="n_examples must be an integer >= 1, got 0"):
        fc.error_rate_se(0)


@pytest.mark.parametrize("bad, needle", [
    (-0.1, "column 'y_err': -0.1 at row 0 must be >= 0"),
    ([0.1, 0.1], "column 'y_err' has 2 entries for 4 x to forecast at"),
    ([0.1, np.nan, 0.1, 0.1], "column 'y_err': nan at row 1"),
    (lambda y: -y, "y_err(y) must be finite and >= 0 for every y the fit expects"),
    (lambda y: np.ones(3), "y_err(y) returned shape (3,)"),
])
def test_bad_planned_errors_are_named(measured_fit, bad, needle):
    with pytest.raises(ValueError) as e:
        measured_fit.forecast(AT, y_err=bad)
    assert needle in str(e.value)


def test_a_noise_free_curve_takes_no_measurement_error(measured_fit):
    with pytest.raises(ValueError, match="applies to kind='predictive'"):
        measured_fit.forecast(AT, kind="curve", y_err=0.1)


def test_cli_forecast_of_a_measurement(measured_fit, tmp_path, capsys):
    from bnsl_bayes import cli

    path = tmp_path / "f.nc"
    measured_fit.save(path)
    assert cli.main(["forecast", str(path), "--at", "800", "2000", "--test-examples", "2000", "--json"]) == 0
    got = pd.DataFrame(json.loads(capsys.readouterr().out))
    want = measured_fit.forecast([800, 2000], y_err=fc.error_rate_se(2000))
    np.testing.assert_allclose(got[["median", "lower", "upper"]], want[["median", "lower", "upper"]])
    assert cli.main(["forecast", str(path), "--at", "800", "2000", "--y-err", "0.01", "0.02"]) == 0
    assert "as measured with standard error --y-err" in capsys.readouterr().out
    assert cli.main(["forecast", str(path), "--at", "800", "--y-err", "0.01", "--test-examples", "9"]) == 2
    assert "use one" in capsys.readouterr().err
    assert cli.main(["forecast", str(path), "--at", "800", "2000", "--y-err", "0.1", "0.2", "0.3"]) == 2
    assert "one per --at value (2), got 3" in capsys.readouterr().err


def test_forecast_plot_draws_the_error_bars(measured_fit):
    from matplotlib.container import ErrorbarContainer

    from bnsl_bayes import plots

    _, ax = plots.plot_forecast(measured_fit)
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 1
    segments = bars[0].lines[2][0].get_segments()  # one vertical bar per point, y - se to y + se
    assert len(segments) == len(measured_fit.x)
    np.testing.assert_allclose([s[1, 1] - s[0, 1] for s in segments], 2 * measured_fit.y_err)


def test_fit_many_reads_an_error_column_and_refits_when_it_changes(addition, tmp_path):
    table = pd.concat([addition.assign(task="a"), addition.assign(task="b", y=addition.y * 1.1, se=addition.se * 3)],
                      ignore_index=True)
    with pytest.raises(ValueError, match=r"column\(s\) \['sem'\] not in the data"):
        fit_many(table, "x", "y", "task", y_err="sem", **SMALL)
    first = fit_many(table, "x", "y", "task", y_err="se", store=tmp_path, **SMALL)
    assert first.ok
    alone = bnsl_bayes.fit(addition.x, addition.y * 1.1, y_err=addition.se * 3, seed=curve_seed(0, "b"),
                           warn=False, **SMALL)
    got = bnsl_bayes.load_store(tmp_path).fits["b"]
    np.testing.assert_array_equal(got.y_err, alone.y_err)
    np.testing.assert_array_equal(got.idata.posterior["c0"].values, alone.idata.posterior["c0"].values)
    table.loc[table.task == "a", "se"] *= 2
    again = fit_many(table, "x", "y", "task", y_err="se", store=tmp_path, **SMALL)
    assert again.done == ["a"] and again.skipped == ["b"]


def test_cli_fit_takes_an_error_column(addition, tmp_path):
    exe = Path(sys.executable).with_name("bnsl-bayes")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "bnsl_bayes.cli"]
    addition[["x", "y", "se"]].to_csv(tmp_path / "runs.csv", index=False)
    small = ["--chains", "2", "--tune", "300", "--draws", "300", "--quiet"]
    ok = subprocess.run([*cmd, "fit", "runs.csv", "--x", "x", "--y", "y", "--y-err", "se", "--out", "f.nc", *small],
                        capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert ok.returncode == 0, ok.stderr
    assert "bnsl-1: 14 points (known errors, median 1.0% of y)" in ok.stdout, ok.stdout
    np.testing.assert_allclose(bnsl_bayes.load(tmp_path / "f.nc").y_err, addition.sort_values("x").se)
    bad = addition[["x", "y", "se"]].copy()
    bad.loc[4, "se"] = -0.5
    bad.to_csv(tmp_path / "bad.csv", index=False)
    refused = subprocess.run([*cmd, "fit", "bad.csv", "--x", "x", "--y", "y", "--y-err", "se", "--out", "g.nc"],
                             capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert refused.returncode == 2 and "column 'se': -0.5 at row 4 (line 6) must be >= 0" in refused.stderr, \
        refused.stderr
    bt = subprocess.run([*cmd, "backtest", "runs.csv", "--x", "x", "--y", "y", "--y-err", "se", "--cuts", "-2",
                         "--out", "bt.csv", *small], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert bt.returncode == 0, bt.stderr
    points = pd.read_csv(tmp_path / "bt.csv")
    np.testing.assert_allclose(points["y_err"], addition.sort_values("x").se.to_numpy()[-2:])


def test_backtest_fits_with_the_errors_and_scores_later_points_as_measurements():
    """Each cut's fit gets the errors of its points; a later point's band and log density include its
    own error (as the likelihood would), so its band is wider than a new run's; calibration and the
    inside column agree; backtest_many with an error column is backtest of each curve alone."""
    d = datasets.four_digit_addition()
    se = 0.05 * d.y  # a 5% standard error: wide enough to show in every band
    bt = bnsl_bayes.backtest(d.x, d.y, cuts=[12, 14], y_err=se, seed=0, warn=False, **SMALL)
    order = np.argsort(d.x.to_numpy(), kind="stable")
    x, e = d.x.to_numpy()[order], se.to_numpy()[order]
    for cut, pts in bt.points.groupby("cut"):
        fit = bt.fits[cut]
        np.testing.assert_array_equal(fit.y_err, e[x <= pts.x_cut.iloc[0]])
        np.testing.assert_array_equal(pts["y_err"], e[x > pts.x_cut.iloc[0]])
        np.testing.assert_array_equal(pts["log_density"], fit.log_predictive_density(pts.x, pts.y, pts.y_err))
        new_run = fit.forecast(pts.x, prob=bt.prob)
        assert np.all(pts.upper.to_numpy() / pts.lower.to_numpy() > new_run.upper / new_run.lower)
    at_prob = bt.calibration(levels=[bt.prob])
    assert at_prob.inside.iloc[0] == bt.points.inside.mean()
    from matplotlib.container import ErrorbarContainer

    from bnsl_bayes import plots

    _, ax = plots.plot_backtest(bt)  # error bars on the 12 points every cut fitted and on each later point
    (bars,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars.lines[2][0].get_segments()) == 12 + len(bt.points)

    table = pd.concat([d.assign(run="a", se=se), d.assign(run="b", y=d.y * 1.2, se=se * 0.5)], ignore_index=True)
    many = bnsl_bayes.backtest_many(table, "x", "y", "run", cuts=[12, 14], y_err="se", seed=0, warn=False, **SMALL)
    pd.testing.assert_frame_equal(many["a"].points, bt.points)
    assert many["b"].points.y_err.iloc[0] == pytest.approx(0.5 * e[x > many["b"].points.x_cut.iloc[0]][0])


# ---- what known errors buy (real NUTS, fixed seeds) --------------------------------------------
@pytest.fixture(scope="module")
def simulated_fits():
    """(curve, fit told the errors, fit not told) for 12 curves of `simulate.measured_curves` (seed 7)."""
    return [(c, bnsl_bayes.fit(c.x, c.y, y_err=c.y_err, seed=k, warn=False), bnsl_bayes.fit(c.x, c.y, seed=k, warn=False))
            for k, c in enumerate(measured_curves(12, seed=7))]


@pytest.mark.slow
def test_known_errors_sharpen_extrapolation_without_losing_coverage(simulated_fits):
    """12 simulated 1-break curves measured with known errors, every other point 30x noisier than the
    rest (`simulate.measured_curves`). Told the errors, the fit leans on the precise points: measured
    (2026-12-03) its noise-free curve's median missed the true law at the 6 held-out x (up to 10x past
    the data) by RMSLE 0.077 on average for seed 7 and 0.112 for seed 8, against 0.147 and 0.234 for
    the same fits without errors, with 90% bands about half as wide (mean log width 0.44 vs 0.70 and
    0.39 vs 0.75) that held the true law at 0.85 and 0.93 of the 72 held-out x (without errors 0.88
    and 0.76)."""
    rows = {"known": [], "ignored": []}
    for c, told, not_told in simulated_fits:
        for name, fit in (("known", told), ("ignored", not_told)):
            band = fit.forecast(c.x_heldout, kind="curve")
            rows[name].append((
                np.sqrt(np.mean(np.log(band["median"].to_numpy() / c.y_heldout) ** 2)),
                np.mean(np.log(band.upper.to_numpy() / band.lower.to_numpy())),
                np.mean((band.lower.to_numpy() <= c.y_heldout) & (c.y_heldout <= band.upper.to_numpy())),
            ))
    known, ignored = np.array(rows["known"]), np.array(rows["ignored"])
    assert known[:, 0].mean() < 0.75 * ignored[:, 0].mean(), (known[:, 0].mean(), ignored[:, 0].mean())
    assert known[:, 1].mean() < 0.8 * ignored[:, 1].mean(), (known[:, 1].mean(), ignored[:, 1].mean())
    assert known[:, 2].mean() >= 0.75, known[:, 2].mean()


@pytest.mark.slow
def test_forecasts_of_measurements_with_a_known_error_cover_them(simulated_fits):
    """The value a future measurement will read: the 6 held-out x of each of the 12 curves, each
    read 20 times off a small eval set (standard error 15% of y; 1440 readings). Measured
    (2026-12-03): the 90% bands of `forecast(x, y_err=lambda y: 0.15 * y)` held 0.933 of them (per
    curve 0.80-1.00); the bands of a new run's y alone, 0.621 (0.31-0.98): a forecast that is
    not told the reading's error is too sure of what will be read."""
    rng = np.random.default_rng(1)
    told, not_told = [], []
    for c, fit, _ in simulated_fits:
        law = bnsl(c.x_heldout, **c.params)
        readings = law * np.exp(rng.normal(0, 0.15, (20, law.size)))
        for shares, kw in ((told, {"y_err": lambda y: 0.15 * y}), (not_told, {})):
            band = fit.forecast(c.x_heldout, **kw)
            shares.append(np.mean((band.lower.to_numpy() <= readings) & (readings <= band.upper.to_numpy())))
    assert 0.85 <= np.mean(told) <= 0.97, np.mean(told)
    assert np.mean(not_told) < np.mean(told) - 0.2, (np.mean(not_told), np.mean(told))
