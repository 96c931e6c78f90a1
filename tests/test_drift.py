"""The drift from the law past the fitted window: zero inside, growing with e-folds outside,
integrated out exactly in the density, recorded in the spec and kept through save/load."""

import json

import numpy as np
import pytest
from scipy import special, stats

import bnsl_bayes
from bnsl_bayes import forecast as fc
from bnsl_bayes.spec import load_spec


def with_drift(fit, per_efold):
    """The same posterior draws, answering with another drift (the posterior does not depend on it)."""
    idata = fit.idata.copy()
    spec = json.loads(idata.posterior.attrs["spec"])
    spec["drift_per_efold"] = per_efold
    idata.posterior.attrs["spec"] = json.dumps(spec)
    return bnsl_bayes.Fit(idata)


def test_drift_sd_is_zero_inside_and_linear_in_efolds_outside():
    d = fc.Drift(x_min=10.0, x_max=100.0, per_efold=0.05, seed=0)
    x = np.array([10.0, 50.0, 100.0, 100 * np.e, 100 * np.e**3, 10 / np.e**2])
    np.testing.assert_allclose(d.sd(x), [0, 0, 0, 0.05, 0.15, 0.10], atol=1e-12)


def test_forecast_unchanged_inside_the_window_and_wider_past_it(addition_fit):
    plain, drifted = with_drift(addition_fit, 0.0), with_drift(addition_fit, 0.05)
    inside = [200.0, 500.0, 736.0]
    for kind in ("curve", "predictive"):
        np.testing.assert_allclose(drifted.draws(inside, kind=kind).values, plain.draws(inside, kind=kind).values)
    far = [1e3, 1e4, 1e5]
    w_plain = np.log(plain.forecast(far, kind="curve").eval("upper / lower")).values
    w_drift = np.log(drifted.forecast(far, kind="curve").eval("upper / lower")).values
    assert np.all(w_drift > w_plain) and np.all(np.diff(w_drift - w_plain) > 0), (w_plain, w_drift)
    # each draw's drift is one slope change: smooth in x, not independent noise per x
    extra = np.log(drifted.draws(far, kind="curve").values) - np.log(plain.draws(far, kind="curve").values)
    lx = np.log(np.array(far) / addition_fit.x.max())
    np.testing.assert_allclose(extra / lx, np.broadcast_to((extra / lx)[..., :1], extra.shape), rtol=1e-9)
    assert np.std(extra[..., 0] / lx[0]) == pytest.approx(0.05, rel=0.1)


def test_density_integrates_the_drift_out(addition_fit):
    """The predictive density with drift equals the mixture over draws of Normal(mu, noise^2 + drift^2),
    and the Student-t likelihood's density agrees with it when the t is practically normal."""
    drift = fc.Drift(float(addition_fit.x.min()), float(addition_fit.x.max()), 0.05, seed=0)
    post = addition_fit.posterior.drop_vars("nu", errors="ignore")  # the same draws read as a normal likelihood
    x, y = np.array([800.0, 5e3]), np.array([0.75, 0.4])
    mu = fc.log_curve_draws(post, x).values.reshape(-1, 2)
    sd = np.sqrt(post["noise"].values.reshape(-1, 1) ** 2 + drift.sd(x) ** 2)
    expected = special.logsumexp(stats.norm.logpdf(np.log(y), mu, sd), axis=0) - np.log(len(mu)) - np.log(y)
    np.testing.assert_allclose(fc.log_predictive_density(post, x, y, drift), expected, rtol=1e-10)
    near_normal = post.assign(nu=post["noise"] * 0 + 1e7)
    np.testing.assert_allclose(fc.log_predictive_density(near_normal, x, y, drift), expected, atol=1e-4)


def test_reach_sees_the_drift(addition_fit):
    """Without drift every draw follows its law; with it, when the curve reaches a target far away is
    less certain. Every draw is set to the first one, so the law itself is certain and any spread in
    the answer is the drift's (with the real posterior, the law's own spread past the data hides it)."""
    one = addition_fit.idata.copy()
    for v in one.posterior.data_vars:
        one.posterior[v].values[:] = one.posterior[v].values[0, 0]
    certain = bnsl_bayes.Fit(one)
    plain, drifted = with_drift(certain, 0.0), with_drift(certain, 0.05)
    target = float(plain.draws([2000.0], kind="curve").values[0, 0, 0])  # 1 e-fold past the data
    r0, r1 = plain.reach(target, prob=0.5), drifted.reach(target, prob=0.5)
    assert r0.lower == r0.upper and r0.prob_reached == 1, r0
    assert r1.lower < r0["median"] < r1.upper, (r0, r1)


def test_spec_records_and_validates_drift(addition_fit, tmp_path):
    assert load_spec("bnsl-1").drift_per_efold > 0
    assert load_spec("bnsl-1", drift_per_efold=0).drift_per_efold == 0
    # the compiled model does not depend on it: no recompile when only the drift changes
    assert load_spec("bnsl-1", drift_per_efold=0).model_key() == load_spec("bnsl-1").model_key()
    with pytest.raises(ValueError, match="drift_per_efold"):
        load_spec("bnsl-1", drift_per_efold=-0.1)
    # a fit saved before the key existed was made without drift and still forecasts so
    old = json.loads(addition_fit.idata.posterior.attrs["spec"])
    old.pop("drift_per_efold")
    idata = addition_fit.idata.copy()
    idata.posterior.attrs["spec"] = json.dumps(old)
    assert bnsl_bayes.Fit(idata).drift.per_efold == 0
    drifted = with_drift(addition_fit, 0.07)
    drifted.save(tmp_path / "d.nc")
    back = bnsl_bayes.load(tmp_path / "d.nc")
    assert back.drift == drifted.drift
    np.testing.assert_array_equal(back.forecast([1e4]).values, drifted.forecast([1e4]).values)
