"""Input validation: the one place where user data is checked.

Every problem raises ValueError naming the column and the first offending row, so a user
with a 500-row CSV knows where to look. Nothing is dropped or repaired silently.
"""

from __future__ import annotations

import numbers

import numpy as np


def row_label(values, i: int) -> str:
    index = values.index if hasattr(values, "iloc") else None  # pandas: report the label too
    if index is not None and not (isinstance(index[i], numbers.Integral) and index[i] == i):
        label = index[i].item() if hasattr(index[i], "item") else index[i]
        if index.name == "line":  # rows read from a file by the CLI: the label is the file line
            return f"row {i} (line {label})"
        return f"row {i} (index {label!r})"
    return f"row {i}"


def as_float_column(values, name: str) -> np.ndarray:
    """One column as a 1-D float array; non-numeric, NaN or infinite entries are errors."""
    if isinstance(values, (str, bytes)):
        raise ValueError(f"column {name!r}: expected a sequence of numbers, got a string")
    raw = values.to_numpy() if hasattr(values, "to_numpy") else values
    raw = np.asarray(raw, dtype=object) if not isinstance(raw, np.ndarray) else raw
    if raw.ndim != 1:
        raw = np.squeeze(raw)
        if raw.ndim != 1:
            raise ValueError(f"column {name!r}: expected one dimension, got shape {np.shape(values)}")
    out = np.empty(len(raw), dtype=float)
    for i, v in enumerate(raw):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Real, np.number)):
            hint = ""
            if isinstance(v, str):
                try:
                    float(v)
                    hint = " (a number stored as text: convert the column first, e.g. pd.to_numeric)"
                except ValueError:
                    pass
            raise ValueError(f"column {name!r}: non-numeric value {v!r} at {row_label(values, i)}{hint}")
        try:
            out[i] = float(v)
        except OverflowError:  # a Python int beyond float range (10**400)
            raise ValueError(f"column {name!r}: an integer of {len(str(abs(int(v))))} digits at "
                             f"{row_label(values, i)} is too large for a float (values must be finite)") from None
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"column {name!r}: {out[i]} at {row_label(values, i)} (values must be finite)")
    return out


def check_xy(x, y, x_name: str = "x", y_name: str = "y", min_distinct_x: int = 3):
    """Validate one curve and return (x, y) as float arrays, order kept.

    >>> check_xy([1, 2, 4], [3.0, 2.0, 1.5])[0]
    array([1., 2., 4.])
    """
    if x is None or y is None:
        raise ValueError(f"both {x_name!r} and {y_name!r} are required")
    xs = as_float_column(x, x_name)
    ys = as_float_column(y, y_name)
    if len(xs) != len(ys):
        raise ValueError(f"columns {x_name!r} and {y_name!r} have different lengths: {len(xs)} and {len(ys)}")
    check_paired(x, y, x_name, y_name)
    for arr, name, src in ((xs, x_name, x), (ys, y_name, y)):
        bad = np.flatnonzero(arr <= 0)
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"column {name!r}: {arr[i]} at {row_label(src, i)} must be > 0 (the model works on log scale)"
            )
    n_distinct = len(np.unique(xs))
    if n_distinct < min_distinct_x:
        raise ValueError(
            f"column {x_name!r}: {n_distinct} distinct value(s); at least {min_distinct_x} are needed to fit a curve"
        )
    return xs, ys


def check_paired(a, b, a_name: str, b_name: str) -> None:
    """Two columns of one curve given as pandas objects must share their index: pandas users expect
    pairing by label, we pair by position, so say so instead of guessing."""
    if hasattr(a, "iloc") and hasattr(b, "iloc") and not a.index.equals(b.index):
        raise ValueError(f"{a_name!r} and {b_name!r} are pandas objects with different indexes; values are "
                         f"paired by position, not by label: align them first (e.g. {b_name}.reindex({a_name}.index)) "
                         "or pass plain arrays (.to_numpy())")


def check_y_err(y_err, n: int, name: str = "y_err", of: str = "data points") -> np.ndarray:
    """Known standard errors of the measured y (one per point, same units as y, order kept): finite
    numbers >= 0, as many as there are points. 0 is allowed (an exact measurement: the model's own
    noise, at least its floor, still applies)."""
    errs = as_float_column(y_err, name)
    if len(errs) != n:
        raise ValueError(f"column {name!r} has {len(errs)} entries for {n} {of}: give one standard error per y")
    bad = np.flatnonzero(errs < 0)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"column {name!r}: {errs[i]} at {row_label(y_err, i)} must be >= 0 (a standard error)")
    return errs


def check_planned_y_err(y_err, n: int, name: str = "y_err"):
    """Standard errors of measurements not made yet at n new x (`Fit.forecast(..., y_err=)`): one
    number for all of them, one per x (checked as `check_y_err`'s, under the name 'y_err'), or a
    callable of y (checked on the values it returns, `forecast.planned_log_y_se`)."""
    if callable(y_err):
        return y_err
    if np.ndim(y_err) == 0 and not isinstance(y_err, (str, bytes)):
        return check_y_err([y_err], 1, name)[0] * np.ones(n)
    return check_y_err(y_err, n, name, of="x to forecast at")


def check_prob(prob: float) -> float:
    if not (isinstance(prob, numbers.Real) and 0 < prob < 1):
        raise ValueError(f"prob must be a number strictly between 0 and 1, got {prob!r}")
    return float(prob)


def check_targets(target) -> np.ndarray:
    """`reach` levels as a 1-d float array: one finite number > 0, or a non-empty sequence of them."""
    targets = np.atleast_1d(np.asarray(target, dtype=float))
    bad = ~(np.isfinite(targets) & (targets > 0))
    if targets.ndim != 1 or targets.size == 0 or bad.any():
        raise ValueError(f"target must be a finite number > 0 or a non-empty sequence of them, got {target!r}"
                         + (f" (first bad entry at position {int(np.argmax(bad))})" if bad.any() else ""))
    return targets


def check_x_new(x_new, name: str = "x_new") -> np.ndarray:
    if np.size(x_new) == 0:
        raise ValueError(f"{name} is empty: give at least one x to forecast at")
    xs = np.atleast_1d(as_float_column(np.atleast_1d(np.asarray(x_new, dtype=object)), name))
    bad = np.flatnonzero(xs <= 0)
    if bad.size:
        raise ValueError(f"column {name!r}: {xs[bad[0]]} at row {int(bad[0])} must be > 0")
    return xs


def check_group_columns(data, columns) -> None:
    """Every row of a long table must name its curve: pandas' groupby would drop a row with an empty
    group cell from every group without a word."""
    for c in columns:
        na = np.flatnonzero(data[c].isna().to_numpy())
        if na.size:
            raise ValueError(f"group column {c!r}: missing value at {row_label(data[c], int(na[0]))}")
