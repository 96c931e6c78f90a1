"""`fit_many`: fit one BNSL per curve of a long table, locally or on a Dask cluster, resumably.

Each curve is one task that calls `bnsl_bayes.fit` and writes its own record to the store
(`bnsl_bayes.store`). The compiled model is cached per process in `bnsl_bayes.sampling`, so a worker
process compiles once per spec (tens of seconds of numba) and every later curve it runs reuses it
(seconds each). Tasks are one curve each: that keeps load balancing and retries fine-grained,
and the per-process cache makes batching unnecessary.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .fit import R_HAT_LIMIT, Fit, fit
from .sampling import check_sampler_settings, sampler_settings
from .spec import SAMPLER_KEYS, ModelSpec, shipped_name, specs_to_fit
from .store import (STORE_FORMAT, AveragedStore, FitsBySpec, LazyFits, Store, curve_id, group_columns, key_json,
                    key_values, spec_dir)
from .validate import check_group_columns

# How the default local run uses this 2-core machine (benchmarks/throughput.py, 200 curves of 12
# points, 2 chains x (300 tune + 300 draws), idle machine, benchmarks/results/throughput.json):
#   (a) one process, curves one after another, nutpie running the 2 chains on 2 threads:
#       compile 19 s once, then 1.6 curves/s;
#   (b) 2 spawned processes (workers=2), each compiling once, chains on 1 thread each:
#       compile 21 s (both at once), then 2.6 curves/s.
# (b) is faster for long runs, but spawned processes need an `if __name__ == "__main__":` guard
# in scripts; the default stays (a), which works anywhere (notebooks, scripts, tests) and already
# keeps both cores busy. Ask for workers=2 (or --workers 2) when fitting hundreds of curves.
DEFAULT_LOCAL_WORKERS = 1
FIT_OPTIONS = (*SAMPLER_KEYS, "cores", "stack_chains")  # what **fit_options may set
_NOT_IN_FINGERPRINT = ("cores",)  # threads per fit change speed, not draws
_FIT_DEFAULTS = {"stack_chains": False}  # `fit`'s own defaults: passing one changes nothing


@dataclass(frozen=True)
class CurveTask:
    """One curve to fit: its key, where it goes in the store, and its data (with the table's row labels)."""

    key: object
    cid: str
    fingerprint: str
    seed: int
    x: pd.Series
    y: pd.Series
    y_err: pd.Series | None = None  # known standard errors of y (fit_many's y_err column), else None


@dataclass(frozen=True)
class Job:
    """What every task of one fit_many call shares."""

    spec: ModelSpec
    fit_options: dict
    store: str | None
    group: object


@dataclass
class Outcome:
    key: object
    status: str  # "done", "skipped" or "failed"
    error: str | None = None  # "curve <key>: <reason>", as fit_many reports and stores it
    reason: str | None = None  # the reason alone, for callers that name the task their own way
    diagnostics: dict | None = None
    path: str | None = None
    fit: Fit | None = None  # only without a store; with one, fits are read back from disk
    seconds: float = 0.0  # spent on this curve by its worker (the first curve of a worker includes compiling)
    finished: float = 0.0  # seconds from the start of fit_many until the result arrived (throughput over time)


# ---- identity of a curve's result ----------------------------------------------------------------
def curve_seed(seed: int, key) -> int:
    """Per-curve seed from (seed, key): results do not depend on which worker ran a curve, or when."""
    digest = hashlib.sha256(json.dumps([int(seed), key_values(key)], default=str).encode()).hexdigest()
    return int(digest[:8], 16) % 2**31


def fingerprint(x: pd.Series, y: pd.Series, spec: ModelSpec, seed: int, sampler: dict,
                y_err: pd.Series | None = None) -> str:
    """Hash of everything a curve's posterior depends on; a changed curve gets a new fingerprint."""
    # The (x, y) pairs as given, invalid ones included (fixing a bad row refits), in an order that
    # does not depend on the table's row order: `fit` sorts them, so row order changes nothing.
    # With known errors, (x, y, y_err) triples; without, the pairs of stores made before errors existed.
    columns = (x, y) if y_err is None else (x, y, y_err)
    pairs = sorted(zip(*(c.tolist() for c in columns)), key=repr)
    # Settings as the fit will use them: passing a spec's or fit's own default changes nothing.
    resolved = {**sampler_settings(spec, {k: v for k, v in sampler.items() if k in SAMPLER_KEYS}),
                **{k: v for k, v in sampler.items()
                   if k not in SAMPLER_KEYS and not (k in _FIT_DEFAULTS and _FIT_DEFAULTS[k] == v)}}
    if resolved.get("coordinates") == "plain":
        # Every fit made before the setting existed (2026-12-03) was plain: their stores stay valid.
        del resolved["coordinates"]
    payload = {
        "store_format": STORE_FORMAT,
        "xy": pairs,
        "spec": spec.to_dict(),
        "seed": seed,
        "sampler": {k: v for k, v in resolved.items() if k not in _NOT_IN_FINGERPRINT},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=repr).encode()).hexdigest()[:16]


def curve_parts(data: pd.DataFrame, x: str, y: str, group, y_err: str | None = None) -> list:
    """(key, rows) per curve of a long table, sorted by key; the table's shape checked first (columns
    present, no empty group cell: pandas would drop that row from every curve without a word)."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame in long format, got {type(data).__name__}")
    cols = group_columns(group)
    if not cols:
        raise ValueError("group must name at least one column")
    if data.empty:
        raise ValueError("data has no rows: nothing to fit")
    missing = [c for c in (x, y, *([y_err] if y_err is not None else []), *cols) if c not in data.columns]
    if missing:
        raise ValueError(f"column(s) {missing} not in the data; its columns are {list(data.columns)}")
    check_group_columns(data, cols)
    return list(data.groupby(cols[0] if len(cols) == 1 else cols, sort=True))


def curve_tasks(data: pd.DataFrame, x: str, y: str, group, seed: int, spec: ModelSpec, sampler: dict,
                y_err: str | None = None):
    """Split the long table into one task per curve (sorted by key)."""
    tasks = []
    for key, part in curve_parts(data, x, y, group, y_err):
        s = curve_seed(seed, key)
        err = None if y_err is None else part[y_err]
        tasks.append(CurveTask(key, curve_id(key), fingerprint(part[x], part[y], spec, s, sampler, err), s,
                               part[x], part[y], err))
    return tasks


# ---- the task ------------------------------------------------------------------------------------
def run_curve(task: CurveTask, job: Job) -> Outcome:
    """Fit one curve and record the result; any error becomes a failed record, never an exception."""
    t0 = time.perf_counter()
    store = Store(job.store, job.group) if job.store else None
    try:
        result = fit(task.x, task.y, spec=job.spec, seed=task.seed, y_err=task.y_err, warn=False, **job.fit_options)
    except Exception as e:  # bad data (ValueError naming column and row) or a sampler failure
        return record_failure(task, job, f"{type(e).__name__}: {e}", store, time.perf_counter() - t0)
    result.idata.posterior.attrs.update(curve_key=key_json(task.key), curve_fingerprint=task.fingerprint)
    out = Outcome(task.key, "done", diagnostics=result.diagnostics())
    if store is None:
        out.fit = result
    else:
        out.path = str(store.write_fit(result, task.cid, task.fingerprint))
    out.seconds = time.perf_counter() - t0
    return out


def record_failure(task: CurveTask, job: Job, reason: str, store: Store | None = None, seconds: float = 0.0):
    error = f"curve {task.key!r}: {reason}"
    store = store or (Store(job.store, job.group) if job.store else None)
    if store is not None:
        store.write_error(task.key, task.cid, task.fingerprint, error)
    return Outcome(task.key, "failed", error=error, reason=reason, seconds=seconds)


# ---- where tasks run -----------------------------------------------------------------------------
def _collect(completed, task_of: dict, job: Job, check_path: bool = False):
    """Yield an Outcome per finished future; a future that raised (worker killed, pool broken) fails its curve."""
    for fut in completed:
        task = task_of.pop(fut)
        try:
            out = fut.result()
        except Exception as e:
            yield record_failure(task, job, f"task lost ({type(e).__name__}: {e}); rerun to retry")
            continue
        finally:
            # Dask recomputes a finished result lost with a dead worker for as long as a client
            # holds its future: that rerun would write the curve again after fit_many returned.
            getattr(fut, "release", lambda: None)()
        if check_path and out.path and not Path(out.path).exists():
            # Workers wrote somewhere this process cannot see: the store must be on a shared filesystem.
            reason = (f"worker wrote {out.path}, which this machine cannot see; put the store on a filesystem "
                      "shared with the workers")
            out = Outcome(task.key, "failed", error=f"curve {task.key!r}: {reason}", reason=reason)
        yield out


def _run_here(tasks, job):
    for t in tasks:
        yield run_curve(t, job)


def _run_pool(tasks, job, workers: int):
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn, not fork: the parent may already hold numba/nutpie threads, which fork does not copy safely.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        task_of = {pool.submit(run_curve, t, job): t for t in tasks}
        try:
            yield from _collect(as_completed(task_of), task_of, job)
        finally:
            for f in task_of:
                f.cancel()


def _run_dask(tasks, job, client):
    from distributed import Client, as_completed

    own = isinstance(client, str)
    client = Client(client) if own else client
    try:
        # The key names the curve and its fingerprint: resubmitting the same work is recognised as such.
        task_of = {client.submit(run_curve, t, job, key=f"bnsl-fit-{t.cid}-{t.fingerprint}"): t for t in tasks}
        try:
            yield from _collect(as_completed(task_of), task_of, job, check_path=job.store is not None)
        finally:
            client.cancel(list(task_of))
    finally:
        if own:
            client.close()


def run_tasks(tasks, job: Job, workers: int | None = None, client=None):
    """Outcomes of the tasks as they finish: on Dask with a client, in a local process pool with
    workers > 1, else one after another in this process."""
    if client is not None:
        return _run_dask(tasks, job, client)
    if (workers or DEFAULT_LOCAL_WORKERS) > 1 and len(tasks) > 1:
        return _run_pool(tasks, job, workers or DEFAULT_LOCAL_WORKERS)
    return _run_here(tasks, job)


def progress_bar(total: int, show: bool, desc: str, unit: str):
    """A tqdm bar over tasks; when not shown, plain tqdm's disabled one (importing tqdm.auto in a
    notebook without ipywidgets prints a warning, for a bar nobody asked for)."""
    if show:
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm(total=total, disable=not show, desc=desc, unit=unit)


def run_options(specs: list, fit_options: dict, workers: int | None, client) -> dict:
    """The fit options every task of a run gets, checked before any task runs: a bad setting would
    otherwise fail every curve, one record at a time (replacing each curve's earlier result with an
    error). With several workers each fit gets one core: its chains run one after another."""
    unknown = set(fit_options) - set(FIT_OPTIONS)
    if unknown:
        raise TypeError(f"unknown fit option(s) {sorted(unknown)}; allowed: {list(FIT_OPTIONS)}")
    if workers is not None:
        if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
        if client is not None:
            raise ValueError("workers counts local processes; with a Dask client the cluster's workers run "
                             "the curves: give one or the other")
    for s in specs:
        check_sampler_settings(sampler_settings(s, {k: v for k, v in fit_options.items() if k in SAMPLER_KEYS}),
                               fit_options.get("cores"))
    options = dict(fit_options)
    if client is not None or (workers or DEFAULT_LOCAL_WORKERS) > 1:
        options.setdefault("cores", 1)
    return options


# ---- the entry point -----------------------------------------------------------------------------
def fit_many(data: pd.DataFrame, x: str, y: str, group, breaks: int | str | None = None, seed: int = 0, store=None,
             client=None, workers: int | None = None, progress: bool = False, *, y_err: str | None = None, spec=None,
             priors: dict | None = None, likelihood: str | None = None, drift_per_efold: float | None = None,
             **fit_options) -> "ManyResult | AveragedManyResult":
    """Fit a BNSL to every curve of a long-format table; one curve per distinct value of `group`.

    data: DataFrame with columns `x`, `y` and the group column(s) (`group` is a name or a list).
    y_err: the column of known standard errors of y, if any (see `bnsl_bayes.fit`).
    breaks: number of breaks (default 1, or the spec's), or "auto": fit every curve with 0, 1 and
        2 breaks for their LOO-stacked average (as `spec=["bnsl-0", "bnsl-1", "bnsl-2"]`; a list of
        specs fits each of them). Returns an `AveragedManyResult`; the store then holds one store
        per spec, and `load_store` reads it back as averages (`AveragedStore`).
    store: directory for results, one file per curve. Rerunning with the same store skips curves
        whose data, spec, seed and sampler settings are unchanged and refits only the rest; failed
        curves are retried. Without a store, fits are kept in memory only.
    client: a dask.distributed Client, or a scheduler address ("tcp://host:8786"), to run on Dask.
        Workers must see the store directory (a shared filesystem). Each worker process compiles
        the model once per spec and reuses it for every curve it runs.
    workers: local processes when no client is given (default 1, which runs anywhere; 2 gave
        1.6x the throughput on 2 cores for 200 curves, see DEFAULT_LOCAL_WORKERS). More than 1
        uses spawned processes, so call from under
        ``if __name__ == "__main__":`` in a script.
    spec, priors, likelihood, drift_per_efold, **fit_options: as for `bnsl_bayes.fit` (chains, tune,
        draws, target_accept, backend, stack_chains, and cores = threads per fit).

    A curve whose data is invalid or whose sampling raises is recorded as failed, with the reason
    naming the curve and row; the other curves go on. Seeds per curve come from (seed, key), the
    same under every spec (as `bnsl-bayes fit --breaks auto` fits one curve).

    >>> res = fit_many(df, x="params", y="loss", group="task", store="runs/")  # doctest: +SKIP
    >>> print(res.summary()); res.fits["mmlu"].forecast([1e11])              # doctest: +SKIP
    """
    t0 = time.perf_counter()
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    specs = specs_to_fit(breaks, spec, priors=priors, likelihood=likelihood, drift_per_efold=drift_per_efold)
    fit_options = run_options(specs, fit_options, workers, client)
    run = dict(data=data, x=x, y=y, y_err=y_err, group=group, seed=int(seed), client=client, workers=workers,
               progress=progress, fit_options=fit_options, t0=t0)
    if len(specs) == 1:
        return _fit_many_spec(specs[0], store, **run)
    curve_tasks(data, x, y, group, int(seed), specs[0], fit_options, y_err)  # bad usage raises before any store is made
    parent = AveragedStore(store, group, [s.name for s in specs]) if store is not None else None
    # One spec after another: each compiles once per process and its curves share the compiled model.
    parts = {s.name: _fit_many_spec(s, parent.path / spec_dir(s.name) if parent else None, **run, label=s.name)
             for s in specs}
    return AveragedManyResult(parts, parent.path if parent else None, time.perf_counter() - t0)


def _fit_many_spec(spec: ModelSpec, store, data, x, y, y_err, group, seed, client, workers, progress, fit_options, t0,
                   label: str | None = None) -> "ManyResult":
    """fit_many for one spec: every curve of `data` into `store` (a Store directory, or None)."""
    started = time.perf_counter()
    tasks = curve_tasks(data, x, y, group, seed, spec, fit_options, y_err)
    cols = group_columns(group)
    group = cols[0] if len(cols) == 1 else cols

    outcomes: dict = {}
    todo = tasks
    st = None
    elsewhere: list = []
    if store is not None:
        st = Store(store, group)
        store = str(st.path)
    job = Job(spec, dict(fit_options), store, group)
    with st.lock() if st else nullcontext():
        if st is not None:
            st.sweep_temp()
            records = st.records()  # one listing: a rerun of thousands of curves must not list per curve
            elsewhere = sorted(set(records) - {t.cid for t in tasks})
            todo = []
            for t in tasks:
                path = st.fit_path(t.cid, t.fingerprint)
                if path in records.get(t.cid, []):
                    # a stale sibling survives only a crash mid-replace
                    st.prune(t.cid, keep=path, paths=records[t.cid])
                    outcomes[t.key] = Outcome(t.key, "skipped", path=str(path))
                else:
                    todo.append(t)
        runner = run_tasks(todo, job, workers, client)
        desc = "fitting curves" + (f" ({label})" if label else "")
        with progress_bar(len(todo), progress, desc, "curve") as bar:
            for out in runner:
                out.finished = time.perf_counter() - t0
                outcomes[out.key] = out
                bar.update()
    ordered = {t.key: outcomes[t.key] for t in tasks}
    return ManyResult(ordered, Path(store) if store else None, time.perf_counter() - started, not_in_data=elsewhere)


@dataclass
class ManyResult:
    """What fit_many did, curve by curve (keys as pandas groupby gives them)."""

    outcomes: dict
    store: Path | None
    seconds: float
    # Curve ids (file-name stems) the store holds that this run's data does not: kept, and read
    # by load_store with the rest; delete their files to drop them.
    not_in_data: list = field(default_factory=list)
    _fits: LazyFits | None = field(default=None, repr=False)

    @property
    def done(self) -> list:
        """Curves fitted in this run."""
        return [k for k, o in self.outcomes.items() if o.status == "done"]

    @property
    def skipped(self) -> list:
        """Curves already in the store with the same fingerprint."""
        return [k for k, o in self.outcomes.items() if o.status == "skipped"]

    @property
    def failed(self) -> dict:
        """Curve key -> reason, for curves with invalid data or a failed fit."""
        return {k: o.error for k, o in self.outcomes.items() if o.status == "failed"}

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def fits(self) -> LazyFits:
        """Curve key -> Fit for every curve with a result (read from the store on first access)."""
        if self._fits is None:
            self._fits = LazyFits({k: o.fit if o.fit is not None else o.path for k, o in self.outcomes.items()
                                   if o.status in ("done", "skipped")})
        return self._fits

    def unconverged(self) -> list:
        """Curves fitted in this run with divergences or r_hat above the limit `Fit` warns at."""
        return [k for k, o in self.outcomes.items() if o.diagnostics and
                (o.diagnostics["divergences"] or not o.diagnostics["r_hat_max"] <= R_HAT_LIMIT)]

    def summary(self, failures: bool = True) -> str:
        """What the run did, in a few lines; failures=False leaves out the reason of each failed curve
        (the command line reports those as errors on stderr)."""
        n = len(self.outcomes)
        lines = [f"{n} curve{'s' * (n != 1)} in {self.seconds:.1f} s: {len(self.done)} fitted, "
                 f"{len(self.skipped)} skipped (unchanged, already in the store), {len(self.failed)} failed"]
        if self.done:
            lines.append(f"  {len(self.done) / self.seconds:.2f} curves/s fitted this run")
        bad = self.unconverged()
        if bad:
            shown = ", ".join(repr(k) for k in bad[:10]) + (" ..." if len(bad) > 10 else "")
            lines.append(f"  {len(bad)} with divergences or r_hat > {R_HAT_LIMIT}: {shown} "
                         "(check with load_store(...).diagnostics())")
        for reason in self.failed.values() if failures else ():
            lines.append(f"  failed: {reason}")
        if self.not_in_data:
            n = len(self.not_in_data)
            shown = ", ".join(self.not_in_data[:5]) + (" ..." if n > 5 else "")
            lines.append(f"  {n} curve{'s' * (n != 1)} in the store {'are' if n != 1 else 'is'} not in this data "
                         f"(kept, and read by load_store; delete the files to drop them): {shown}")
        if self.store:
            lines.append(f"  store: {self.store}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<ManyResult {len(self.outcomes)} curves: {len(self.done)} fitted, {len(self.skipped)} skipped, "
                f"{len(self.failed)} failed>")


@dataclass
class AveragedManyResult:
    """What fit_many did under each of several specs (breaks="auto"): one ManyResult per spec.

    A curve counts as failed if it failed under any spec (the reasons name the spec); `fits` gives,
    for every curve fitted under all of them, {spec name: Fit}, ready for `averaged_forecast`.
    """

    parts: dict  # spec name -> ManyResult
    store: Path | None
    seconds: float

    @property
    def keys(self) -> list:
        """Every curve of the data, in order (the same under every spec)."""
        return list(next(iter(self.parts.values())).outcomes)

    def _keys(self, status: str, every: bool) -> list:
        test = all if every else any
        return [k for k in self.keys if test(p.outcomes[k].status == status for p in self.parts.values())]

    @property
    def done(self) -> list:
        """Curves fitted in this run under at least one spec."""
        return self._keys("done", every=False)

    @property
    def skipped(self) -> list:
        """Curves every spec's store already held unchanged."""
        return self._keys("skipped", every=True)

    @property
    def failed(self) -> dict:
        """Curve key -> reason(s), each naming its spec, for curves that failed under any spec."""
        out: dict = {}
        for name, part in self.parts.items():
            for k, reason in part.failed.items():
                out.setdefault(k, []).append(f"{name}: {reason}")
        return {k: "; ".join(out[k]) for k in self.keys if k in out}

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def fits(self) -> Mapping:
        """Curve key -> {spec name: Fit} for curves fitted under every spec."""
        return FitsBySpec({name: p.fits for name, p in self.parts.items()})

    def unconverged(self) -> list:
        """Curves with divergences or r_hat above the limit under any spec, in this run."""
        bad = set().union(*(p.unconverged() for p in self.parts.values()))
        return [k for k in self.keys if k in bad]

    def summary(self, failures: bool = True) -> str:
        n = len(self.keys)
        lines = [f"{n} curve{'s' * (n != 1)} x {len(self.parts)} specs ({', '.join(self.parts)}) in "
                 f"{self.seconds:.1f} s: {len(self.failed)} failed under some spec"]
        for name, part in self.parts.items():
            lines.append(f"{name}: " + part.summary(failures=failures).replace("\n", "\n  "))
        if self.store:
            lines.append(f"  store: {self.store} (load_store reads the LOO-stacked average of each curve's fits)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<AveragedManyResult {len(self.keys)} curves x {list(self.parts)}: "
                f"{len(self.done)} fitted, {len(self.skipped)} skipped, {len(self.failed)} failed>")


# ---- command line: `bnsl-bayes fit-many` -----------------------------------------------------------
def add_fit_many_command(subparsers):
    """Register `fit-many` on the `bnsl-bayes` argparse subparsers; the handler is set as `func`."""
    from .cli import Y_ERR_HELP, parse_breaks
    from .model import COORDINATES

    p = subparsers.add_parser(
        "fit-many", help="fit every curve of a long table, resumably, locally or on Dask",
        description="Fit one BNSL per curve (one curve per value of the --group columns). Results go to "
                    "--store, one file per curve; rerunning skips curves already fitted with the same data "
                    "and settings. Exit code 0 if every curve was fitted, 1 if any failed, 2 on bad usage.")
    p.add_argument("data", help="long-format table: .csv or .parquet")
    p.add_argument("--x", required=True, help="column of x (compute, parameters, data size ...)")
    p.add_argument("--y", required=True, help="column of y (loss, error ...)")
    p.add_argument("--y-err", metavar="COL", help=Y_ERR_HELP)
    p.add_argument("--group", required=True, nargs="+", metavar="COL", help="column(s) naming a curve")
    p.add_argument("--store", required=True, metavar="DIR", help="results directory (created if missing)")
    p.add_argument("--breaks", type=parse_breaks,
                   help="number of breaks (default 1, or the spec's), or 'auto': fit 0, 1 and 2 breaks, one store "
                        "per spec inside --store, for each curve's LOO-stacked average (load_store reads it so)")
    p.add_argument("--spec", help="model spec name or .toml path (with --breaks, they must agree)")
    p.add_argument("--monotone", action="store_true",
                   help="the monotone spec bnsl-<breaks>-monotone: no segment of the curve rises (not with --spec)")
    p.add_argument("--seed", type=int, default=0, help="base seed; each curve's seed derives from it and its key")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786 (default: local)")
    p.add_argument("--workers", type=positive_int,
                   help="local worker processes (default 1; 2 was 1.6x faster for 200 curves on 2 cores)")
    for name in ("chains", "tune", "draws"):
        p.add_argument(f"--{name}", type=int, help=f"sampler {name} (default: the spec's)")
    p.add_argument("--target-accept", type=float, help="NUTS target acceptance (default: the spec's)")
    p.add_argument("--coordinates", choices=COORDINATES, help="coordinates NUTS moves in (default: the spec's)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_fit_many_command)
    return p


def positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: use a whole number >= 1")
    return value


def run_fit_many_command(args) -> int:
    import sys

    from .cli import auto_specs, report_error, sampler_options
    from .table import numeric_columns, read_table, require_columns

    sampler = sampler_options(args)
    group = args.group[0] if len(args.group) == 1 else args.group
    spec, breaks = args.spec, args.breaks
    if args.monotone:
        if spec is not None:
            report_error("give --monotone or --spec, not both (--spec names the spec itself, e.g. bnsl-1-monotone)")
            return 2
        if breaks == "auto":
            spec, breaks = auto_specs(monotone=True), None
        else:
            spec = shipped_name(breaks if breaks is not None else 1, monotone=True)
    try:
        data = read_table(args.data, text_columns=args.group)
        numbers = [args.x, args.y, *([args.y_err] if args.y_err else [])]
        require_columns(data, [*numbers, *args.group], args.data)
        # Text cells parsed here: one stray word would otherwise make pandas read the whole column
        # as text and every curve would fail, each naming a valid cell. Cells that are not numbers
        # stay, so that only their own curve fails, naming them.
        data = numeric_columns(data, numbers, args.data, strict=False)
        result = fit_many(data, args.x, args.y, group, breaks=breaks, seed=args.seed, store=args.store,
                          y_err=args.y_err,
                          client=args.scheduler, workers=args.workers, spec=spec,
                          progress=not args.quiet and sys.stderr.isatty(), **sampler)
    except (ValueError, TypeError, OSError, RuntimeError) as e:  # nothing was fitted: a usage error
        report_error(e)
        return 2
    print(result.summary(failures=False), flush=True)
    for reason in result.failed.values():
        report_error(reason)
    return 0 if result.ok else 1
