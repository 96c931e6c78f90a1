"""Scores for forecasts on held-out points, on plain NumPy arrays.

The conventions follow NSL-PFN's evaluation (Lee et al., ICML 2025), so numbers are comparable
with its tables:

- RMSLE of a point forecast (NSL-PFN scores the predictive median):
  sqrt(mean((log y_pred - log y_true)^2)).
- LL: the mean over held-out points of the log predictive density.
- MSCE: for each level L in {0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99}, the share of held-out points inside
  the central (equal-tailed) L interval, minus L, squared; averaged over levels. Interval ends count
  as inside.

Predictive draws are arrays of shape (n_draws, n_points): one row per posterior draw, one column per
held-out point. Quantiles of draws use NumPy's default (linear interpolation) method.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_LEVELS",
    "calibration_curve",
    "coverage",
    "mean_and_se",
    "mean_log_density",
    "msce",
    "rmsle",
]

#: Interval levels NSL-PFN averages over in MSCE.
DEFAULT_LEVELS: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


def _positive_1d(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array; got shape {np.shape(values)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has non-finite values at positions {np.flatnonzero(~np.isfinite(arr)).tolist()}")
    if not np.all(arr > 0):
        raise ValueError(f"{name} must be > 0 for a log score; positions {np.flatnonzero(arr <= 0).tolist()} are not")
    return arr


def _draws_and_truth(y_true, draws) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=float).reshape(-1)
    d = np.asarray(draws, dtype=float)
    if d.ndim == 1:
        d = d[:, None]
    if d.ndim != 2:
        raise ValueError(f"draws must have shape (n_draws, n_points); got {d.shape}")
    if d.shape[1] != y.size:
        raise ValueError(f"draws has {d.shape[1]} columns (points) but y_true has {y.size} values")
    if d.shape[0] < 2:
        raise ValueError("need at least 2 draws to form an interval")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(d))):
        raise ValueError("y_true and draws must be finite")
    return y, d


def _check_level(level: float) -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"interval level must be in (0, 1); got {level}")
    return level


def rmsle(y_true, y_pred) -> float:
    """Root mean squared difference of logs: sqrt(mean((log y_pred - log y_true)^2)).

    >>> rmsle([1.0, 1.0], [np.e, 1.0])  # one point off by exactly one unit of log
    0.7071067811865476
    """
    yt = _positive_1d(y_true, "y_true")
    yp = _positive_1d(y_pred, "y_pred")
    if yt.shape != yp.shape:
        raise ValueError(f"y_true has {yt.size} values but y_pred has {yp.size}")
    return float(np.sqrt(np.mean((np.log(yp) - np.log(yt)) ** 2)))


def mean_log_density(logpdf) -> float:
    """Mean of per-point log predictive densities (NSL-PFN's LL; higher is better).

    ``-inf`` entries (a point with zero predictive density) are allowed and give ``-inf``.

    >>> mean_log_density([-1.0, 0.5, 2.0])
    0.5
    """
    arr = np.asarray(logpdf, dtype=float).reshape(-1)
    if arr.size == 0:
        raise ValueError("logpdf is empty")
    if np.any(np.isnan(arr)) or np.any(arr == np.inf):
        raise ValueError("logpdf has NaN or +inf values")
    return float(np.mean(arr))


def coverage(y_true, draws, level: float = 0.9) -> float:
    """Share of points inside the central equal-tailed ``level`` interval of their draws.

    The interval for each point is [q((1 - level) / 2), q((1 + level) / 2)] of that point's draws;
    a value on an end counts as inside.

    >>> draws = np.array([[0.0, 10.0], [1.0, 11.0], [2.0, 12.0]])  # 3 draws, 2 points
    >>> coverage([1.0, 20.0], draws, level=0.5)  # intervals [0.5, 1.5] and [10.5, 11.5]
    0.5
    """
    y, d = _draws_and_truth(y_true, draws)
    level = _check_level(level)
    lo, hi = np.quantile(d, [(1.0 - level) / 2.0, (1.0 + level) / 2.0], axis=0)
    return float(np.mean((y >= lo) & (y <= hi)))


def calibration_curve(y_true, draws, levels=DEFAULT_LEVELS) -> pd.DataFrame:
    """Observed coverage of the central interval at each nominal level: columns ``level``, ``observed``.

    >>> draws = np.array([[0.0], [1.0], [2.0]])
    >>> calibration_curve([1.9], draws, levels=(0.5, 0.95))["observed"].tolist()
    [0.0, 1.0]
    """
    y, d = _draws_and_truth(y_true, draws)
    levels = [_check_level(v) for v in levels]
    if not levels:
        raise ValueError("levels is empty")
    observed = [coverage(y, d, lv) for lv in levels]
    return pd.DataFrame({"level": levels, "observed": observed})


def msce(y_true, draws, levels=DEFAULT_LEVELS) -> float:
    """Mean squared calibration error: mean over levels of (observed coverage - level)^2.

    >>> draws = np.array([[0.0], [1.0], [2.0]])
    >>> round(msce([1.0], draws, levels=(0.5, 0.9)), 12)  # covered at both: ((1-.5)^2 + (1-.9)^2) / 2
    0.13
    """
    cal = calibration_curve(y_true, draws, levels)
    return float(np.mean((cal["observed"] - cal["level"]) ** 2))


def mean_and_se(values) -> tuple[float, float]:
    """Mean and its standard error, std(ddof=1) / sqrt(n); the error is NaN for a single value.

    >>> mean_and_se([1.0, 2.0, 3.0])
    (2.0, 0.5773502691896258)
    """
    arr = np.asarray(values, dtype=float).reshape(-1)
    if arr.size == 0:
        raise ValueError("values is empty")
    if np.any(np.isnan(arr)):
        raise ValueError("values has NaN entries")
    if arr.size == 1:
        return float(arr[0]), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1) / np.sqrt(arr.size))
