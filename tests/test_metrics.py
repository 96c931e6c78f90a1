"""Forecast scores checked against small cases worked out by hand."""

import math

import numpy as np
import pytest

from bnsl_bayes import metrics


def test_rmsle_by_hand():
    # log-errors: log(2) and 0 -> sqrt(log(2)^2 / 2)
    assert metrics.rmsle([1.0, 3.0], [2.0, 3.0]) == pytest.approx(math.log(2) / math.sqrt(2))
    assert metrics.rmsle([5.0], [5.0]) == 0.0
    # symmetric in the ratio: over- and under-prediction by the same factor score alike
    assert metrics.rmsle([1.0], [4.0]) == pytest.approx(metrics.rmsle([4.0], [1.0]))


def test_rmsle_rejects_bad_input():
    with pytest.raises(ValueError, match="> 0"):
        metrics.rmsle([1.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="non-finite"):
        metrics.rmsle([1.0, np.nan], [1.0, 1.0])
    with pytest.raises(ValueError, match="values"):
        metrics.rmsle([1.0, 2.0], [1.0])


def test_mean_log_density():
    assert metrics.mean_log_density([-2.0, 0.0, 5.0]) == 1.0
    assert metrics.mean_log_density([0.0, -np.inf]) == -np.inf
    with pytest.raises(ValueError):
        metrics.mean_log_density([0.0, np.nan])
    with pytest.raises(ValueError):
        metrics.mean_log_density([])


def test_coverage_hand_case():
    # 5 draws per point: 0..4 and 10..14. Central 50% interval with linear quantiles: [1, 3] and [11, 13].
    draws = np.array([[0, 10], [1, 11], [2, 12], [3, 13], [4, 14]], dtype=float)
    assert metrics.coverage([2.0, 12.0], draws, 0.5) == 1.0
    assert metrics.coverage([1.0, 13.0], draws, 0.5) == 1.0  # ends count as inside
    assert metrics.coverage([0.5, 12.0], draws, 0.5) == 0.5
    assert metrics.coverage([0.5, 14.5], draws, 0.5) == 0.0
    # 90% interval: [0.2, 3.8]
    assert metrics.coverage([0.3, 13.9], draws, 0.9) == 0.5


def test_calibration_curve_and_msce_by_hand():
    draws = np.array([[0, 10], [1, 11], [2, 12], [3, 13], [4, 14]], dtype=float)
    y = [2.0, 13.5]  # point 1 always inside; point 2 inside only from the 80% level ([10.4, 13.6]) up
    cal = metrics.calibration_curve(y, draws, levels=(0.5, 0.8))
    assert list(cal.columns) == ["level", "observed"]
    assert cal["observed"].tolist() == [0.5, 1.0]
    # ((0.5 - 0.5)^2 + (1.0 - 0.8)^2) / 2 = 0.02
    assert metrics.msce(y, draws, levels=(0.5, 0.8)) == pytest.approx(0.02)


def test_msce_default_levels_perfect_truth_at_median():
    draws = np.arange(101, dtype=float)[:, None]
    # truth at the median is inside every interval: mean of (1 - L)^2 over the 7 default levels
    expected = np.mean([(1 - lv) ** 2 for lv in (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)])
    assert metrics.msce([50.0], draws) == pytest.approx(expected)
    assert metrics.DEFAULT_LEVELS == (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


def test_msce_is_small_for_calibrated_draws():
    rng = np.random.default_rng(0)
    n_points = 2000
    draws = rng.normal(size=(1000, n_points))
    y = rng.normal(size=n_points)  # truth from the same distribution as the draws
    assert metrics.msce(y, draws) < 2e-4
    assert metrics.coverage(y, draws, 0.9) == pytest.approx(0.9, abs=0.02)
    # draws half as wide as the truth's spread: intervals too narrow, MSCE far larger
    assert metrics.msce(y, 0.5 * draws) > 0.05


def test_draw_shape_checks():
    with pytest.raises(ValueError, match="columns"):
        metrics.coverage([1.0, 2.0], np.zeros((10, 3)))
    with pytest.raises(ValueError, match="level"):
        metrics.coverage([1.0], np.zeros((10, 1)), level=1.0)
    with pytest.raises(ValueError, match="2 draws"):
        metrics.coverage([1.0], np.zeros((1, 1)))


def test_mean_and_se():
    mean, se = metrics.mean_and_se([2.0, 4.0, 6.0, 8.0])
    assert mean == 5.0
    # sample sd = sqrt(20/3); se = sd / 2
    assert se == pytest.approx(math.sqrt(20 / 3) / 2)
    m1, se1 = metrics.mean_and_se([3.0])
    assert m1 == 3.0 and math.isnan(se1)
    with pytest.raises(ValueError):
        metrics.mean_and_se([1.0, np.nan])
