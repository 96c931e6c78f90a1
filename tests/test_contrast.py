"""bnsl_bayes.contrast and crossover: the API on independent prior draws of two curves (no sampling;
their scientific claims are in test_science.py, with real NUTS fits)."""

import numpy as np
import pandas as pd
import pytest

import bnsl_bayes
from bnsl_bayes.contrast import crossing_of


@pytest.fixture(scope="module")
def two_curves():
    x = np.geomspace(1e6, 1e9, 10)
    a = bnsl_bayes.prior(x, 3.0 * x**-0.1, breaks=1, seed=1, draws=1000)
    b = bnsl_bayes.prior(x, 5.0 * x**-0.12, breaks=1, seed=2, draws=600)
    return a, b


def test_contrast_table(two_curves):
    a, b = two_curves
    t = bnsl_bayes.contrast(a, b, [1e9, 1e10], prob=0.8)
    assert list(t.columns) == ["x", "prob_a_lower", "ratio_median", "ratio_lower", "ratio_upper"]
    assert (t.ratio_lower <= t.ratio_median).all() and (t.ratio_median <= t.ratio_upper).all()
    # The probability is that of the paired log ratio being negative, the ratio's median on its side.
    assert ((t.prob_a_lower > 0.5) == (t.ratio_median < 1)).all()
    swapped = bnsl_bayes.contrast(b, a, [1e9, 1e10], prob=0.8)
    np.testing.assert_allclose(swapped.ratio_median, 1 / t.ratio_median, rtol=1e-6)
    np.testing.assert_allclose(swapped.prob_a_lower, 1 - t.prob_a_lower)
    pd.testing.assert_frame_equal(t, bnsl_bayes.contrast(a, b, [1e9, 1e10], prob=0.8))  # reproducible


def test_crossover_is_symmetric_and_refuses_one_curve_twice(two_curves):
    a, b = two_curves
    ab, ba = bnsl_bayes.crossover(a, b), bnsl_bayes.crossover(b, a)
    assert ab["median"] == ba["median"] and ab["prob_crossed"] == ba["prob_crossed"]
    assert ab["prob_a_lower_at_start"] == pytest.approx(1 - ba["prob_a_lower_at_start"])
    assert ab["x_from"] == 1e6 and ab["x_max"] == pytest.approx(1e12)
    with pytest.raises(ValueError, match="same data"):
        bnsl_bayes.crossover(a, a)
    with pytest.raises(ValueError, match="x_max"):
        bnsl_bayes.crossover(a, b, x_max=1e5)


def test_crossing_of_finds_the_first_flip_either_way():
    grid = np.geomspace(1, 1e4, 401)
    lg = np.log(grid)
    rows = np.stack([np.log(100) - lg,        # A above B until x = 100, then below
                     lg - np.log(1000),       # A below until 1000, then above
                     np.full_like(lg, 0.3)])  # never cross
    xs = crossing_of(rows, grid)
    np.testing.assert_allclose(xs[:2], [100, 1000], rtol=1e-9)
    assert xs[2] == np.inf


def test_cli_contrast(two_curves, tmp_path):
    import json

    from test_cli import assert_one_line_error, run

    a, b = two_curves
    a.save(tmp_path / "a.nc")
    b.save(tmp_path / "b.nc")
    result = run("contrast", tmp_path / "a.nc", tmp_path / "b.nc", "--at", "1e9", "1e10")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"A = {tmp_path / 'a.nc'} (bnsl-1, y vs x), B = ")
    assert "prob_a_lower" in lines[2] and len(lines) == 6 and lines[5].startswith("crossing: ")
    out = json.loads(run("contrast", tmp_path / "a.nc", tmp_path / "b.nc", "--json").stdout)
    expected = bnsl_bayes.crossover(a, b)
    assert out["contrast"] is None
    assert out["crossover"]["prob_crossed"] == pytest.approx(expected["prob_crossed"])
    assert_one_line_error(run("contrast", tmp_path / "a.nc", tmp_path / "a.nc"), "same data")


def test_crossover_plot_shows_both_curves_and_the_crossing(two_curves, tmp_path):
    from bnsl_bayes import plots

    from test_cli import run

    a, b = two_curves
    cross = bnsl_bayes.crossover(a, b)
    fig, ax = plots.plot_crossover(a, b, names=("small", "large"))
    labels = ax.get_legend_handles_labels()[1]
    assert labels[:2] == ["small: bnsl-1", "large: bnsl-1"]
    assert ax.get_title().startswith(f"where they cross: {cross['median']:.3g}")
    assert ax.get_xlim()[1] >= 2 * 1e9 and ax.get_xscale() == "log"
    a.save(tmp_path / "a.nc")
    b.save(tmp_path / "b.nc")
    result = run("contrast", tmp_path / "a.nc", tmp_path / "b.nc", "--plot", tmp_path / "c.png")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "c.png").stat().st_size > 10_000 and result.stdout.endswith(f"wrote {tmp_path / 'c.png'}\n")


def test_sides_named_differently_are_compared_with_a_warning():
    x = np.geomspace(1e6, 1e9, 8)
    a = bnsl_bayes.prior(x, 3.0 * x**-0.1, breaks=0, draws=200, x_name="tokens", y_name="loss")
    b = bnsl_bayes.prior(x, 4.0 * x**-0.1, breaks=0, draws=200, x_name="flops", y_name="loss")
    with pytest.warns(UserWarning, match="A is loss vs tokens and B is loss vs flops"):
        bnsl_bayes.contrast(a, b, [1e10])
