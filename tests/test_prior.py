"""bnsl_bayes.prior: the spec's prior on a curve's window, answering as a fit does.

The prior's break positions have a closed form (delta ~ Normal(1, 1) in z units, sorted for two
breaks), so the draws are checked against it, not against themselves.
"""

import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import StepPatch
from scipy import stats

import bnsl_bayes
from bnsl_bayes import plots
from bnsl_bayes.io import load

from test_cli import assert_one_line_error, run


@pytest.fixture(scope="module")
def window(addition_data):
    train, _ = addition_data
    return train["x"].to_numpy(), train["y"].to_numpy()


def z_to_x(x, z):
    """x at z units of the window (z = -1 smallest x, 1 largest), as model.py scales breaks."""
    lo, hi = np.log(x.min()), np.log(x.max())
    return np.exp((hi + lo) / 2 + (hi - lo) / 2 * np.asarray(z))


def test_one_break_prior_puts_half_its_mass_past_the_data(window):
    x, y = window
    p = bnsl_bayes.prior(x, y, breaks=1, seed=0)
    assert isinstance(p, bnsl_bayes.PriorFit) and p.posterior.sizes["draw"] == 4000
    row = p.break_positions(0.9).iloc[0]
    # delta ~ Normal(1, 1): median at z = 1 (the largest x), 90% interval at z = 1 -/+ 1.645.
    assert row["prob_beyond_data"] == pytest.approx(0.5, abs=0.03)
    q = stats.norm.ppf(0.95)
    for col, z in (("median", 1.0), ("lower", 1 - q), ("upper", 1 + q)):
        assert row[col] == pytest.approx(float(z_to_x(x, z)), rel=0.05), col
    # The limit lies below every observation in every draw (limit_fraction in (0, 1) of min y).
    assert float(np.exp(p.posterior["log_a"]).max()) < y.min()
    # The prior band spans the data it is scaled to, and more: it has not seen the shape.
    band = p.forecast(x, prob=0.9)
    assert (band["lower"] < y).all() and (band["upper"] > y).all()
    assert (band["upper"] / band["lower"] > 20).all()


def test_two_break_prior_is_the_sorted_law_the_ordered_model_implies(window):
    x, y = window
    rows = bnsl_bayes.prior(x, y, breaks=2, seed=1).break_positions(0.9)
    # The smaller of two Normal(1, 1) draws exceeds 1 with probability 1/4, the larger with 3/4.
    assert rows["prob_beyond_data"].tolist() == pytest.approx([0.25, 0.75], abs=0.03)
    assert rows["median"].iloc[0] < rows["median"].iloc[1]
    # Median of the smaller: P(min > z) = 1/2 at 1 - z = ppf(1 - 1/sqrt 2) below the largest x.
    z_min = 1 + stats.norm.ppf(1 - np.sqrt(0.5))
    assert rows["median"].iloc[0] == pytest.approx(float(z_to_x(x, z_min)), rel=0.05)


def test_priors_are_overridable_and_draws_reproducible(window):
    x, y = window
    moved = bnsl_bayes.prior(x, y, breaks=1, priors={"delta": {"dist": "Normal", "mu": 3.0, "sigma": 0.1}})
    assert moved.break_positions()["median"].iloc[0] == pytest.approx(float(z_to_x(x, 3.0)), rel=0.02)
    a, b = (bnsl_bayes.prior(x, y, breaks=1, seed=7, draws=500) for _ in range(2))
    pd.testing.assert_frame_equal(a.forecast([1000.0]), b.forecast([1000.0]))
    other = bnsl_bayes.prior(x, y, breaks=1, seed=8, draws=500)
    assert not np.allclose(a.posterior["c0"].values, other.posterior["c0"].values)
    assert "PriorFit bnsl-1: 500 prior draws" in repr(a)


def test_prior_refuses_what_it_cannot_answer_and_bad_input(window):
    x, y = window
    p = bnsl_bayes.prior(x, y, breaks=0, draws=200)
    with pytest.raises(ValueError, match="no sampler diagnostics"):
        p.diagnostics()
    with pytest.raises(ValueError, match="no posterior log-likelihood"):
        bnsl_bayes.compare([p, bnsl_bayes.prior(x, y, breaks=1, draws=200)])
    with pytest.raises(ValueError, match="sampled chains"):
        plots.plot_diagnostics(p)
    with pytest.raises(ValueError, match="draws must be a positive integer"):
        bnsl_bayes.prior(x, y, draws=0)
    bad = y.copy()
    bad[3] = -1.0
    with pytest.raises(ValueError, match="loss.*row 3"):
        bnsl_bayes.prior(pd.Series(x, name="n"), pd.Series(bad, name="loss"))


def test_prior_saves_and_loads_back_to_the_same_numbers(window, tmp_path):
    x, y = window
    p = bnsl_bayes.prior(x, y, breaks=1, seed=3, draws=1000, x_name="n", y_name="loss")
    path = tmp_path / "prior.nc"
    p.save(path)
    back = load(path)
    assert isinstance(back, bnsl_bayes.PriorFit) and back.x_name == "n"
    pd.testing.assert_frame_equal(p.forecast([100.0, 1e4]), back.forecast([100.0, 1e4]))
    pd.testing.assert_frame_equal(p.break_positions(), back.break_positions())
    # A damaged prior file is named as such, not a KeyError.
    back.idata.observed_data = back.idata.observed_data.drop_vars("y")
    back.idata.to_netcdf(tmp_path / "damaged.nc", engine="h5netcdf")
    with pytest.raises(ValueError, match="damaged bnsl-bayes fit: no observed_data/y"):
        load(tmp_path / "damaged.nc")


def test_data_narrow_the_break_prior_and_the_plot_shows_both(addition_fit, window):
    """4-digit addition has its break inside the data (Caballero et al.: ~613): the posterior
    interval is a small part of the prior's, which the break plot draws beneath it."""
    x, y = window
    p = bnsl_bayes.prior(x, y, spec=addition_fit.spec, seed=0)
    post, pri = addition_fit.break_positions().iloc[0], p.break_positions().iloc[0]
    width = lambda r: np.log(r["upper"] / r["lower"])  # noqa: E731
    assert width(post) < 0.1 * width(pri)
    assert pri["lower"] < post["median"] < pri["upper"]
    fig, ax = plots.plot_breaks(addition_fit, prior=p)
    labels = ax.get_legend_handles_labels()[1]
    assert "break 1: prior" in labels
    assert len([s for s in ax.patches if isinstance(s, StepPatch)]) == 3  # fill + outline, and the prior
    with pytest.raises(ValueError, match="not of this fit's data"):
        plots.plot_breaks(addition_fit, prior=bnsl_bayes.prior(x[:-1], y[:-1], breaks=1, draws=100))
    fig, ax = plots.plot_forecast(p)
    assert ax.get_title() == "bnsl-1: prior predictive"


def test_cli_prior_writes_a_file_the_queries_read(window, tmp_path):
    x, y = window
    data = tmp_path / "curve.csv"
    pd.DataFrame({"n": x, "loss": y}).to_csv(data, index=False)
    out = tmp_path / "prior.nc"
    result = run("prior", data, "--x", "n", "--y", "loss", "--breaks", "2", "--draws", "2000", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "prior of bnsl-2 on the window of 14 points" in result.stdout and result.stderr == ""
    assert load(out).break_positions()["prob_beyond_data"].tolist() == pytest.approx([0.25, 0.75], abs=0.04)
    forecast = run("forecast", out, "--at", "1000")
    assert forecast.returncode == 0 and "bnsl-2 prior predictive of loss" in forecast.stdout
    breaks = run("breaks", out)
    assert breaks.returncode == 0 and "bnsl-2 prior break positions in n" in breaks.stdout
    assert_one_line_error(run("prior", data, "--x", "n", "--y", "loss", "--breaks", "auto", "--out", out),
                          "not --breaks auto")
    assert_one_line_error(run("prior", data, "--x", "n", "--y", "nope", "--out", out), "nope")
