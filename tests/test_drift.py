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


def dense_t_plus_normal_logpdf(r, nu, scale, sd, n=400_001):
    """The same lambda-mixture integral as `t_plus_normal_logpdf`, by brute force: a fixed, very wide
    and very fine grid of log lambda, with no tuning to the arguments."""
    h = nu / 2
    u = np.linspace(-250.0, 12.0, n)
    log_gamma_u = h * np.log(h) - special.gammaln(h) + h * u - h * np.exp(u)
    var = scale**2 * np.exp(-u) + sd**2
    terms = log_gamma_u - 0.5 * (np.log(2 * np.pi * var) + r**2 / var)
    return special.logsumexp(terms) + np.log(u[1] - u[0])


@pytest.mark.parametrize("nu", [0.3, 2.0, 30.0, 300.0])
def test_t_plus_normal_density_matches_a_dense_reference(nu):
    for scale in (1e-3, 0.05):
        for sd in (1e-4, 0.2):
            r = np.array([0.0, 3 * scale, 0.5, -5.0])
            got = fc.t_plus_normal_logpdf(r, nu, scale, sd)
            want = [dense_t_plus_normal_logpdf(v, nu, scale, sd) for v in r]
            np.testing.assert_allclose(got, want, atol=1e-5, err_msg=f"nu={nu} scale={scale} sd={sd}")


def test_t_plus_normal_density_is_the_convolution_and_has_the_right_limits():
    from scipy import integrate

    # the mixture identity itself, against the convolution of the two densities
    for nu, scale, sd, r in [(3.0, 0.02, 0.03, 0.05), (0.7, 0.01, 0.005, -0.04), (40.0, 0.05, 0.02, 0.0)]:
        conv, _ = integrate.quad(lambda s: stats.t.pdf(s, nu, scale=scale) * stats.norm.pdf(r - s, scale=sd),
                                 -np.inf, np.inf, points=None, epsabs=0, epsrel=1e-10, limit=500)
        assert fc.t_plus_normal_logpdf(r, nu, scale, sd) == pytest.approx(np.log(conv), abs=1e-6)
    r = np.linspace(-0.3, 0.3, 13)
    # no drift: the t itself; no t noise: the normal itself
    np.testing.assert_allclose(fc.t_plus_normal_logpdf(r, 4.0, 0.03, 1e-12), stats.t.logpdf(r, 4.0, scale=0.03), atol=1e-8)
    np.testing.assert_allclose(fc.t_plus_normal_logpdf(r, 4.0, 1e-12, 0.05), stats.norm.logpdf(r, scale=0.05), atol=1e-8)
    # many draws at once (the chunked path) give what one draw at a time gives
    rng = np.random.default_rng(1)
    rr, nus = rng.normal(0, 0.1, (600, 3)), np.repeat(rng.uniform(1, 50, (600, 1)), 3, axis=1)
    together = fc.t_plus_normal_logpdf(rr, nus, 0.02, 0.04)
    np.testing.assert_allclose(together[[0, 299, 599]], [fc.t_plus_normal_logpdf(rr[i], nus[i], 0.02, 0.04) for i in (0, 299, 599)])
    # so do draws with more observations than one block holds (a block is then a single draw)
    wide, nu_w = rng.normal(0, 0.1, (3, 2000)), np.repeat([[2.0], [9.0], [40.0]], 2000, axis=1)
    np.testing.assert_allclose(fc.t_plus_normal_logpdf(wide, nu_w, 0.02, 0.04),
                               [fc.t_plus_normal_logpdf(wide[i], nu_w[i], 0.02, 0.04) for i in range(3)])
    assert fc.t_plus_normal_logpdf(np.zeros((3, 0)), 2.0, 0.02, 0.04).shape == (3, 0)
    with pytest.raises(ValueError, match="nu must not vary along the last axis"):
        fc.t_plus_normal_logpdf(np.zeros((2, 3)), np.array([[1.0, 2.0, 3.0]] * 2), 0.02, 0.04)


def test_drift_below_and_above_the_window_are_independent():
    d = fc.Drift(x_min=10.0, x_max=100.0, per_efold=0.05, seed=3)
    x = np.array([10 / np.e, 50.0, 100 * np.e])
    draws = d.draws((8000,), x)
    assert np.all(draws[:, 1] == 0)
    np.testing.assert_allclose(draws.std(axis=0)[[0, 2]], 0.05, rtol=0.05)
    assert abs(np.corrcoef(draws[:, 0], draws[:, 2])[0, 1]) < 0.05
    # past the largest x the drift is the stream it always was: forecasts there did not change
    eta = np.random.default_rng(np.random.SeedSequence([3, 0xD21F7])).standard_normal((8000,))
    np.testing.assert_allclose(draws[:, 2], 0.05 * eta)


def test_a_repeated_x_gets_independent_noise(addition_fit):
    one = addition_fit.draws([800.0]).values[..., 0]
    twice = addition_fit.draws([800.0, 800.0]).values
    np.testing.assert_array_equal(twice[..., 0], one)  # the first occurrence is the forecast at that x alone
    # the second run at that x is a new run: its noise differs from the first's by about the noise scale
    diff = np.log(twice[..., 1]) - np.log(twice[..., 0])
    assert np.all(diff != 0)
    assert np.median(np.abs(diff)) > 0.5 * float(addition_fit.posterior["noise"].median())


def _refit(fit, y):
    """`fit`'s posterior attached to other observations (no sampling): what a fit of other data
    made with the same seed and spec looks like to the forecast code."""
    from bnsl_bayes.fit import make_idata

    sampler = json.loads(fit.idata.posterior.attrs["sampler"])
    return bnsl_bayes.Fit(make_idata(fit.idata, fit.x, y, fit.spec, fit.seed, sampler, fit.x_name, fit.y_name))


def test_fits_of_other_data_with_the_same_seed_draw_independent_noise_and_drift(addition_fit):
    """Before the stream key, every fit with seed 0 shared one noise stream and one drift stream,
    so draw-by-draw differences between two fits cancelled them and came out too sure."""
    same = _refit(addition_fit, addition_fit.y)
    other = _refit(addition_fit, addition_fit.y * 1.001)
    assert same.seed == other.seed == addition_fit.seed
    x_far = [1e5]  # far past the data (x <= ~3e3): drift dominates the spread
    a, b, c = (f.draws(x_far).values.ravel() for f in (addition_fit, same, other))
    np.testing.assert_array_equal(a, b)  # same seed, data and spec: the same draws
    curve = addition_fit.draws(x_far, kind="curve").values.ravel()
    # other data: the posterior is the same here, so any dependence would be the streams'
    shared = stats.spearmanr(a - curve, c - curve).statistic
    assert abs(shared) < 0.1, shared
    # and a fit of the same data under another spec gets its own streams too
    spec = {**addition_fit.spec.to_dict(), "name": "bnsl-1-monotone"}
    assert fc.stream_key(0, addition_fit.x, addition_fit.y, json.dumps(spec)) != addition_fit.stream_key
    assert fc.stream_key(0, addition_fit.x, addition_fit.y, json.dumps(addition_fit.spec.to_dict())) == addition_fit.stream_key


def test_a_fit_saved_before_the_stream_key_keeps_its_seed_keyed_streams(addition_fit):
    idata = addition_fit.idata.copy()
    idata.posterior.attrs = {k: v for k, v in idata.posterior.attrs.items() if k != "stream_key"}
    old = bnsl_bayes.Fit(idata)
    assert old.stream_key == old.seed == 0
    got = np.log(old.draws([1e4]).values)
    want = fc.log_predictive_draws(old.posterior, [1e4], 0, fc.Drift(old.x.min(), old.x.max(), old.spec.drift_per_efold, 0))
    np.testing.assert_allclose(got, want.values)


def test_stream_key_is_stable_and_sees_every_input():
    x, y = np.array([1.0, 2.0, 4.0]), np.array([3.0, 2.0, 1.5])
    k = fc.stream_key(0, x, y, "{}")
    # a fixed value: a change here changes what every new fit forecasts (saved fits keep the key they
    # stored), so it must be deliberate
    assert k == 0x11DB38EAC4B2C9C297A69BF1A2AE375B == fc.stream_key(0, x.tolist(), y.tolist(), "{}")
    keys = {k, fc.stream_key(1, x, y, "{}"), fc.stream_key(0, x * 2, y, "{}"), fc.stream_key(0, x, y * 2, "{}"),
            fc.stream_key(0, x, y, '{"a": 1}'), fc.stream_key(0, y, x, "{}")}
    assert len(keys) == 6


def test_reattaching_a_posterior_leaves_the_original_fits_metadata_alone(addition_fit):
    """make_idata writes the new fit's metadata on its own copy: a fit whose draws were reattached to
    other data (as `_refit` does) still saves its own stream key, so it loads back to its forecasts."""
    before = dict(addition_fit.idata.posterior.attrs)
    other = _refit(addition_fit, addition_fit.y * 1.002)
    assert dict(addition_fit.idata.posterior.attrs) == before
    assert int(before["stream_key"], 16) == addition_fit.stream_key != other.stream_key
