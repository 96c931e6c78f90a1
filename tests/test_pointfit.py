"""The classical BNSL point fit: recovery, the paper's two reference cases, input checks."""

import numpy as np
import pytest

from bnsl_bayes import datasets
from bnsl_bayes.forms import bnsl
from bnsl_bayes.metrics import rmsle
from bnsl_bayes.pointfit import default_grid, point_fit


def test_four_digit_addition_reproduces_paper_rmsle():
    df = datasets.four_digit_addition()
    fit, held = df[df["role"] == "fit"], df[df["role"] == "extrapolate"]
    pf = point_fit(fit["x"], fit["y"])
    assert rmsle(held["y"], pf.predict(held["x"])) == pytest.approx(0.0109, abs=5e-4)
    assert pf.loss < pf.grid_loss  # the local fit improved on the grid point
    assert set(pf.params) == {"a", "b", "c0", "c1", "d1", "f1"}
    assert pf.seconds > 0 and pf.grid_size == 11 * 13 * 9 * 10 * 16 * 7
    assert pf.as_tuple()[0] == pf.params["a"]


def test_noiseless_simulation_390_fits_but_extrapolates_badly():
    """Fit on x <= 390: near-perfect in sample, wrong past the break (the paper's failure case)."""
    sim = datasets.noiseless_simulation()
    curve = datasets.noiseless_simulation_curve()
    train = curve[curve["x"] <= sim["failure_split_point"]]
    test = curve[curve["x"] > sim["failure_split_point"]]
    pf = point_fit(train["x"], train["y"])
    assert rmsle(train["y"], pf.predict(train["x"])) < 1e-6
    assert rmsle(test["y"], pf.predict(test["x"])) > 0.1  # published: 0.215


def test_recovers_known_curve_on_log_scale_x():
    # x spanning 1e6..1e9 (benchmark-like): b and d must be converted back to plain units correctly
    x = np.geomspace(1e6, 1e9, 20)
    truth = dict(a=0.05, b=30.0, c0=0.15, c=[0.5], d=[3e7], f=[0.4])
    y = bnsl(x, **truth)
    pf = point_fit(x, y)
    x_far = np.geomspace(1e9, 3e9, 5)
    np.testing.assert_allclose(pf.predict(x), y, rtol=1e-4)
    assert rmsle(bnsl(x_far, **truth), pf.predict(x_far)) < 0.02


def test_zero_breaks_is_a_power_law_fit():
    x = np.geomspace(10, 1e4, 15)
    y = bnsl(x, a=0.2, b=5.0, c0=0.3)
    pf = point_fit(x, y, breaks=0)
    assert set(pf.params) == {"a", "b", "c0"}
    assert pf.params["c0"] == pytest.approx(0.3, rel=1e-3)
    assert pf.params["b"] == pytest.approx(5.0, rel=1e-3)


def test_custom_grid_and_n_starts():
    df = datasets.four_digit_addition()
    fit = df[df["role"] == "fit"]
    g = {"c": [0.0, 2.0, 6.0], "f": [0.05, 0.5]}
    one = point_fit(fit["x"], fit["y"], grid=g)
    several = point_fit(fit["x"], fit["y"], grid=g, n_starts=4)
    assert one.grid_size == 11 * 13 * 9 * 3 * 16 * 2
    assert several.loss <= one.loss + 1e-15


def test_default_grid_spans_data():
    x = np.array([160.0, 400.0, 736.0])
    g = default_grid(x, np.array([2.1, 2.0, 0.97]))
    assert g["d"].min() < x.min() and g["d"].max() > x.max()
    assert g["a"].max() < 0.97 and g["a"].min() == 0.0
    assert g["b_reference_x"] == 160.0


@pytest.mark.parametrize(
    "x, y, message",
    [
        ([1.0, 2.0, 3.0], [1.0, 2.0], "equal lengths"),
        ([1.0, np.nan, 3.0], [1.0, 2.0, 3.0], "x has non-finite"),
        ([1.0, 2.0, 3.0], [1.0, np.inf, 3.0], "y has non-finite"),
        ([0.0, 2.0, 3.0], [1.0, 2.0, 3.0], "x must be > 0"),
        ([1.0, 2.0, 3.0], [1.0, -2.0, 3.0], "y must be > 0"),
        ([1.0], [1.0], "at least 2"),
    ],
)
def test_input_validation(x, y, message):
    with pytest.raises(ValueError, match=message):
        point_fit(x, y)


def test_bad_grid_and_predict_input():
    x, y = np.array([1.0, 2.0, 4.0]), np.array([3.0, 2.0, 1.5])
    with pytest.raises(ValueError, match="unknown grid keys"):
        point_fit(x, y, grid={"bogus": [1.0]})
    with pytest.raises(ValueError, match="grid"):
        point_fit(x, y, grid="coarse")
    with pytest.raises(ValueError, match="> 0"):
        point_fit(x, y, grid={"d": [-1.0, 2.0]})
    pf = point_fit(x, y, breaks=0)
    with pytest.raises(ValueError, match="x_new"):
        pf.predict([1.0, -3.0])
