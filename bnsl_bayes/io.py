"""Saving and loading fits (netCDF via ArviZ), written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

# Bump when the layout of a saved fit changes in a way older readers cannot interpret.
FORMAT_VERSION = 1


def _read_umask() -> int:
    # Linux reports it without changing it; elsewhere the only way to read it is to set it (done
    # once, at import, with the process's own mask restored at once).
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def atomic_write(path, write) -> Path:
    """Call write(tmp_path) then rename onto `path`, so a crash never leaves a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        # mkstemp creates the file private (0600); give it the mode a plain open() would
        os.chmod(tmp, 0o666 & ~_UMASK)
        # On disk before the rename, so that a power cut cannot leave an empty file under `path`.
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_directory(path.parent)
    return path


def _fsync_directory(directory) -> None:
    """Put a rename on disk: until the directory's entry is, a power cut can bring back the old
    file under the name (or no file, for a new name), even though the new file's data was synced."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory; its rename is as durable as it gets
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a directory: nothing more can be done
        pass
    finally:
        os.close(fd)


def save_fit(fit, path) -> Path:
    return atomic_write(path, lambda tmp: fit.idata.to_netcdf(tmp, engine="h5netcdf"))


def load(path):
    """Load a fit saved with `Fit.save` (or a `Family`, a `PriorFit`); refuses files from an incompatible format version, and damaged ones.

    >>> fit = load("fit.nc")  # doctest: +SKIP
    """
    import arviz as az

    from .fit import Fit
    from .prior import PriorFit

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved fit at {path}")
    try:
        idata = az.from_netcdf(path, engine="h5netcdf")
    except Exception as e:  # a truncated or foreign file: say which, not an HDF5 traceback
        raise ValueError(f"{path} is not a readable bnsl-bayes fit ({type(e).__name__}: {e})") from None
    idata.load() if hasattr(idata, "load") else None
    kind = check_saved(idata, path)
    try:
        if kind == "posterior" and "family" in idata.posterior.attrs:  # a joint fit of several curves
            from .family import Family

            return Family(idata)
        return PriorFit(idata) if kind == "prior" else Fit(idata)
    except ValueError as e:  # e.g. a spec the saved metadata describes but this version refuses
        raise ValueError(f"{path}: {e}") from None


# What Fit reads from a saved file: answers (posterior), data (observed_data), LOO
# (log_likelihood), diagnostics (sample_stats) and the metadata that rebuilds the model. A saved
# PriorFit (`bnsl_bayes.prior`) holds prior draws and data only.
SAVED_GROUPS = {"posterior": (), "observed_data": ("x", "y"), "log_likelihood": ("y",),
                "sample_stats": ("diverging",)}
SAVED_PRIOR_GROUPS = {"prior": (), "observed_data": ("x", "y")}
SAVED_ATTRS = ("format_version", "spec", "seed")


def check_saved(idata, path) -> str:
    """Refuse a file Fit cannot read, naming what is missing, before Fit fails deep inside with a
    KeyError or AttributeError. Returns what the file holds: "posterior" (a fit) or "prior"."""
    groups = set(idata.groups())
    kind = "prior" if "prior" in groups and "posterior" not in groups else "posterior"
    needed = SAVED_PRIOR_GROUPS if kind == "prior" else SAVED_GROUPS
    attrs = idata[kind].attrs if kind in groups else {}
    if not all(a in attrs for a in ("format_version", "spec")):
        raise ValueError(f"{path} is not a bnsl-bayes fit (no format_version/spec metadata)")
    try:
        version = int(attrs["format_version"])
    except (TypeError, ValueError):
        raise ValueError(f"{path}: format_version {attrs['format_version']!r} is not a number") from None
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{path} was written by bnsl-bayes {attrs.get('bnsl_bayes_version', '?')} in format {version}; "
            f"this version reads format {FORMAT_VERSION}. Refit with this version."
        )
    missing = [g for g in needed if g not in groups]
    missing += [f"{g}/{v}" for g, names in needed.items() if g in groups for v in names if v not in idata[g]]
    missing += [f"attribute {a}" for a in SAVED_ATTRS if a not in attrs]
    if missing:
        raise ValueError(f"{path} is a damaged bnsl-bayes fit: no {', '.join(missing)}")
    try:
        json.loads(attrs["spec"])
    except ValueError as e:
        raise ValueError(f"{path} is a damaged bnsl-bayes fit: its spec is not valid JSON ({e})") from None
    return kind
