"""A directory of per-curve fits: what `fit_many` writes and `load_store` reads.

Layout::

    store/
      store.json                      which columns name a curve (written once, atomically)
      <id>.<fingerprint>.nc           a finished fit (netCDF, `bnsl_bayes.load` reads it)
      <id>.<fingerprint>.error.json   a curve that failed, with the reason

`<id>` is a readable slug of the curve key plus a hash of it; `<fingerprint>` hashes what the
result depends on (the curve's data, the spec, the seed and the sampler settings). The index of
the store is derived from the file names alone, so there is no manifest that could disagree with
the files, and deciding what a rerun may skip costs one directory listing.

Why one netCDF file per curve rather than one Zarr store for all curves: every record is written
to a temporary file and renamed into place (`bnsl_bayes.io.atomic_write`), so a worker killed
mid-write leaves at most a `.*.tmp` file that the next run sweeps, never a half-updated shared
array; curves stay isolated (a crash or a bad curve touches only its own file); many processes or
machines can write at once without coordinating appends to one store; and each file is an
ordinary saved fit. The cost is one small file per curve, fine for thousands of curves (a rerun
that skips 4000 curves took 2.4 s, 2026-12-01).

A store of several specs (`fit_many(..., breaks="auto")`, read back as each curve's model average)
is a directory of such stores, one per spec, with a specs.json that names them: see AveragedStore.

Keys are stored as JSON values: strings, numbers and booleans come back as they went in; other
types (a datetime group column) come back as their text.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from .io import atomic_write, load

STORE_FORMAT = 1
_META = "store.json"
_SPECS_META = "specs.json"  # a store of stores, one per spec: see AveragedStore
_FIT = ".nc"
_ERROR = ".error.json"


def group_columns(group) -> list:
    """The group columns as a list: a list or tuple names several columns, anything else one."""
    return list(group) if isinstance(group, (list, tuple)) else [group]


def key_values(key) -> list:
    """A curve key as a list of JSON values (one per group column)."""
    parts = key if isinstance(key, tuple) else (key,)
    return [p.item() if hasattr(p, "item") else p for p in parts]


def key_json(key) -> str:
    return json.dumps(key_values(key), default=str, sort_keys=True)


def curve_id(key) -> str:
    """File-name stem for a curve: readable, and unique through the hash of the exact key."""
    # No leading '-': a file name that looks like an option is awkward in a shell.
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", "-".join(str(v) for v in key_values(key))).strip("_-")[:48]
    digest = hashlib.sha256(key_json(key).encode()).hexdigest()[:10]
    return f"{slug}-{digest}" if slug else digest


class Store:
    """The results directory. `load_store(path)` opens one for reading.

    Read API (every table has the group columns first):
      store.keys                         curve keys with a finished fit
      store.fits[key]                    the Fit, loaded from disk on access
      store.forecasts(x_new, prob=0.9)   one row per (curve, x): median, mean, lower, upper
      store.breaks(prob=0.9)             one row per (curve, break): as Fit.break_positions (position, slope change)
      store.diagnostics()                one row per curve: r_hat_max, ess_*, divergences, seed, fingerprint
      store.errors()                     one row per failed curve: error
    """

    def __init__(self, path, group=None):
        self.path = Path(path)
        meta = self.path / _META
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"store {self.path} is a file; a store is a directory (give a new or "
                             "existing one)")
        if (self.path / _SPECS_META).is_file():
            specs = read_meta(self.path / _SPECS_META)["specs"]
            raise ValueError(f"store {self.path} holds one store per spec ({', '.join(specs)}) for model averaging: "
                             "read it with load_store, fit into it with the same specs, or use another directory")
        if meta.is_file():
            stored = read_meta(meta)
            if group is not None and group_columns(stored["group"]) != group_columns(group):  # 'a' == ['a']
                raise ValueError(f"store {self.path} holds curves keyed by {stored['group']!r}, not {group!r}; "
                                 "use another store directory")
            self.group = stored["group"]
        elif group is None:
            raise FileNotFoundError(f"{self.path} is not a bnsl-bayes store (no {_META})")
        else:
            foreign = sorted(p.name for p in self.path.glob(f"*{_FIT}")) if self.path.is_dir() else []
            if foreign:  # e.g. `fit --out dir/` fits: load_store would refuse the mix later
                raise ValueError(f"{self.path} already holds fits that are not a fit_many store ({foreign[0]}, "
                                 f"{len(foreign)} in all): give a new or empty directory")
            self.group = group
            atomic_write(meta, lambda tmp: Path(tmp).write_text(
                json.dumps({"format": STORE_FORMAT, "group": group}, indent=1)))

    # keys ----------------------------------------------------------------------------------------
    @property
    def columns(self) -> list[str]:
        return group_columns(self.group)

    def _key(self, values: list):
        """Back from JSON values to the key shape the user grouped by (scalar for one column)."""
        return tuple(values) if isinstance(self.group, (list, tuple)) else values[0]

    # records -------------------------------------------------------------------------------------
    def records(self) -> dict[str, list[Path]]:
        """Record files by curve id (normally one each; see `newest`)."""
        out: dict[str, list[Path]] = {}
        for p in self.path.iterdir():
            if p.name.startswith(".") or p.name == _META or not (p.name.endswith(_FIT) or p.name.endswith(_ERROR)):
                continue
            out.setdefault(p.name.split(".", 1)[0], []).append(p)
        return out

    @staticmethod
    def newest(paths: list[Path]) -> Path:
        # Two records for one curve only survive a crash between writing the new one and removing
        # the old one; the later write is the one that counts.
        return max(paths, key=lambda p: p.stat().st_mtime_ns)

    def fit_path(self, cid: str, fingerprint: str) -> Path:
        return self.path / f"{cid}.{fingerprint}{_FIT}"

    def write_fit(self, fit, cid: str, fingerprint: str) -> Path:
        path = self.fit_path(cid, fingerprint)
        fit.save(path)
        self.prune(cid, keep=path)
        return path

    def write_error(self, key, cid: str, fingerprint: str, error: str) -> Path:
        path = self.path / f"{cid}.{fingerprint}{_ERROR}"
        record = {"key": key_values(key), "fingerprint": fingerprint, "error": error}
        atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(record, indent=1, default=str)))
        self.prune(cid, keep=path)
        return path

    def prune(self, cid: str, keep: Path, paths: list[Path] | None = None) -> None:
        """Remove the curve's other records once `keep` is in place: one record per curve.
        `paths`: the curve's records if already listed; else its own files are globbed (ids are
        [A-Za-z0-9_-], no glob characters), not the whole directory listed."""
        if paths is None:
            paths = [p for p in self.path.glob(f"{cid}.*") if p.name.endswith((_FIT, _ERROR))]
        for p in paths:
            if p != keep:
                p.unlink(missing_ok=True)

    def sweep_temp(self) -> int:
        """Delete temporary files left by writers that were killed mid-write."""
        stale = [p for p in self.path.glob(".*.tmp")]
        for p in stale:
            p.unlink(missing_ok=True)
        return len(stale)

    @contextmanager
    def lock(self):
        """Hold an exclusive lock for one fit_many run, so a second run cannot sweep its temp files."""
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; runs must not overlap
            yield
            return
        with open(self.path / ".lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RuntimeError(f"store {self.path} is in use by another fit_many run") from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # reading -------------------------------------------------------------------------------------
    def _finished(self) -> dict:
        """key -> path of its fit, for every curve whose newest record is a fit."""
        out = {}
        for paths in self.records().values():
            p = self.newest(paths)
            if p.name.endswith(_FIT):
                try:
                    key = read_attr(p, "curve_key")
                except (KeyError, OSError) as e:
                    raise ValueError(f"store {self.path} holds {p.name}, which is not a fit_many record "
                                     f"({type(e).__name__}: {e}); move it out of the store") from None
                out[self._key(json.loads(key))] = p
        try:  # in key order, as fit_many gives them; keys of mixed types sort by their JSON text
            order = sorted(out)
        except TypeError:
            order = sorted(out, key=key_json)
        return {k: out[k] for k in order}

    @property
    def keys(self) -> list:
        return list(self.fits)

    @cached_property
    def fits(self) -> Mapping:
        return LazyFits(self._finished())

    def _table(self, per_fit) -> pd.DataFrame:
        return curve_table(self.columns, self.fits.items(), per_fit)

    def forecasts(self, x_new, prob: float = 0.9, kind: str = "predictive", y_err=None) -> pd.DataFrame:
        """One row per (curve, x): `Fit.forecast` (y_err: the errors the measurements will have, the
        same for every curve)."""
        return self._table(lambda f: f.forecast(x_new, prob=prob, kind=kind, y_err=y_err))

    def reach(self, target, prob: float = 0.9, x_max: float | None = None, direction: str | None = None,
              x_from: float | None = None) -> pd.DataFrame:
        """One row per (curve, target level): `Fit.reach` (x_max: default 1000 x each curve's largest x)."""
        levels = list(np.atleast_1d(target))
        return self._table(lambda f: f.reach(levels, prob, x_max, direction, x_from))

    def breaks(self, prob: float = 0.9) -> pd.DataFrame:
        return self._table(lambda f: f.break_positions(prob))

    def label(self) -> str:
        """How answers name the model: the spec of its fits ('bnsl-1')."""
        return ", ".join(sorted({f.spec.name for f in self.fits.values()}))

    def diagnostics(self) -> pd.DataFrame:
        def row(f):
            attrs = f.idata.posterior.attrs
            return pd.DataFrame([{**f.diagnostics(), "seed": f.seed, "fingerprint": attrs["curve_fingerprint"]}])

        return self._table(row)

    def errors(self) -> pd.DataFrame:
        rows = []
        for paths in self.records().values():
            p = self.newest(paths)
            if p.name.endswith(_ERROR):
                rec = json.loads(p.read_text())
                rows.append({**dict(zip(self.columns, rec["key"])), "error": rec["error"]})
        return pd.DataFrame(rows, columns=[*self.columns, "error"])


def curve_table(columns: list, items, per_curve) -> pd.DataFrame:
    """One table over curves: the group columns first, then `per_curve(value)`'s columns for each
    (key, value) of `items`; a result column named like a group column (a curve per 'seed', and the
    fit's own seed) becomes 'fit_<name>'."""
    frames = []
    for key, value in items:
        df = per_curve(value)
        df = df.rename(columns={c: f"fit_{c}" for c in df.columns if c in columns})
        for i, (col, v) in enumerate(zip(columns, key_values(key))):
            df.insert(i, col, v)
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def read_meta(path: Path, fields: tuple = ("format", "group")) -> dict:
    """store.json (or specs.json), checked: a store of another format, or a damaged file, is named, not misread."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError both are
        raise ValueError(f"{path} is not valid JSON ({e}); restore it or use a new store directory") from None
    if not isinstance(meta, dict) or any(k not in meta for k in fields):
        raise ValueError(f"{path} is not a bnsl-bayes store description (no {'/'.join(fields)} fields)")
    if meta["format"] != STORE_FORMAT:
        raise ValueError(f"{path} is in store format {meta['format']!r}; this version of bnsl-bayes reads "
                         f"format {STORE_FORMAT}: use a new store directory")
    return meta


def read_attr(path: Path, name: str) -> str:
    """One attribute of a saved fit's posterior group, without loading the draws."""
    import h5netcdf

    with h5netcdf.File(path, "r") as f:
        return f["posterior"].attrs[name]


class LazyFits(Mapping):
    """key -> Fit, read from disk on first access (a store of thousands of curves stays cheap)."""

    def __init__(self, entries: dict):
        self._entries = dict(entries)  # key -> Path or an in-memory Fit

    def __getitem__(self, key):
        value = self._entries[key]
        if isinstance(value, (str, os.PathLike)):
            value = self._entries[key] = load(value)
        return value

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


def spec_dir(name: str) -> str:
    """Directory of a spec's store inside an AveragedStore: the spec name, made file-name safe
    (a changed spec is named like 'bnsl-1+priors:c')."""
    return re.sub(r"[^A-Za-z0-9_.+=-]+", "_", name).lstrip(".-") or "spec"


class AveragedStore:
    """A store of stores, one per spec, for the model average of each curve's fits (what
    `fit_many(..., breaks="auto")` writes; `load_store` opens it).

    Layout::

        store/
          specs.json        the group columns and the specs, in order (written once, atomically)
          bnsl-0/ ...       an ordinary Store per spec (load_store reads each one alone too)

    Read API (every table has the group columns first; `seed` picks which draws each fit lends the
    mixture, as in `averaged_forecast`):
      store.keys                       curves with a fit under every spec
      store.fits[key]                  {spec name: Fit} of that curve
      store.incomplete                 {key: [specs without a fit]}: left out of the averages, with a warning
      store.weights()                  one row per curve: the LOO stacking weight of each spec
      store.forecasts(x_new, prob)     one row per (curve, x): `averaged_forecast` with those weights
      store.reach(target, prob)        one row per (curve, level): `averaged_reach`
      store.breaks(), store.diagnostics(), store.errors()
                                       each spec's table, with a `spec` column after the group columns
    """

    def __init__(self, path, group=None, specs: list | None = None):
        self.path = Path(path)
        meta = self.path / _SPECS_META
        if meta.is_file():
            stored = read_meta(meta, ("format", "group", "specs"))
            if group is not None and group_columns(stored["group"]) != group_columns(group):
                raise ValueError(f"store {self.path} holds curves keyed by {stored['group']!r}, not {group!r}; "
                                 "use another store directory")
            if specs is not None and list(specs) != stored["specs"]:
                raise ValueError(f"store {self.path} holds fits of the specs {stored['specs']}, not {list(specs)}; "
                                 "use another store directory")
            self.group, self.specs = stored["group"], stored["specs"]
        elif group is None or specs is None:
            raise FileNotFoundError(f"{self.path} is not a bnsl-bayes store of several specs (no {_SPECS_META})")
        else:
            if self.path.exists() and not self.path.is_dir():
                raise ValueError(f"store {self.path} is a file; a store is a directory (give a new or existing one)")
            if (self.path / _META).is_file():
                raise ValueError(f"store {self.path} holds fits of one spec: fit several specs into a new or "
                                 "empty directory")
            dirs = [spec_dir(n) for n in specs]
            if len(set(dirs)) != len(dirs):
                raise ValueError(f"specs {list(specs)} need distinct names to be stored side by side")
            # The spec stores exist before specs.json does: a run killed between the two left them, and
            # a rerun with the same specs carries on.
            other = sorted(p.name for p in self.path.iterdir() if p.name not in {".lock", *dirs}) \
                if self.path.is_dir() else []
            if other:
                raise ValueError(f"{self.path} is not empty ({other[0]}) and holds no {_SPECS_META}: a store of "
                                 "several specs needs a new or empty directory")
            self.path.mkdir(parents=True, exist_ok=True)
            for d in dirs:  # each an ordinary store, there before specs.json says they are
                Store(self.path / d, group)
            self.group, self.specs = group, list(specs)
            atomic_write(meta, lambda tmp: Path(tmp).write_text(
                json.dumps({"format": STORE_FORMAT, "group": group, "specs": self.specs}, indent=1)))
        self._weights: dict = {}

    @property
    def columns(self) -> list[str]:
        return group_columns(self.group)

    @cached_property
    def stores(self) -> dict[str, Store]:
        """spec name -> its Store."""
        return {name: Store(self.path / spec_dir(name)) for name in self.specs}

    @cached_property
    def fits(self) -> Mapping:
        """key -> {spec name: Fit} for every curve with a fit under every spec (read on access)."""
        return FitsBySpec({name: s.fits for name, s in self.stores.items()})

    @property
    def keys(self) -> list:
        return list(self.fits)

    @property
    def incomplete(self) -> dict:
        """key -> specs that have no fit of it, for curves fitted under some specs but not all."""
        have = {name: set(s.fits) for name, s in self.stores.items()}
        every = set().union(*have.values())
        out = {k: [n for n in self.specs if k not in have[n]] for k in every}
        return {k: v for k, v in sorted(out.items(), key=lambda kv: key_json(kv[0])) if v}

    def _averaged(self, per_curve) -> pd.DataFrame:
        """curve_table over complete curves of per_curve(fits, weights); incomplete curves are named."""
        missing = self.incomplete
        if missing:
            import warnings

            shown = "; ".join(f"{k!r} (no {', '.join(v)})" for k, v in list(missing.items())[:5])
            warnings.warn(f"{len(missing)} curve(s) of {self.path} lack a fit under some spec and are left out of "
                          f"the averages: {shown}{' ...' if len(missing) > 5 else ''} (see store.errors())",
                          UserWarning, stacklevel=3)
        return curve_table(self.columns, ((k, (f, self.weights_of(k))) for k, f in self.fits.items()),
                           lambda fw: per_curve(*fw))

    def weights_of(self, key) -> dict:
        """spec name -> LOO stacking weight for one curve (computed once per store object)."""
        if key not in self._weights:
            from .compare import stacking_weights

            self._weights[key] = stacking_weights(self.fits[key])
        return self._weights[key]

    def weights(self) -> pd.DataFrame:
        return self._averaged(lambda fits, w: pd.DataFrame([w]))

    def forecasts(self, x_new, prob: float = 0.9, kind: str = "predictive", seed: int = 0,
                  y_err=None) -> pd.DataFrame:
        from .compare import averaged_forecast

        return self._averaged(lambda fits, w: averaged_forecast(fits, x_new, prob, kind, weights=w, seed=seed,
                                                                y_err=y_err))

    def reach(self, target, prob: float = 0.9, x_max: float | None = None, direction: str | None = None,
              x_from: float | None = None, seed: int = 0) -> pd.DataFrame:
        from .compare import averaged_reach

        levels = list(np.atleast_1d(target))
        return self._averaged(lambda fits, w: averaged_reach(fits, levels, prob, x_max, direction, x_from,
                                                             weights=w, seed=seed))

    def label(self) -> str:
        """How answers name what they average: 'LOO-stacked average per curve of bnsl-0, bnsl-1, bnsl-2'."""
        return "LOO-stacked average per curve of " + ", ".join(self.specs)

    def _by_spec(self, table) -> pd.DataFrame:
        frames = []
        for name, store in self.stores.items():
            df = table(store)
            df.insert(len(self.columns), "spec", name)
            frames.append(df)
        return pd.concat(frames, ignore_index=True)

    def breaks(self, prob: float = 0.9) -> pd.DataFrame:
        """Each spec's break positions, with the spec's stacking weight in the curve's average
        (NaN for a curve not fitted under every spec): a break of a weight-0 fit says little."""
        table = self._by_spec(lambda s: s.breaks(prob))
        cols = self.columns
        keys = table[cols[0]] if len(cols) == 1 else list(zip(*(table[c] for c in cols)))
        table.insert(len(cols) + 1, "weight", [self.weights_of(k)[spec] if k in self.fits else np.nan
                                              for k, spec in zip(keys, table["spec"])])
        return table

    def diagnostics(self) -> pd.DataFrame:
        return self._by_spec(lambda s: s.diagnostics())

    def errors(self) -> pd.DataFrame:
        return self._by_spec(lambda s: s.errors())


class FitsBySpec(Mapping):
    """key -> {spec name: Fit}, over the curves that every spec has a fit of (each Fit read on first access)."""

    def __init__(self, by_spec: dict):  # spec name -> Mapping key -> Fit (a LazyFits)
        self._by_spec = by_spec
        parts = list(by_spec.values())
        self._keys = {k: None for k in parts[0] if all(k in p for p in parts[1:])}  # ordered set

    def __getitem__(self, key) -> dict:
        if key not in self._keys:
            raise KeyError(key)
        return {name: fits[key] for name, fits in self._by_spec.items()}

    def __iter__(self):
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def load_store(path) -> "Store | AveragedStore":
    """Open a directory written by `fit_many` and read it back as tables: a `Store`, or an
    `AveragedStore` where each curve was fitted under several specs (breaks="auto").

    >>> s = load_store("runs/")                   # doctest: +SKIP
    >>> s.forecasts([1e9, 1e10], prob=0.9)        # doctest: +SKIP
    >>> s.breaks(); s.diagnostics(); s.errors()   # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no store directory at {path}")
    if (path / _SPECS_META).is_file():
        return AveragedStore(path)
    return Store(path)
