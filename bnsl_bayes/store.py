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

import pandas as pd

from .io import atomic_write, load

STORE_FORMAT = 1
_META = "store.json"
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
        """One table over curves: the group columns first, then `per_fit`'s columns; a result column
        named like a group column (a curve per 'seed', and the fit's own seed) becomes 'fit_<name>'."""
        frames = []
        for key, fit in self.fits.items():
            df = per_fit(fit)
            df = df.rename(columns={c: f"fit_{c}" for c in df.columns if c in self.columns})
            for col, v in zip(self.columns, key_values(key)):
                df.insert(self.columns.index(col), col, v)
            frames.append(df)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=self.columns)

    def forecasts(self, x_new, prob: float = 0.9, kind: str = "predictive") -> pd.DataFrame:
        return self._table(lambda f: f.forecast(x_new, prob=prob, kind=kind))

    def breaks(self, prob: float = 0.9) -> pd.DataFrame:
        return self._table(lambda f: f.break_positions(prob))

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


def read_meta(path: Path) -> dict:
    """store.json, checked: a store of another format, or a damaged file, is named, not misread."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError both are
        raise ValueError(f"{path} is not valid JSON ({e}); restore it or use a new store directory") from None
    if not isinstance(meta, dict) or "group" not in meta or "format" not in meta:
        raise ValueError(f"{path} is not a bnsl-bayes store description (no format/group fields)")
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


def load_store(path) -> Store:
    """Open a directory written by `fit_many` and read it back as tables.

    >>> s = load_store("runs/")                   # doctest: +SKIP
    >>> s.forecasts([1e9, 1e10], prob=0.9)        # doctest: +SKIP
    >>> s.breaks(); s.diagnostics(); s.errors()   # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no store directory at {path}")
    return Store(path)
