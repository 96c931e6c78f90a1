"""Real scaling curves bundled with the package, with their provenance (see PROVENANCE.md).

Every loader reads a file shipped inside this package (through ``importlib.resources``, so it works
from a wheel or a zip) and checks what it read: row and curve counts, no missing or non-finite
values, positive x and y. A damaged or truncated file raises ``ValueError`` instead of quietly
changing a benchmark.

>>> from bnsl_bayes import datasets
>>> df = datasets.four_digit_addition()
>>> df.shape, list(df.columns)
((17, 3), ['x', 'y', 'role'])
>>> sorted(datasets.benchmark()["domain"].unique()) == sorted(datasets.BENCHMARK_DOMAINS)
True
"""

from __future__ import annotations

import io
import json
import math
from importlib import resources

import numpy as np
import pandas as pd

__all__ = [
    "BENCHMARK_DOMAINS",
    "benchmark",
    "chinchilla",
    "domain_y_scale",
    "dd_context_size",
    "figure1_params",
    "four_digit_addition",
    "list_datasets",
    "noiseless_simulation",
    "noiseless_simulation_curve",
]

#: Domains of the extrapolation benchmark, in the order used by NSL-PFN's tables.
BENCHMARK_DOMAINS: tuple[str, ...] = ("IC", "NMT", "LM", "BB", "DD", "Nano")

# Curves per domain after cleaning; a file that yields anything else is rejected.
_EXPECTED_CURVES = {"IC": 72, "NMT": 5, "LM": 5, "BB": 10, "DD": 16, "Nano": 24}
# Rows per file as published (before dropping the LM duplicates).
_EXPECTED_ROWS = {"benchmark.vision.csv": 18883, "benchmark.lang.csv": 1399}
_LM_COPIES = 4  # every LM row of benchmark.lang.csv appears exactly this many times
_NANO_WIDTHS = (6, 12, 24, 48, 96, 192, 384)
_NANO_FILES = {"final": "final_val_loss_over_n_embd.csv", "min": "min_val_loss_over_n_embd.csv"}
_NANO_N_CONTEXT = 6
_CHINCHILLA_ROWS = 245
_CHINCHILLA_EPOCH_EXCLUDED = 5

_DATASETS = {
    "four_digit_addition": "BNSL paper, Fig. 4 left: 4-digit addition, test cross-entropy vs training-set size (17 points)",
    "noiseless_simulation": "BNSL paper, Fig. 4 right: a known 1-break BNSL evaluated at x = 1..4095",
    "figure1_params": "BNSL paper, Fig. 1: parameters of a 3-break example curve",
    "benchmark": "Extrapolation benchmark: IC, NMT, LM, BB (Alabdulmohsin et al. 2022), DD and Nano (NSL-PFN)",
    "chinchilla": "Hoffmann et al. 2022 Fig. 4 runs as digitised by Epoch AI (245 runs: N, C, D, loss)",
}


def list_datasets() -> dict[str, str]:
    """Name -> one-line description of every loader in this module.

    >>> "benchmark" in list_datasets()
    True
    """
    return dict(_DATASETS)


# --------------------------------------------------------------------------- reading and checks


def _read_text(name: str) -> str:
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def _read_csv(name: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(_read_text(name)))


def _read_json(name: str):
    return json.loads(_read_text(name))


def _check(condition: bool, name: str, message: str) -> None:
    if not condition:
        raise ValueError(f"bundled dataset {name!r} failed validation: {message}")


def _check_finite_positive(values, name: str, what: str) -> None:
    arr = np.asarray(values, dtype=float)
    _check(arr.size > 0, name, f"{what} is empty")
    _check(bool(np.all(np.isfinite(arr))), name, f"{what} has missing or non-finite values")
    _check(bool(np.all(arr > 0)), name, f"{what} has values <= 0")


# --------------------------------------------------------------------------- BNSL paper examples


def four_digit_addition() -> pd.DataFrame:
    """The BNSL paper's 4-digit addition curve: 17 points, the first 14 to fit, the last 3 to predict.

    Columns: ``x`` (training-set size), ``y`` (test cross-entropy), ``role`` ("fit" or "extrapolate").

    >>> df = four_digit_addition()
    >>> df["role"].value_counts().to_dict()
    {'fit': 14, 'extrapolate': 3}
    """
    name = "four_digit_addition.csv"
    raw = _read_csv(name)
    _check(list(raw.columns) == ["train_dataset_size", "test_cross_entropy", "role"], name,
           f"unexpected columns {list(raw.columns)}")
    _check(len(raw) == 17, name, f"expected 17 rows, found {len(raw)}")
    df = pd.DataFrame({
        "x": raw["train_dataset_size"].astype(float),
        "y": raw["test_cross_entropy"].astype(float),
        "role": raw["role"].astype(str),
    })
    _check_finite_positive(df["x"], name, "x")
    _check_finite_positive(df["y"], name, "y")
    expected_roles = ["fit"] * 14 + ["extrapolate"] * 3
    _check(df["role"].tolist() == expected_roles, name, "role must be 'fit' for the first 14 rows, 'extrapolate' after")
    _check(bool(np.all(np.diff(df["x"]) > 0)), name, "x must be strictly increasing")
    return df


_BNSL1_KEYS = ("a", "b", "c0", "c1", "d1", "f1")


def noiseless_simulation() -> dict:
    """The known 1-break curve of the BNSL paper's noiseless simulation and its two split points.

    Returns ``{"params": {a, b, c0, c1, d1, f1}, "split_point": 405, "failure_split_point": 390,
    "x_max": 4095, "source": ...}``. Fitting on x <= split_point is the case where the paper's point fit
    extrapolates well; on x <= failure_split_point it does not.

    >>> sim = noiseless_simulation()
    >>> sim["split_point"], sim["failure_split_point"], round(sim["params"]["d1"], 2)
    (405, 390, 612.58)
    """
    name = "noiseless_simulation.json"
    raw = _read_json(name)
    truth = raw.get("ground_truth", {})
    _check(set(truth) == set(_BNSL1_KEYS), name, f"ground_truth keys {sorted(truth)} != {sorted(_BNSL1_KEYS)}")
    params = {k: float(truth[k]) for k in _BNSL1_KEYS}
    _check(all(math.isfinite(v) for v in params.values()), name, "non-finite parameter")
    _check(params["b"] > 0 and params["d1"] > 0 and params["f1"] > 0 and params["a"] >= 0, name,
           "need a >= 0 and b, d1, f1 > 0")
    split, fail = raw.get("split_point"), raw.get("failure_split_point_mentioned_in_comment")
    _check(split == 405 and fail == 390, name, f"split points {split}, {fail} != 405, 390")
    return {
        "params": params,
        "split_point": int(split),
        "failure_split_point": int(fail),
        "x_max": 4095,
        "source": raw["source"],
    }


def noiseless_simulation_curve(x_max: int | None = None) -> pd.DataFrame:
    """The simulated curve itself: integer x = 1..4095 (or 1..x_max) and y from the known parameters.

    >>> df = noiseless_simulation_curve(x_max=3)
    >>> df["x"].tolist(), bool((df["y"].diff().dropna() < 0).all())
    ([1, 2, 3], True)
    """
    from bnsl_bayes.forms import bnsl

    sim = noiseless_simulation()
    top = sim["x_max"] if x_max is None else int(x_max)
    if not 1 <= top <= sim["x_max"]:
        raise ValueError(f"x_max must be between 1 and {sim['x_max']}; got {x_max}")
    p = sim["params"]
    x = np.arange(1, top + 1)
    y = bnsl(x, a=p["a"], b=p["b"], c0=p["c0"], c=[p["c1"]], d=[p["d1"]], f=[p["f1"]])
    return pd.DataFrame({"x": x, "y": y})


def figure1_params() -> dict:
    """Parameters of the BNSL paper's Figure 1 curve (3 breaks, the second with a negative c).

    >>> p = figure1_params()
    >>> len(p["c"]), p["c"][1] < 0
    (3, True)
    """
    name = "figure1_example_params.json"
    raw = _read_json(name)
    try:
        out = {
            "a": float(raw["a"]), "b": float(raw["b"]), "c0": float(raw["c0"]),
            "c": [float(raw[f"c{i}"]) for i in (1, 2, 3)],
            "d": [float(raw[f"d{i}"]) for i in (1, 2, 3)],
            "f": [float(raw[f"f{i}"]) for i in (1, 2, 3)],
        }
    except KeyError as err:
        raise ValueError(f"bundled dataset {name!r} failed validation: missing key {err}") from None
    flat = [out["a"], out["b"], out["c0"], *out["c"], *out["d"], *out["f"]]
    _check(all(math.isfinite(v) for v in flat), name, "non-finite parameter")
    _check(out["b"] > 0 and min(out["d"]) > 0 and min(out["f"]) > 0, name, "need b, d, f > 0")
    _check(out["d"] == sorted(out["d"]), name, "break positions d must increase")
    return out


# --------------------------------------------------------------------------- extrapolation benchmark


def _task_label(task: str) -> str:
    """Readable task name: "('date', '1-shot')" -> "date_1-shot"; other names unchanged."""
    if task.startswith("(") and task.endswith(")"):
        parts = [p.strip().strip("'\"") for p in task[1:-1].split(",")]
        return "_".join(p for p in parts if p)
    return task


def _revisiting_curves(file: str) -> pd.DataFrame:
    raw = _read_csv(file)
    cols = ["Domain", "Task", "Model", "Seen Examples", "Loss", "Training"]
    _check(list(raw.columns) == cols, file, f"unexpected columns {list(raw.columns)}")
    _check(len(raw) == _EXPECTED_ROWS[file], file, f"expected {_EXPECTED_ROWS[file]} rows, found {len(raw)}")
    _check(not raw.isna().any().any(), file, "missing values")
    _check_finite_positive(raw["Seen Examples"], file, "Seen Examples")
    _check_finite_positive(raw["Loss"], file, "Loss")
    _check(set(raw["Training"].unique()) <= {0, 1}, file, "Training must be 0 or 1")

    # Known defect of the published lang file: every LM row is there 4 times. Drop exact duplicates
    # (and only there: any other duplicate is an error, not something to clean up silently).
    dup = raw.duplicated(keep="first")
    is_lm = raw["Domain"] == "LM"
    _check(not (dup & ~is_lm).any(), file, "exact duplicate rows outside LM")
    if is_lm.any():
        n_lm = int(is_lm.sum())
        _check(n_lm % _LM_COPIES == 0 and int((dup & is_lm).sum()) == n_lm - n_lm // _LM_COPIES, file,
               f"LM rows are expected to appear exactly {_LM_COPIES} times each")
        raw = raw[~dup]

    key = ["Domain", "Task", "Model"]
    _check(not raw.duplicated(key + ["Seen Examples"]).any(), file, "two losses for the same curve and x")
    df = pd.DataFrame({
        "domain": raw["Domain"].astype(str),
        "curve": (raw["Domain"].astype(str) + "/" + raw["Task"].astype(str).map(_task_label)
                  + "/" + raw["Model"].astype(str)),
        "x": raw["Seen Examples"].astype(float),
        "y": raw["Loss"].astype(float),
        "split": np.where(raw["Training"] == 1, "context", "target"),
        "task": raw["Task"].astype(str),
        "model": raw["Model"].astype(str),
    })
    # Rows of the vision file are not ordered by x within a curve; order them (stable sort).
    df = df.sort_values(["domain", "curve", "x"], kind="mergesort")
    _check(df.groupby(["domain", "task", "model"]).ngroups == df["curve"].nunique(), file,
           "curve keys are not unique")
    return df


def dd_context_size(n_points: int) -> int:
    """Context length of a double-descent curve under NSL-PFN's protocol.

    n_ctx = max(3, min(round(0.5 * n), n - 1)), rounding halves *up*: NSL-PFN computes
    ``int(0.5 * n + 0.5)``, so an odd n = 65 gives 33. (Python's ``round`` would give 32, since it
    rounds halves to even; that would shift one point from target to context on every odd curve.)

    >>> [dd_context_size(n) for n in (4, 25, 64, 65)]
    [3, 13, 32, 33]
    """
    n = int(n_points)
    if n < 2:
        raise ValueError(f"a curve needs at least 2 points to have context and target; got {n}")
    return max(3, min(math.floor(0.5 * n + 0.5), n - 1))


def _dd_curves() -> pd.DataFrame:
    name = "dd_curves.json"
    raw = _read_json(name)
    _check(isinstance(raw, list) and len(raw) == _EXPECTED_CURVES["DD"], name,
           f"expected a list of {_EXPECTED_CURVES['DD']} curves")
    frames = []
    for i, rec in enumerate(raw):
        _check(set(rec) >= {"task", "x", "y"}, name, f"curve {i} lacks task/x/y")
        x, y = np.asarray(rec["x"], dtype=float), np.asarray(rec["y"], dtype=float)
        _check(x.shape == y.shape and x.ndim == 1, name, f"curve {rec['task']!r}: x and y lengths differ")
        _check(len(x) >= 4, name, f"curve {rec['task']!r} has fewer than 4 points")
        _check_finite_positive(x, name, f"x of {rec['task']!r}")
        _check_finite_positive(y, name, f"y of {rec['task']!r}")
        # Context is a prefix "in the given order"; the published x are non-decreasing, so the prefix
        # is also the smallest x. Check it, because a prefix of unsorted x would not be an extrapolation.
        _check(bool(np.all(np.diff(x) >= 0)), name, f"x of {rec['task']!r} is not sorted")
        n_ctx = dd_context_size(len(x))
        frames.append(pd.DataFrame({
            "domain": "DD",
            "curve": f"DD/{rec['task']}",
            "x": x,
            "y": y,
            "split": ["context"] * n_ctx + ["target"] * (len(x) - n_ctx),
            "task": str(rec["task"]),
            "model": str(rec.get("x_label", "")),
        }))
    df = pd.concat(frames, ignore_index=True)
    _check(df["curve"].nunique() == _EXPECTED_CURVES["DD"], name, "DD task names are not unique")
    return df


def _nano_curves() -> pd.DataFrame:
    frames = []
    expected_cols = ["setting"] + [f"n_embd_{w}" for w in _NANO_WIDTHS]
    for kind, name in _NANO_FILES.items():
        raw = _read_csv(name)
        _check(list(raw.columns) == expected_cols, name, f"unexpected columns {list(raw.columns)}")
        _check(raw["setting"].tolist() == list(range(12)), name, "expected settings 0..11")
        vals = raw[expected_cols[1:]].to_numpy(dtype=float)
        _check_finite_positive(vals, name, "validation loss")
        for setting, row in zip(raw["setting"], vals):
            frames.append(pd.DataFrame({
                "domain": "Nano",
                "curve": f"Nano/{kind}_val_loss/setting{int(setting)}",
                "x": np.asarray(_NANO_WIDTHS, dtype=float),
                "y": row,
                "split": ["context"] * _NANO_N_CONTEXT + ["target"] * (len(_NANO_WIDTHS) - _NANO_N_CONTEXT),
                "task": f"{kind}_val_loss",
                "model": f"setting{int(setting)}",
            }))
    return pd.concat(frames, ignore_index=True)


def benchmark(domains=None) -> pd.DataFrame:
    """The extrapolation benchmark as one long table, one row per (curve, x).

    Columns: ``domain``, ``curve`` (unique key such as "IC/bird_5/MiX/B/16"), ``x``, ``y``,
    ``split`` ("context" = fit on it, "target" = predict it), and ``task``, ``model`` for grouping.
    Rows are sorted by x within each curve. Domains and curve counts:

    - IC 72, NMT 5, LM 5, BB 10 (Alabdulmohsin et al. 2022): the published ``Training`` column
      gives the split; every LM row of the source file appears 4 times and is kept once.
    - DD 16 (double descent): the first ``dd_context_size(n)`` points are context.
    - Nano 24 (12 settings x final/min validation loss): x = n_embd, context = the first 6 widths,
      target = n_embd 384.

    >>> b = benchmark(["NMT", "LM"])
    >>> b.groupby("domain")["curve"].nunique().to_dict()
    {'LM': 5, 'NMT': 5}
    """
    wanted = BENCHMARK_DOMAINS if domains is None else (domains,) if isinstance(domains, str) else tuple(domains)
    unknown = [d for d in wanted if d not in BENCHMARK_DOMAINS]
    if unknown:
        raise ValueError(f"unknown benchmark domain(s) {unknown}; choose from {BENCHMARK_DOMAINS}")
    frames = []
    if "IC" in wanted:
        frames.append(_revisiting_curves("benchmark.vision.csv"))
    if any(d in wanted for d in ("NMT", "LM", "BB")):
        frames.append(_revisiting_curves("benchmark.lang.csv"))
    if "DD" in wanted:
        frames.append(_dd_curves())
    if "Nano" in wanted:
        frames.append(_nano_curves())
    df = pd.concat(frames, ignore_index=True)
    df = df[df["domain"].isin(wanted)]

    counts = df.groupby("domain")["curve"].nunique().to_dict()
    for d in wanted:
        _check(counts.get(d, 0) == _EXPECTED_CURVES[d], f"benchmark/{d}",
               f"expected {_EXPECTED_CURVES[d]} curves, found {counts.get(d, 0)}")
    per_curve = df.groupby("curve")["split"].agg(lambda s: (s == "context").sum()).to_numpy()
    n_target = df.groupby("curve")["split"].agg(lambda s: (s == "target").sum()).to_numpy()
    _check(bool(np.all(per_curve >= 2) and np.all(n_target >= 1)), "benchmark",
           "every curve needs at least 2 context and 1 target point")
    # Every target lies beyond the last context point (the benchmark is about extrapolation).
    last_ctx = df[df["split"] == "context"].groupby("curve")["x"].max()
    first_tgt = df[df["split"] == "target"].groupby("curve")["x"].min()
    _check(bool((first_tgt >= last_ctx.reindex(first_tgt.index)).all()), "benchmark",
           "a target x lies before the last context x")

    order = {d: i for i, d in enumerate(BENCHMARK_DOMAINS)}
    df = df.assign(_o=df["domain"].map(order)).sort_values(["_o", "curve", "x"], kind="mergesort")
    return df.drop(columns="_o").reset_index(drop=True)


def domain_y_scale(domain: str, context_y) -> float:
    """Divisor NSL-PFN applies to y before scoring log densities (the LL column of its tables).

    DD and Nano curves are divided by the largest *context* y; the other domains (losses or error
    rates already in (0, 1]) are left unscaled, so the divisor is 1.0. Divide y, predictive draws and
    interval bounds by it; a density on the scaled y is the plain-units density times the divisor.

    >>> domain_y_scale("DD", [0.8, 2.0, 1.5]), domain_y_scale("IC", [0.8, 0.5])
    (2.0, 1.0)
    """
    if domain not in BENCHMARK_DOMAINS:
        raise ValueError(f"unknown benchmark domain {domain!r}; choose from {BENCHMARK_DOMAINS}")
    if domain not in ("DD", "Nano"):
        return 1.0
    y = np.asarray(context_y, dtype=float)
    if y.size == 0 or not np.all(np.isfinite(y)) or not np.all(y > 0):
        raise ValueError("context_y must be non-empty, finite and positive")
    return float(y.max())


# --------------------------------------------------------------------------- Chinchilla


def chinchilla() -> pd.DataFrame:
    """Chinchilla's training runs (Hoffmann et al. 2022, Fig. 4) as digitised by Epoch AI.

    Columns: ``model_size`` N (parameters), ``training_flop`` C, ``tokens`` D = C / (6 N), ``loss``,
    and ``epoch_excluded``: True for the 5 highest-loss runs, which Epoch's replication leaves out of
    its fit (it keeps runs with loss strictly below the 5th-highest loss). All 245 runs are returned.

    >>> df = chinchilla()
    >>> len(df), int(df["epoch_excluded"].sum())
    (245, 5)
    """
    name = "chinchilla_svg_extracted_data.csv"
    raw = _read_csv(name)
    for col in ("Model Size", "Training FLOP", "loss"):
        _check(col in raw.columns, name, f"missing column {col!r}")
    _check(len(raw) == _CHINCHILLA_ROWS, name, f"expected {_CHINCHILLA_ROWS} rows, found {len(raw)}")
    n, c, loss = (raw[k].to_numpy(dtype=float) for k in ("Model Size", "Training FLOP", "loss"))
    for arr, what in ((n, "Model Size"), (c, "Training FLOP"), (loss, "loss")):
        _check_finite_positive(arr, name, what)
    cutoff = np.sort(loss)[-_CHINCHILLA_EPOCH_EXCLUDED]
    excluded = loss >= cutoff
    _check(int(excluded.sum()) == _CHINCHILLA_EPOCH_EXCLUDED, name, "ties at the exclusion cutoff")
    return pd.DataFrame({
        "model_size": n,
        "training_flop": c,
        "tokens": c / (6.0 * n),
        "loss": loss,
        "epoch_excluded": excluded,
    })
