"""Figures check their content (scales, bands, labels, legend), not only that a file appears."""

from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.patches import StepPatch

import bnsl_bayes
from bnsl_bayes import plots


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def bands(ax):
    """The fill_between bands (axvspan draws a Rectangle/Polygon patch, not a PolyCollection)."""
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def test_forecast_plot_content(addition_fit, addition_data, tmp_path):
    _, held = addition_data
    fig, ax = plots.plot_forecast(addition_fit, heldout=(held["x"], held["y"]))
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_xlabel() == "training set size" and ax.get_ylabel() == "test cross-entropy"
    assert len(bands(ax)) == 2
    assert legend_texts(ax) == ["90% interval", "50% interval", "posterior median", "extrapolation",
                                "fitted data", "held out"]
    # The x range covers the data and the held-out points; the extrapolation region starts at the last fitted x.
    lo, hi = ax.get_xlim()
    assert lo <= addition_fit.x.min() and hi >= held["x"].max()
    spans = [p for p in ax.patches if p.get_label() == "extrapolation"]
    assert len(spans) == 1
    assert np.isclose(spans[0].get_extents().x0, ax.transData.transform((addition_fit.x.max(), 1))[0], atol=1)
    # The median line lies inside the 90% band everywhere.
    line = ax.get_lines()[0]
    band90 = bands(ax)[0].get_paths()[0].vertices
    assert line.get_label() == "posterior median"
    assert np.all(line.get_ydata() > 0) and band90[:, 1].min() <= line.get_ydata().min()
    fig.savefig(tmp_path / "forecast.png")
    assert (tmp_path / "forecast.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_forecast_plot_options(addition_fit):
    fig, ax = plots.plot_forecast(addition_fit, x_max=5e3, prob=0.8, kind="curve")
    assert len(bands(ax)) == 1
    assert "held out" not in legend_texts(ax) and "80% interval" in legend_texts(ax)
    assert ax.get_xlim()[1] == pytest.approx(5e3)
    assert "curve" in ax.get_title()
    with pytest.raises(ValueError, match="x_max"):
        plots.plot_forecast(addition_fit, x_max=1.0)


def test_forecast_and_reach_plots_of_a_model_average(addition_fit):
    """Several fits: the median line is averaged_forecast's median with the same weights, and the
    title names the mixture. (A 20%-lower copy of the real fit stands in for a second model.)"""
    lower = addition_fit.idata.copy()
    lower.posterior["log_b"] = lower.posterior["log_b"] - 0.2
    fits = {"base": addition_fit, "lower": bnsl_bayes.Fit(lower)}
    weights = {"base": 0.25, "lower": 0.75}
    _, ax = plots.plot_forecast(fits, weights=weights, n_grid=20)
    line = ax.get_lines()[0]
    want = bnsl_bayes.averaged_forecast(fits, line.get_xdata(), prob=0.5, weights=weights)
    np.testing.assert_allclose(line.get_ydata(), want["median"])
    assert not np.allclose(line.get_ydata(), addition_fit.forecast(line.get_xdata())["median"], rtol=1e-3)
    assert ax.get_title() == "average of lower (0.75), base (0.25): posterior predictive"
    with pytest.raises(ValueError, match="weights mix several fits"):
        plots.plot_forecast(addition_fit, weights=weights)
    # plot_reach of the average: its title reports averaged_reach's P(reached), its dashed line the median
    want = bnsl_bayes.averaged_reach(fits, 0.5, weights=weights)
    _, ax = plots.plot_reach(fits, 0.5, weights=weights)
    assert ax.get_title().startswith("average of lower (0.75), base (0.25): when does")
    assert f"= {want['prob_reached']:.2f}" in ax.get_title()
    assert want["prob_reached"] != addition_fit.reach(0.5)["prob_reached"]
    (median,) = [line for line in ax.get_lines() if line.get_label().startswith("median")]
    assert median.get_xdata()[0] == pytest.approx(want["median"])


def test_forecast_plot_on_given_axes_and_loaded_fit(addition_fit_path):
    fit = bnsl_bayes.load(addition_fit_path)
    fig, (left, right) = plt.subplots(1, 2)
    out_fig, out_ax = plots.plot_forecast(fit, ax=right, logy=False)
    assert out_fig is fig and out_ax is right and not left.has_data()
    assert right.get_yscale() == "linear" and right.get_xlabel() == "training set size"


def test_break_plot(addition_fit):
    fig, ax = plots.plot_breaks(addition_fit)
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "break position (training set size)"
    texts = legend_texts(ax)
    assert texts[:2] == ["data window", "fitted x"] and texts[2].startswith("break 1: ")
    # One filled histogram and its outline per break; all its mass sits where break_positions says.
    steps = [p for p in ax.patches if isinstance(p, StepPatch)]
    assert len(steps) == 2
    med = addition_fit.break_positions()["median"].iloc[0]
    edges = steps[0].get_data().edges
    assert edges[0] < med < edges[-1]


def test_break_plot_needs_breaks():
    no_breaks = SimpleNamespace(breaks=0, spec=SimpleNamespace(name="bnsl-0"))
    with pytest.raises(ValueError, match="no breaks"):
        plots.plot_breaks(no_breaks)


def test_reach_plot(addition_fit):
    target = 0.5
    fig, ax = plots.plot_reach(addition_fit, target)
    summary = addition_fit.reach(target)
    assert ax.get_xscale() == "log"
    assert f"= {summary['prob_reached']:.2f}" in ax.get_title() and "P(reached" in ax.get_title()
    assert any(t.startswith("median ") for t in legend_texts(ax))
    steps = [p for p in ax.patches if isinstance(p, StepPatch)]
    assert steps and steps[0].get_data().edges[0] > addition_fit.x.max()  # 0.5 lies beyond the data


def test_reach_plot_unreachable_target(addition_fit):
    fig, ax = plots.plot_reach(addition_fit, 1e-6, x_max=1e4)
    assert "= 0.00" in ax.get_title()
    assert any("no posterior draw" in t.get_text() for t in ax.texts)
    with pytest.raises(ValueError, match="plot_reach draws one target; got 2"):
        plots.plot_reach(addition_fit, [0.6, 0.5])
    with pytest.raises(ValueError, match="prob must be a number strictly between 0 and 1"):
        addition_fit.summary(prob=1.5)


def test_diagnostics_plot(addition_fit):
    axes = plots.plot_diagnostics(addition_fit)
    titles = [ax.get_title() for ax in axes[:, 0]]
    assert {"c0", "c", "delta", "f", "sigma"} <= set(titles)
    assert axes.shape == (len(titles), 2)
    axes = plots.plot_diagnostics(addition_fit, kind="trace", var_names=["c0"])
    assert axes.shape == (1, 2)
    with pytest.raises(ValueError, match="kind"):
        plots.plot_diagnostics(addition_fit, kind="pair")


@pytest.mark.parametrize("lo, hi, least", [(0.86, 1.02, 3), (0.3, 2.0, 3), (100.0, 1000.0, 2)])
def test_log_axes_carry_readable_labels(lo, hi, least):
    """Plain-number tick labels on everyday log ranges, and enough of them to read a value off: a
    loss between 0.86 and 1.02 once showed only "1"."""
    fig, ax = plt.subplots()
    ax.plot([lo, hi], [lo, hi])
    ax.set_yscale("log")
    ax.set_ylim(lo, hi)
    plots._readable_log_ticks(ax)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() + ax.get_yticklabels(minor=True)
              if t.get_text() and lo <= t.get_position()[1] <= hi]
    assert len(labels) >= least, labels
    assert not any("10^" in t or "times" in t for t in labels), labels
