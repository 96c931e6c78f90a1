"""The Broken Neural Scaling Law, evaluated in log space.

    y = a + b * x**(-c0) * prod_i (1 + (x / d_i)**(1 / f_i))**(-c_i * f_i)

Written as log(y - a) = log b - c0 log x - sum_i c_i f_i softplus((log x - log d_i) / f_i),
which stays finite for sharp breaks (f -> 0) and for x up to 1e30 and beyond, where the
plain product overflows. One implementation serves NumPy arrays and PyTensor tensors: the
only operation that differs between the two is softplus.
"""

from __future__ import annotations

import numpy as np


def _is_numpy(v) -> bool:
    """NumPy arrays and Python numbers go to NumPy; anything else is taken for a PyTensor tensor."""
    return isinstance(v, (np.ndarray, np.generic, float, int))


def softplus(t):
    """log(1 + exp(t)), stable for large |t|, on NumPy or PyTensor input."""
    if _is_numpy(t):
        return np.logaddexp(0.0, t)
    import pytensor.tensor as pt

    return pt.softplus(t)


def log_excess(log_x, log_b, c0, c=None, log_d=None, f=None):
    """log(y - a): the part of the curve above its limit a.

    Shapes broadcast NumPy-style. Break parameters ``c``, ``log_d`` and ``f`` carry the breaks on
    their last axis, and ``log_x`` must broadcast against them with that axis removed, e.g.
    ``log_x`` of shape (n_x,) with ``c`` of shape (n_x, n_breaks) or (1, n_breaks).
    With no breaks (``c is None`` or zero breaks) this is the power law log b - c0 log x.

    >>> float(log_excess(np.log(100.0), np.log(2.0), 0.5))  # log(2 * 100**-0.5)
    -1.6094379124341003
    """
    out = log_b - c0 * log_x
    if c is None or np.shape(c)[-1:] == (0,):
        return out
    t = (log_x[..., None] - log_d) / f
    return out - (c * f * softplus(t)).sum(axis=-1)


def log_curve(log_x, log_a, log_b, c0, c=None, log_d=None, f=None):
    """log y = log(a + exp(log_excess)); log_a may be -inf (a = 0)."""
    ex = log_excess(log_x, log_b, c0, c, log_d, f)
    if _is_numpy(ex) and _is_numpy(log_a):
        return np.logaddexp(log_a, ex)
    import pytensor.tensor as pt

    return pt.logaddexp(log_a, ex)


def bnsl(x, a, b, c0, c=(), d=(), f=()):
    """Plain-units convenience: y for scalar parameters and any array of x (NumPy only).

    >>> round(float(bnsl(4.0, a=1.0, b=2.0, c0=0.5)), 6)
    2.0
    """
    x = np.asarray(x, dtype=float)
    c, d, f = (np.asarray(v, dtype=float).reshape(-1) for v in (c, d, f))
    if not (len(c) == len(d) == len(f)):
        raise ValueError(f"c, d and f must have one entry per break; got {len(c)}, {len(d)}, {len(f)}")
    # Refused before any log: a negative value would come back as NaN with only NumPy's warning.
    if a < 0:
        raise ValueError(f"a must be >= 0 for the log-space form; got {a}")
    if b < 0:
        raise ValueError(f"b must be >= 0 for the log-space form; got {b}")
    if np.any(d < 0):
        raise ValueError(f"every break position d must be >= 0; got d = {d.tolist()}")
    if np.any(f <= 0):
        raise ValueError(f"every sharpness f must be > 0 (for a sharp break pass a small f such as 1e-6); "
                         f"got f = {f.tolist()}")
    with np.errstate(divide="ignore"):  # a, b or d = 0 is log = -inf, which the log-space form handles
        return np.exp(log_curve(np.log(x), np.log(a), np.log(b), c0, c, np.log(d), f))


def bnsl_plain(x, a, b, c0, c=(), d=(), f=()):
    """The paper's formula evaluated literally; used only to test the log-space version."""
    x = np.asarray(x, dtype=float)
    y = b * x ** (-c0)
    for ci, di, fi in zip(np.atleast_1d(c), np.atleast_1d(d), np.atleast_1d(f)):
        y = y * (1.0 + (x / di) ** (1.0 / fi)) ** (-ci * fi)
    return a + y
