"""Which run to make next (`Fit.run_value`): refits with a possible reading added, and what they show."""

import json

import numpy as np
import pandas as pd
import pytest

import bnsl_bayes
from bnsl_bayes.design import log_width
from bnsl_bayes.fit import refit
from bnsl_bayes.forms import bnsl
from bnsl_bayes.simulate import simulated_curves


def test_refit_on_the_same_data_is_the_same_fit(addition_fit):
    again = refit(addition_fit, addition_fit.x, addition_fit.y)
    np.testing.assert_array_equal(again.posterior["c0"].values, addition_fit.posterior["c0"].values)
    assert (again.spec, again.seed, again.x_name) == (addition_fit.spec, addition_fit.seed, addition_fit.x_name)
    assert again.posterior.attrs["sampler"] == addition_fit.posterior.attrs["sampler"]


def test_run_value_table(addition_fit):
    table = addition_fit.run_value([900.0], [1000.0, 2000.0], readings=2)
    assert list(table.columns) == ["x_run", "x_target", "width_now", "width_after", "narrowing", "width_after_min",
                                   "width_after_max", "r_hat_max", "readings"]
    assert table[["x_run", "x_target"]].values.tolist() == [[900.0, 1000.0], [900.0, 2000.0]]
    np.testing.assert_allclose(table.width_now, log_width(addition_fit.forecast([1000.0, 2000.0], kind="curve")))
    np.testing.assert_allclose(table.narrowing, 1 - table.width_after / table.width_now)
    assert (table.width_after_min <= table.width_after).all() and (table.width_after <= table.width_after_max).all()


@pytest.mark.parametrize("kwargs, needle", [
    ({"x_run": [-1.0]}, "column 'x_run': -1.0 at row 0 must be > 0"),
    ({"x_target": []}, "x_target is empty"),
    ({"readings": 0}, "readings must be an integer >= 1, got 0"),
    ({"y_err": [0.1, 0.2]}, "give one standard error for the run"),
    ({"y_err": -0.1}, "column 'y_err': -0.1 at row 0 must be >= 0"),
    ({"prob": 1.5}, "prob must be a number strictly between 0 and 1"),
])
def test_bad_input_is_named_before_any_refit(addition_fit, kwargs, needle):
    args = {"x_run": [900.0], "x_target": [2000.0]} | kwargs
    with pytest.raises(ValueError) as e:
        addition_fit.run_value(**args)
    assert needle in str(e.value)


def test_a_prior_sample_has_no_fit_to_repeat(addition_data):
    train, _ = addition_data
    p = bnsl_bayes.prior(train.x, train.y, breaks=1, draws=200)
    with pytest.raises(ValueError, match="a prior sample was not fitted"):
        p.run_value([900.0], [2000.0], readings=1)


@pytest.mark.slow
def test_runs_past_the_data_teach_more_about_the_far_curve():
    """A simulated 1-break curve (`simulated_curves(3, seed=3)[0]`, break at 3928) fitted on its first
    12 points (x <= 3791, 2% noise); the target is x = 2e5, 53x past the data, where the 90% band of
    the curve spans 5.3 e-folds. Measured (2026-12-03, 5 readings per run): a run inside the data
    (x = 522) narrowed it by 0.03 (MCMC noise: its readings' widths ran 4.5-5.9), a run at 1.0e4 by
    0.43, at 2.8e4 by 0.67; a run at 2.8e4 measured with a 20% error by 0.56. A true reading at
    2.8e4, refitted, left a band of 2.25 e-folds, inside the readings' range (1.29-2.58)."""
    c = simulated_curves(3, seed=3)[0]
    x_all = np.concatenate([c.x, c.x_heldout])
    fit = bnsl_bayes.fit(c.x[:12], c.y[:12], seed=0, warn=False)
    table = fit.run_value(x_all[[5, 14, 17]], [2e5])
    inside, near, far = table.narrowing
    assert abs(inside) < 0.15, table
    assert far > near > inside + 0.25, table
    noisy = fit.run_value([x_all[17]], [2e5], y_err=lambda y: 0.2 * y)
    assert noisy.narrowing[0] < far, (noisy, table)
    y_true = bnsl(x_all[17], **c.params) * np.exp(np.random.default_rng(0).normal(0, 0.02))
    after = bnsl_bayes.fit(np.append(c.x[:12], x_all[17]), np.append(c.y[:12], y_true), seed=0, warn=False)
    width = log_width(after.forecast([2e5], kind="curve"))[0]
    assert table.width_after_min[2] <= width <= table.width_after_max[2], (width, table)
    # reproducible: the same refits give the same row
    pd.testing.assert_frame_equal(table.iloc[[2]].reset_index(drop=True), fit.run_value([x_all[17]], [2e5]))


def test_cli_run_value(addition_fit, addition_fit_path, capsys):
    import json

    from bnsl_bayes import cli

    assert cli.main(["run-value", str(addition_fit_path), "--runs", "900", "--at", "2000", "--readings", "2",
                     "--y-err", "0.01", "--json"]) == 0
    got = pd.DataFrame(json.loads(capsys.readouterr().out))
    pd.testing.assert_frame_equal(got, addition_fit.run_value([900.0], [2000.0], readings=2, y_err=0.01))
    assert cli.main(["run-value", str(addition_fit_path), "--runs", "900", "--at", "2000", "--readings", "1",
                     "--test-examples", "500"]) == 0
    assert "as read off 500 test examples, each refitted" in capsys.readouterr().out
    assert cli.main(["run-value", str(addition_fit_path), "--runs", "0", "--at", "2000"]) == 2
    assert "column '--runs': 0.0 at row 0 must be > 0" in capsys.readouterr().err


def test_plot_run_value_draws_now_and_after_per_target(addition_fit):
    import matplotlib.pyplot as plt

    from bnsl_bayes import plots

    table = pd.DataFrame({"x_run": [800.0, 1000.0, 800.0, 1000.0], "x_target": [2e3, 2e3, 5e3, 5e3],
                          "width_now": [0.7, 0.7, 0.8, 0.8], "width_after": [0.3, 0.1, 0.4, 0.2],
                          "narrowing": [0.57, 0.86, 0.5, 0.75], "width_after_min": [0.2, 0.05, 0.3, 0.1],
                          "width_after_max": [0.5, 0.2, 0.6, 0.3], "r_hat_max": [1.0] * 4})
    fig, ax = plots.plot_run_value(table, fit=addition_fit)
    labels = ax.get_legend_handles_labels()[1]
    assert "now (target x = 2000)" in labels and "after a run at x (target x = 5000)" in labels
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert sorted(ln.get_ydata()[0] for ln in dashed) == [0.7, 0.8]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "training set size of the run"
    plt.close(fig)


def test_each_reading_is_refitted_with_the_point_and_its_error(addition_fit, monkeypatch):
    """The plumbing, with sampling replaced by a copy of the fit itself: the point goes in at x_run
    with the readings spread over the predictive there (its quantiles at (k + 0.5) / 3 for 3
    readings), the run's error beside the old points' (none, or 0 when only the new one has an
    error), and the fit's own spec, seed and sampler settings."""
    from bnsl_bayes import many

    calls = []

    def fake_fit(x, y, y_err=None, **kw):
        calls.append((x.to_numpy(), y.to_numpy(), None if y_err is None else y_err.to_numpy(), kw))
        return bnsl_bayes.Fit(addition_fit.idata.copy())

    monkeypatch.setattr(many, "fit", fake_fit)
    table = addition_fit.run_value([900.0], [2000.0], readings=3)
    assert table.readings.tolist() == [3]
    predictive = addition_fit.draws([900.0]).values.ravel()
    sampler = json.loads(addition_fit.posterior.attrs["sampler"])
    for (x, y, errs, kw), q in zip(calls, (1 / 6, 0.5, 5 / 6)):
        np.testing.assert_array_equal(x, np.append(addition_fit.x, 900.0))
        np.testing.assert_array_equal(y[:-1], addition_fit.y)
        assert y[-1] == pytest.approx(np.quantile(predictive, q)) and errs is None
        assert kw == {"spec": addition_fit.spec, "seed": addition_fit.seed, "warn": False, "stack_chains": False,
                      **sampler}
    calls.clear()
    addition_fit.run_value([900.0], [2000.0], readings=1, y_err=lambda y: 0.1 * y)
    (x, y, errs, kw), = calls
    np.testing.assert_allclose(errs, np.append(np.zeros(len(addition_fit.x)), 0.1 * y[-1]))


def test_a_failed_refit_is_named_and_left_out(addition_fit, monkeypatch):
    from bnsl_bayes import many

    seen = []

    def flaky_fit(x, y, **kw):
        seen.append(1)
        if len(seen) == 2:
            raise RuntimeError("sampler crashed")
        return bnsl_bayes.Fit(addition_fit.idata.copy())

    monkeypatch.setattr(many, "fit", flaky_fit)
    with pytest.warns(RuntimeWarning, match=r"refit at x_run = 900 with the reading .* failed \(RuntimeError: "
                                            r"sampler crashed\); that run's row averages the other readings"):
        table = addition_fit.run_value([900.0], [2000.0], readings=3)
    assert table.readings.tolist() == [2]


@pytest.mark.slow
def test_refits_in_worker_processes_give_the_same_table(addition_fit):
    here = addition_fit.run_value([900.0, 1200.0], [2000.0], readings=2)
    pd.testing.assert_frame_equal(addition_fit.run_value([900.0, 1200.0], [2000.0], readings=2, workers=2), here)
