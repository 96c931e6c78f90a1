"""The scaling-law form: log-space evaluation against the paper's formula."""

import numpy as np
import pytest

from bnsl_bayes import datasets
from bnsl_bayes.forms import bnsl, bnsl_plain, log_curve, log_excess


def test_zero_breaks_is_a_power_law_plus_limit():
    x = np.geomspace(1, 1e12, 50)
    np.testing.assert_allclose(bnsl(x, a=0.3, b=5.0, c0=0.4), 0.3 + 5.0 * x**-0.4, rtol=1e-12)


def test_log_space_matches_plain_formula_where_finite():
    p = datasets.figure1_params()
    x = np.logspace(-1, 26, 4000)
    with np.errstate(all="ignore"):
        plain = bnsl_plain(x, p["a"], p["b"], p["c0"], p["c"], p["d"], p["f"])
    finite = np.isfinite(plain)
    assert finite.mean() > 0.9
    got = bnsl(x, p["a"], p["b"], p["c0"], p["c"], p["d"], p["f"])
    np.testing.assert_allclose(got[finite], plain[finite], rtol=1e-10)


@pytest.mark.parametrize("f", [1e-3, 1e-8, 1e-12])
def test_finite_for_sharp_breaks_and_huge_x(f):
    x = np.logspace(0, 30, 3001)
    y = bnsl(x, a=0.1, b=2.0, c0=0.1, c=[3.0, -0.5], d=[1e5, 1e20], f=[f, 0.5])
    assert np.all(np.isfinite(y)) and np.all(y >= 0.1)
    # log(y - a) stays finite and resolvable where the plain product under/overflows to y == a exactly
    ex = log_excess(np.log(x), np.log(2.0), 0.1, np.array([3.0, -0.5]), np.log([1e5, 1e20]), np.array([f, 0.5]))
    assert np.all(np.isfinite(ex))
    with np.errstate(all="ignore"):
        plain = bnsl_plain(x, 0.1, 2.0, 0.1, [3.0, -0.5], [1e5, 1e20], [f, 0.5])
    assert np.any(plain - 0.1 == 0) or not np.all(np.isfinite(plain))


def test_sharp_break_limit_is_a_kink():
    # f -> 0: slope changes from -c0 to -(c0 + c1) exactly at d.
    lx = np.log(np.array([10.0, 100.0, 1000.0, 10000.0]))
    ly = log_excess(lx, 0.0, 0.5, np.array([1.5]), np.array([np.log(100.0)]), np.array([1e-9]))
    slopes = np.diff(ly) / np.diff(lx)
    np.testing.assert_allclose(slopes, [-0.5, -2.0, -2.0], atol=1e-6)


def test_pytensor_evaluation_matches_numpy():
    pt = pytest.importorskip("pytensor.tensor")
    lx = np.linspace(0, 20, 30)
    args = (np.log(0.2), np.log(3.0), 0.3, np.array([0.7, -0.2]), np.array([5.0, 12.0]), np.array([0.3, 1.1]))
    sym = log_curve(pt.as_tensor_variable(lx), *[pt.as_tensor_variable(a) for a in args]).eval()
    np.testing.assert_allclose(sym, log_curve(lx, *args), rtol=1e-12)


def test_mismatched_break_parameters_rejected():
    with pytest.raises(ValueError, match="one entry per break"):
        bnsl([1.0, 2.0], 0.1, 1.0, 0.5, c=[1.0], d=[1.0, 2.0], f=[0.1])


def test_python_numbers_stay_numpy_and_a_negative_limit_is_refused_before_any_log():
    # ints and floats (not only arrays) are evaluated by NumPy, never turned into PyTensor graphs
    out = log_curve(2, 0, 1, 1)
    assert isinstance(out, (np.ndarray, np.generic, float)) and out == pytest.approx(np.logaddexp(0, 1 - 2))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "invalid value in log" on the way to the error
        with pytest.raises(ValueError, match="a must be >= 0"):
            bnsl([1.0, 2.0], a=-0.1, b=1.0, c0=0.5)


def test_bnsl_refuses_negative_scales_and_takes_zeros_without_warnings():
    import warnings

    p = dict(a=0.1, b=2.0, c0=0.3, c=[0.2], d=[10.0], f=[0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "divide by zero" or "invalid value" on the way
        for key, value, match in [("b", -1.0, "b must be >= 0"), ("d", [-10.0], "break position d must be >= 0"),
                                  ("f", [0.0], "sharpness f must be > 0"), ("f", [-0.5], "sharpness f must be > 0")]:
            with pytest.raises(ValueError, match=match):
                bnsl([1.0, 100.0], **{**p, key: value})
        x = np.array([1.0, 100.0])
        # b = 0: no power-law term, the curve is its limit; d = 0 with c > 0: the break's factor
        # (1 + (x/d)^(1/f))^(-c f) is 0, so again the limit
        np.testing.assert_allclose(bnsl(x, **{**p, "b": 0.0}), 0.1)
        np.testing.assert_allclose(bnsl(x, **{**p, "d": [0.0]}), 0.1)
        np.testing.assert_allclose(bnsl(x, **{**p, "a": 0.0}), bnsl(x, **p) - 0.1)
