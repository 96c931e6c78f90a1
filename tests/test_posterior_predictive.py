"""`Fit.posterior_predictive()`: ArviZ's posterior predictive checks of the fitted data, with real NUTS."""

import arviz as az
import numpy as np
import pytest
from scipy import stats

import bnsl_bayes
from bnsl_bayes import datasets
from bnsl_bayes.simulate import measured_curves, simulated_curves


@pytest.fixture(scope="module")
def addition():
    d = datasets.four_digit_addition()
    return d[d.role == "fit"]


def loo_pit(fit) -> np.ndarray:
    return np.asarray(az.loo_pit(fit.posterior_predictive(), y="y"))


def test_replicates_have_the_observed_datas_shape_and_are_reproducible(addition):
    fit = bnsl_bayes.fit(addition.x, addition.y, seed=0, warn=False)
    pp = fit.posterior_predictive()
    assert set(pp.groups()) == {"posterior", "posterior_predictive", "observed_data", "log_likelihood"}
    assert pp.posterior_predictive["y"].dims == ("chain", "draw", "obs")
    assert pp.posterior_predictive["y"].shape[-1] == len(fit.x) == pp.observed_data["y"].size
    # one replicate per draw, from the fit's own noise stream: the same draws as its forecast at those x
    np.testing.assert_array_equal(pp.posterior_predictive["y"].values, fit.draws(fit.x).values)
    np.testing.assert_array_equal(fit.posterior_predictive().posterior_predictive["y"].values,
                                  pp.posterior_predictive["y"].values)
    az.plot_ppc(pp, num_pp_samples=20)  # ArviZ reads it as its own


def test_a_points_known_error_widens_its_replicates():
    c = measured_curves(1, seed=3)[0]  # every other point 30x noisier than the rest
    fit = bnsl_bayes.fit(c.x, c.y, y_err=c.y_err, seed=0, warn=False)
    sd = np.log(fit.posterior_predictive().posterior_predictive["y"]).std(("chain", "draw")).values
    noisy = fit.y_err / fit.y > 0.1
    assert sd[noisy].min() > 2 * sd[~noisy].max(), (sd[noisy], sd[~noisy])


@pytest.mark.slow
def test_loo_pit_is_uniform_when_the_law_fits_and_flags_a_break_it_does_not_follow(addition):
    """Measured 2026-12-03. 8 curves simulated from the law itself (`simulate.simulated_curves`, seed
    11, 2% noise; 144 points): the pooled LOO-PIT values were uniform by a KS test (p 0.80; 7.6% outside
    [0.05, 0.95]). A power law (bnsl-0) fitted to 4-digit addition's 14 points, whose sharp break at
    ~611 it cannot follow, left the last point at LOO-PIT 0.000 (the rest of the curve predicts it far
    higher) and its PITs rising then falling along x; the 1-break law put every point in [0.05, 0.95]."""
    pits = np.concatenate([loo_pit(bnsl_bayes.fit(c.x, c.y, seed=k, warn=False))
                           for k, c in enumerate(simulated_curves(8, seed=11))])
    assert stats.kstest(pits, "uniform").pvalue > 0.05
    power_law = loo_pit(bnsl_bayes.fit(addition.x, addition.y, breaks=0, seed=0, warn=False))
    assert power_law[-1] < 0.01, power_law
    one_break = loo_pit(bnsl_bayes.fit(addition.x, addition.y, breaks=1, seed=0, warn=False))
    assert np.all((one_break > 0.05) & (one_break < 0.95)), one_break


def test_a_prior_sample_refuses_by_name(addition):
    p = bnsl_bayes.prior(addition.x, addition.y, draws=50)
    with pytest.raises(ValueError, match="fitted no data"):
        p.posterior_predictive()
