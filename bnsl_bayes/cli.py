"""The ``bnsl-bayes`` command: fit scaling curves from a table and query the saved posteriors.

Every subcommand is a thin layer over the Python API (``bnsl_bayes.fit``, ``Fit.forecast``,
``Fit.break_positions``, ``Fit.reach``, ``bnsl_bayes.compare``, ``bnsl_bayes.plots``), so the
command line and the library can never disagree. Bad input exits with status 2 and one line on
stderr, never a traceback: a user fixing a CSV needs the column and row, not our call stack.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import warnings
from pathlib import Path

from .table import numeric_columns, read_table, require_columns

PROG = "bnsl-bayes"

EXAMPLES = f"""\
examples:
  {PROG} demo                                   # fit the bundled 4-digit addition curve
  {PROG} fit runs.csv --x tokens --y loss --out fit.nc
  {PROG} fit runs.csv --x tokens --y loss --breaks auto --out fit.nc
  {PROG} fit runs.csv --x tokens --y loss --breaks auto --keep-all --out fit.nc
  {PROG} fit runs.parquet --x tokens --y loss --group model --out fits/
  {PROG} forecast fit.nc --at 1e10 1e11 --prob 0.9
  {PROG} forecast fit.nc --at 1e10 --json
  {PROG} breaks fit.nc
  {PROG} prior runs.csv --x tokens --y loss --breaks 1 --out prior.nc   # what the priors say
  {PROG} forecast prior.nc --at 1e10
  {PROG} reach fit.nc --target 2.0 1.9 --x-max 1e13
  {PROG} compare fit0.nc fit1.nc fit2.nc
  {PROG} backtest runs.csv --x tokens --y loss --cuts 0.5 0.7   # how it would have forecast your later points
  {PROG} contrast recipe_a.nc recipe_b.nc --at 1e11   # which recipe is lower at 1e11, where they cross
  {PROG} forecast fit.bnsl-*.nc --at 1e10          # LOO-stacked average of --keep-all's fits
  {PROG} plot fit.nc --out fit.png --heldout test.csv --x tokens --y loss
  {PROG} fit-many runs.csv --x tokens --y loss --group model --breaks auto --store fits/
  {PROG} forecast fits/ --at 1e10                  # one row per curve: each one's LOO-stacked average
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (argparse's default dumps the whole usage first)."""

    def error(self, message):
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


# --------------------------------------------------------------------------------------- input


def curves(df, group):
    """(label, rows) per curve: the whole table, or one per value of the --group columns.

    An empty group cell is an error naming its row (as in fit-many), never a curve called 'nan'.
    """
    from .validate import check_group_columns

    if not group:
        yield None, df
        return
    check_group_columns(df, group)
    for key, rows in df.groupby(group, sort=True):
        yield group_label(key), rows


def group_label(key) -> str:
    """A curve's label from its groupby key: its values joined by '-'."""
    return "-".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))


def output_path(out: str, label: str | None, data_path: Path, suffix: str = ".nc") -> Path:
    """Where a curve's file is written: OUT, OUT_STEM.<group>.nc, or DIR/<group or data stem>.nc for
    OUT ending in '/' or naming a directory that exists (`suffix` for other files than fits)."""
    is_dir = out.endswith(("/", os.sep)) or Path(out).is_dir()
    name = data_path.stem if label is None else re.sub(r"[^A-Za-z0-9._=+-]+", "_", label)
    if is_dir:
        return Path(out) / f"{name}{suffix}"
    if label is None:
        return Path(out)
    p = Path(out)
    return p.with_name(f"{p.stem}.{name}{p.suffix or suffix}")


# -------------------------------------------------------------------------------------- output


def refuse_overwriting_inputs(outputs, inputs) -> None:
    """Refuse an output path that is one of the input files (same file by os.path.samefile, so
    './runs.csv' or a link count too): writing it would replace the user's data or fit with ours.
    An output that does not exist yet cannot be an input."""
    existing = [p for p in inputs if p is not None and os.path.exists(p)]
    for out in outputs:
        if os.path.exists(out):
            for source in existing:
                if os.path.samefile(out, source):
                    raise ValueError(f"output {out} is the input file {source}: choose another output path")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def save_figure(fig, path) -> Path:
    """Write a figure atomically (format from the file's suffix, PNG if it has none)."""
    from .io import atomic_write

    path = Path(path)
    fmt = path.suffix[1:].lower() or "png"
    return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=150, format=fmt))


def print_table(df) -> None:
    print(df.to_string(index=False, float_format=_fmt))


def _json_value(v):
    """JSON has no inf/nan: write null (e.g. a target not reached by x_max), as pandas does; inside
    dicts and lists too."""
    if isinstance(v, dict):
        return {k: _json_value(u) for k, u in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_value(u) for u in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item"):  # numpy scalar
        return _json_value(v.item())
    return v


def print_json(records) -> None:
    """A dict or a list of records as one line of JSON (`_json_value` of every value)."""
    print(json.dumps(_json_value(records)))


def report_error(message) -> None:
    """What every command prints when it cannot go on (bad input, a curve that failed): one line on
    stderr with the shared prefix, so scripts and users can grep for it."""
    print(f"{PROG}: error: {' '.join(str(message).split())}", file=sys.stderr)


def warn(message: str) -> None:
    print(f"{PROG}: warning: {' '.join(str(message).split())}", file=sys.stderr)


def show_progress(args) -> bool:
    """Progress bars only for a person watching a terminal: not in logs, pipes or with --quiet."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def describe(fit) -> str:
    import numpy as np

    from .forecast import log_y_se

    d = fit.diagnostics()
    # Say that the fit weighed its points by known errors: the same data fit differently without them.
    errs = "" if fit.y_err is None else f" (known errors, median {np.median(log_y_se(fit.y, fit.y_err)):.1%} of y)"
    return (f"{fit.spec.name}: {len(fit.x)} points{errs}, {fit.x_name} in [{fit.x.min():.4g}, {fit.x.max():.4g}]; "
            f"r_hat_max {d['r_hat_max']:.3f} (curve: {d['r_hat_curve_max']:.3f}), ess_bulk_min {d['ess_bulk_min']:.0f}, "
            f"divergences {d['divergences']}")


# -------------------------------------------------------------------------------------- fitting


def sampler_options(args) -> dict:
    """The sampler settings given on the command line (the spec's stand for the rest)."""
    opts = {k: getattr(args, k) for k in ("chains", "tune", "draws", "target_accept", "coordinates")}
    return {k: v for k, v in opts.items() if v is not None}


def auto_specs(monotone: bool) -> list:
    """The shipped specs --breaks auto fits: 0, 1 and 2 breaks (monotone or not)."""
    from .spec import shipped_name

    return [shipped_name(b, monotone) for b in (0, 1, 2)]


def kept_path(out: Path, spec_name: str) -> Path:
    """Where --keep-all writes the fit of `spec_name` next to OUT: OUT_STEM.<spec>.nc."""
    return out.with_name(f"{out.stem}.{spec_name}{out.suffix or '.nc'}")


Y_ERR_HELP = ("column of the known standard error of each y, same units as y (e.g. sqrt(p(1-p)/n) for an "
              "error rate on n test examples): a noisy point pulls the curve less (default: none)")


def fit_one(x, y, breaks, args, x_name, y_name, spec=None, y_err=None):
    """Fit one curve; returns (fit, fits, note, warnings). breaks="auto" fits 0, 1 and 2 breaks and
    keeps the one `bnsl_bayes.choose` picks by PSIS-LOO, with `note` saying why, and `fits` holds all
    three by spec name (the kept one alone otherwise); `spec` (a loaded ModelSpec) replaces the
    shipped one. The core's convergence warnings are returned as text so the caller can print them
    next to the curve they concern.
    """
    import bnsl_bayes
    from bnsl_bayes.spec import shipped_name

    kw = dict(seed=args.seed, x_name=x_name, y_name=y_name, y_err=y_err, progress=show_progress(args),
              **sampler_options(args))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        monotone = getattr(args, "monotone", False)  # `demo` has no --monotone
        if spec is not None or breaks != "auto":
            fit = bnsl_bayes.fit(x, y, spec=spec if spec is not None else shipped_name(int(breaks), monotone), **kw)
            fits, note = {fit.spec.name: fit}, ""
        else:
            # Only the kept fit's warnings concern the user: the others are not saved.
            fits = {name: bnsl_bayes.fit(x, y, spec=name, warn=False, **kw) for name in auto_specs(monotone)}
            fit, note = choose_by_loo(fits)
            fit.warn_if_unconverged()
            fit.warn_if_rising()
    return fit, fits, note, [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]


def choose_by_loo(fits: dict):
    """The fit `bnsl_bayes.choose` keeps by PSIS-LOO (its default rule), and a sentence saying why."""
    import bnsl_bayes

    table = bnsl_bayes.compare(fits)
    kept, best = bnsl_bayes.choose(fits, table=table), str(table.index[0])
    if kept == best:
        other = str(table.index[1])
        r = table.loc[other]
        note = (f"kept {best} by LOO: elpd_loo {table.loc[best, 'elpd_loo']:.1f} vs {r['elpd_loo']:.1f} for "
                f"{other} (difference {r['elpd_diff']:.1f} +/- {r['dse']:.1f})")
    else:
        r = table.loc[kept]
        note = (f"kept {kept}, the fewest breaks within one standard error of the LOO-best {best}: elpd_loo "
                f"{r['elpd_loo']:.1f} vs {table.loc[best, 'elpd_loo']:.1f} (difference {r['elpd_diff']:.1f} "
                f"+/- {r['dse']:.1f})")
    note += "; stacking weights " + ", ".join(f"{k} {w:.2f}" for k, w in table["weight"].items())
    rough = [str(k) for k, w in table["warning"].items() if w] if "warning" in table else []
    if rough:  # ArviZ flags Pareto k above min(1 - 1/log10 S, 0.7): that fit's LOO is itself uncertain
        note += (f"; PSIS-LOO is rough for {', '.join(rough)} (Pareto k above ArviZ's ~0.7 threshold at "
                 "some points), so read the "
                 "difference as a rough guide")
    return fits[kept], note


def cmd_fit(args) -> int:
    from tqdm.auto import tqdm

    from .fit import curve_input
    from .spec import load_spec

    spec = None
    if args.spec is not None:  # a spec names its own breaks and shape: refuse settings that disagree
        if args.monotone or args.breaks == "auto":
            raise ValueError("--spec names the model itself: not with --monotone or --breaks auto "
                             "(e.g. --spec bnsl-1-monotone)")
        spec = load_spec(args.spec, breaks=args.breaks)  # checked before any data is read
    breaks = 1 if args.breaks is None else args.breaks
    if args.keep_all and breaks != "auto":
        raise ValueError("--keep-all writes the three fits --breaks auto compares: use it with --breaks auto")
    if args.family and (not args.group or breaks == "auto" or args.monotone):
        raise ValueError("--family fits the --group curves jointly: it needs --group, and one model "
                         "(not --breaks auto; not --monotone, whose slope changes cannot be pooled)")
    data_path, df = curve_table(args)
    groups = list(curves(df, args.group))
    if args.family and len(groups) < 2:
        raise ValueError(f"--family needs at least 2 curves; --group {' '.join(args.group)} names {len(groups)}")
    errors = (lambda rows: rows[args.y_err]) if args.y_err else (lambda rows: None)
    # Check every curve before sampling any: a bad row 900 should not cost 899 rows of fitting.
    targets, written = {}, {}  # label -> OUT; every file to write -> its curve's label
    for label, rows in groups:
        where = data_path.name if label is None else f"{data_path.name}, group {label}"
        try:
            curve_input(rows[args.x], rows[args.y], args.x, args.y, errors(rows))
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
        out = output_path(args.out, label, data_path)
        for path in [out, *(kept_path(out, n) for n in auto_specs(args.monotone) if args.keep_all)]:
            if path in written:
                raise ValueError(f"groups {written[path]!r} and {label!r} both map to the file name {path}; "
                                 "rename one of them")
            written[path] = label
        targets[label] = out
    refuse_overwriting_inputs(written, [data_path, args.spec])
    if args.family:
        return fit_family_members(args, df, spec if spec is not None else f"bnsl-{breaks}", list(targets.items()))

    bar = tqdm(groups, desc="curves", unit="curve", file=sys.stderr,
               disable=not show_progress(args) or len(groups) < 2)
    for label, rows in bar:
        fit, fits, note, problems = fit_one(rows[args.x], rows[args.y], breaks, args, args.x, args.y, spec,
                                            errors(rows))
        fit.save(targets[label])
        prefix = "" if label is None else f"[{label}] "
        print(f"{prefix}{describe(fit)} -> {targets[label]}", flush=True)
        if note:
            print(f"{prefix}{note}", flush=True)
        if args.keep_all:
            kept = [kept_path(targets[label], name) for name in fits]
            for f, path in zip(fits.values(), kept):
                f.save(path)
            print(f"{prefix}all {len(kept)} fits -> {', '.join(map(str, kept))} (their LOO-stacked average: "
                  f"{PROG} forecast {' '.join(map(str, kept))} --at X)", flush=True)
        for message in problems:
            warn(prefix + message)
    return 0


def fit_family_members(args, df, spec, targets) -> int:
    """fit --family: the --group curves as one family (`bnsl_bayes.fit_family`), each member saved where
    a grouped fit saves its curve (every other command reads it as a fit), the pooled parameters printed."""
    from .family import fit_family

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        fam = fit_family(df, args.x, args.y, args.group, seed=args.seed, y_err=args.y_err, spec=spec,
                         progress=show_progress(args), **sampler_options(args))
    # fit_family and `curves` split the table by the same sorted groupby: members come in label order
    for name, (label, path) in zip(fam.names, targets):
        fam[name].save(path)
        print(f"[{label}] {describe(fam[name])} -> {path}", flush=True)
    d = fam.diagnostics()
    print(f"family of {len(fam)} curves, pooled {', '.join(fam.pool)}: r_hat_max {d['r_hat_max']:.3f} "
          f"(at {d['r_hat_worst']}), divergences {d['divergences']}; across curves (centre: their common "
          "value; spread: sd between curves; median and central 90% interval):")
    print_table(fam.population().drop(columns="break" if fam.spec.breaks < 2 else []))
    for w in caught:
        if issubclass(w.category, RuntimeWarning):
            warn(str(w.message))
    return 0


def one_spec(args, what: str):
    """The one model `prior` and `backtest` use: --spec, else bnsl-<breaks> (monotone with --monotone)."""
    from .spec import load_spec, shipped_name

    if args.breaks == "auto":
        raise ValueError(f"{what}: give --breaks N or --spec, not --breaks auto")
    if args.spec is not None and args.monotone:
        raise ValueError("--spec names the model itself: not with --monotone (e.g. --spec bnsl-1-monotone)")
    if args.spec is not None:
        return load_spec(args.spec, breaks=args.breaks)
    return shipped_name(1 if args.breaks is None else args.breaks, args.monotone)


def curve_table(args):
    """(path, table) of a command's data file: its --x and --y (and --y-err) columns checked numeric,
    its --group columns (if the command has them) kept as text."""
    group = getattr(args, "group", None) or []
    numbers = [args.x, args.y, *([args.y_err] if getattr(args, "y_err", None) else [])]
    data_path = Path(args.data)
    df = read_table(data_path, text_columns=group)
    require_columns(df, [*numbers, *group], data_path)
    return data_path, numeric_columns(df, numbers, data_path)


def cmd_prior(args) -> int:
    import bnsl_bayes

    spec = one_spec(args, "prior draws one spec's prior")
    data_path, df = curve_table(args)
    refuse_overwriting_inputs([args.out], [data_path, args.spec])
    try:
        p = bnsl_bayes.prior(df[args.x], df[args.y], spec=spec, seed=args.seed, draws=args.draws,
                             x_name=args.x, y_name=args.y)
    except ValueError as e:
        raise ValueError(f"{data_path.name}: {e}") from None
    p.save(args.out)
    print(f"prior of {p.spec.name} on the window of {len(p.x)} points, {p.x_name} in [{p.x.min():.4g}, "
          f"{p.x.max():.4g}]: {args.draws} draws -> {args.out} (forecast, breaks, reach and plot read it as they "
          "read a fit)", flush=True)
    if p.breaks:
        print(f"prior break positions in {p.x_name}; lower/upper: central 90% interval")
        print_table(p.break_positions(0.9))
    return 0


def parse_cut(text: str):
    """A --cuts value: an int counts distinct x fitted (a negative one from the end), a decimal is a share of them."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: use a number of distinct x (e.g. 8, or -1 for all but the last) "
                                         "or a share (e.g. 0.7)") from None


def backtest_model(args):
    """The spec (or, for --breaks auto, the list of specs averaged) a backtest fits at each cut."""
    if args.breaks != "auto":
        return one_spec(args, "backtest")
    if args.spec is not None:
        raise ValueError("--breaks auto averages the shipped 0, 1 and 2 break specs: not with --spec")
    return auto_specs(args.monotone)


def backtest_curves(args, data_path, df, spec) -> dict:
    """label -> Backtest of each curve (label None without --group), all fits spread over --workers or
    --scheduler together; every curve and cut is checked before any fit (a bad last group costs no
    fits), and each fit's warnings are printed naming its curve and cut."""
    import bnsl_bayes

    run = dict(cuts=args.cuts, spec=spec, seed=args.seed, prob=args.prob, workers=args.workers,
               client=args.scheduler, progress=show_progress(args), **sampler_options(args))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        try:
            if args.group:
                group = args.group[0] if len(args.group) == 1 else args.group
                results = {group_label(k): bt for k, bt in
                           bnsl_bayes.backtest_many(df, args.x, args.y, group, y_err=args.y_err, **run).items()}
            else:
                errs = df[args.y_err] if args.y_err else None
                results = {None: bnsl_bayes.backtest(df[args.x], df[args.y], y_err=errs, **run)}
        except ValueError as e:
            raise ValueError(f"{data_path.name}: {e}") from None
    for w in caught:
        if issubclass(w.category, RuntimeWarning):
            warn(str(w.message))
    return results


def backtest_tables(results: dict):
    """(summary, points, pooled) of all curves' backtests: the tables with a curve column first when
    there are groups, and the scores and calibration pooled over every curve's later points."""
    import pandas as pd

    from .backtest import pooled_calibration

    summaries, tables = [], []
    for label, bt in results.items():
        summary, points = bt.summary(), bt.points
        if label is not None:
            summary.insert(0, "curve", label)
            points = points.assign(curve=label)[["curve", *points.columns]]
        summaries.append(summary)
        tables.append(points)
    summary, points = pd.concat(summaries, ignore_index=True), pd.concat(tables, ignore_index=True)
    pooled = {"curves": len(results), "cuts": len(summary), "points": len(points),
              "inside": int(points["inside"].sum()), "mean_log_density": float(summary["mean_log_density"].mean())}
    cal = pooled_calibration(results)
    pooled["calibration"] = {f"{level:g}": float(v) for level, v in zip(cal["level"], cal["inside"])}
    return summary, points, pooled


def cmd_backtest(args) -> int:
    spec = backtest_model(args)
    data_path, df = curve_table(args)
    labels = [label for label, _ in curves(df, args.group)]
    plots = {label: output_path(args.plot, label, data_path, suffix=".png") for label in labels} if args.plot else {}
    refuse_overwriting_inputs([p for p in (args.out, args.calibration_plot, *plots.values()) if p],
                              [data_path, args.spec])
    results = backtest_curves(args, data_path, df, spec)
    summary, points, pooled = backtest_tables(results)
    if args.json:
        print_json({"summary": summary.to_dict(orient="records"), "points": points.to_dict(orient="records"),
                    "pooled": pooled})
    else:
        print(f"backtest of {next(iter(results.values())).label}: each cut fits the points up to x_cut and "
              f"forecasts the rest (central {args.prob:.0%} predictive interval)")
        print_table(summary)
        if args.group:
            print(f"\nall {pooled['curves']} curves: {pooled['inside']} of {pooled['points']} later points inside "
                  f"their {args.prob:.0%} intervals ({pooled['inside'] / pooled['points']:.2f}); mean log density "
                  f"{pooled['mean_log_density']:.3f} (mean over the {pooled['cuts']} cuts)")
        else:
            print()
            print_table(points)
        print("\nshare of the later points inside the central interval of each level (calibrated: equal to the "
              "level): " + ", ".join(f"{float(k):.0%} {v:.2f}" for k, v in pooled["calibration"].items()))
    report = sys.stderr if args.json else sys.stdout
    if args.out:
        from .io import atomic_write

        atomic_write(Path(args.out), lambda tmp: points.to_csv(tmp, index=False))
        print(f"wrote {args.out}", file=report)
    if plots or args.calibration_plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from .plots import plot_backtest, plot_calibration

        drawn = {path: (plot_backtest, results[label]) for label, path in plots.items()}
        if args.calibration_plot:
            drawn[args.calibration_plot] = (plot_calibration, results)
        for path, (draw, what) in drawn.items():
            fig, _ = draw(what)
            save_figure(fig, path)
            plt.close(fig)
            print(f"wrote {path}", file=report)
    return 0


# ------------------------------------------------------------------------------ queries of a fit


def load_fit(path):
    import bnsl_bayes

    if Path(path).is_dir():
        raise ValueError(f"{path} is a directory, not a fit file: forecast, reach and breaks read a fit-many store "
                         "directory alone; plot and compare take fit files")
    return bnsl_bayes.load(path)


def load_fits(paths) -> dict:
    """name -> fit for several fit files: named by file stem, or by full path when two stems agree."""
    paths = [Path(p) for p in paths]
    names = [p.stem for p in paths] if len({p.stem for p in paths}) == len(paths) else [str(p) for p in paths]
    if len(set(names)) != len(names):
        raise ValueError("the same fit file is given twice")
    return {n: load_fit(p) for n, p in zip(names, paths)}


def model_average(paths):
    """`bnsl_bayes.compare.one_or_average` of the fit files a query names: (fits, fit, weights,
    label), with fits None for one file. Several files are mixed by their LOO stacking weights: on
    the benchmark's context points the stacked average of 0, 1 and 2 breaks forecast better than
    keeping one of them (benchmarks/break_selection.py: mean log density 3.020 vs 2.926)."""
    from .compare import one_or_average

    return one_or_average(fits_or_fit(paths))


def fits_or_fit(paths):
    """The fit a single path names, or name -> fit for several (`load_fits`)."""
    fits = load_fits(paths)
    return fits if len(fits) > 1 else next(iter(fits.values()))


def store_of(paths):
    """The fit-many store a single directory argument names (a Store, or an AveragedStore whose
    answers are each curve's LOO-stacked average), else None."""
    if len(paths) == 1 and Path(paths[0]).is_dir():
        from .store import load_store

        store = load_store(paths[0])
        if not store.keys:
            raise ValueError(f"store {paths[0]} holds no finished fit (see its errors: load_store(...).errors())")
        return store
    return None


def print_store_answer(store, table, args, what: str) -> int:
    """A table over a store's curves (group columns first), headed by what it is and of which model."""
    if args.json:
        print_json(table.to_dict(orient="records"))
        return 0
    first = store.fits[store.keys[0]]
    fit = next(iter(first.values())) if isinstance(first, dict) else first
    n = len(store.keys)
    print(f"{n} curve{'s' * (n != 1)} of {store.path}, {store.label()}: {what.format(x=fit.x_name, y=fit.y_name)}; "
          f"lower/upper: central {args.prob:.0%} interval")
    print_table(table.drop(columns=[c for c in ("mean",) if c in table]))
    return 0


def cmd_forecast(args) -> int:
    from .validate import check_x_new

    import bnsl_bayes

    x_at = check_x_new(args.at, "--at")  # named as the user typed it, not as the Python argument
    y_err, measured = planned_errors(args, len(x_at))
    store = store_of(args.fit)
    if store is not None:
        what = "posterior predictive" if args.kind == "predictive" else "noise-free curve"
        return print_store_answer(store, store.forecasts(x_at, prob=args.prob, kind=args.kind, y_err=y_err), args,
                                  what + " of {y}" + measured + " (--json adds the mean)")
    fits, fit, weights, label = model_average(args.fit)
    if fits is None:
        table = fit.forecast(x_at, prob=args.prob, kind=args.kind, y_err=y_err)
    else:
        table = bnsl_bayes.averaged_forecast(fits, x_at, prob=args.prob, kind=args.kind, weights=weights, y_err=y_err)
    if args.json:
        print_json(table.to_dict(orient="records"))
    else:
        what = f"{fit.source} predictive" if args.kind == "predictive" else f"noise-free {fit.source} curve"
        # The mean is left to --json: far past the data it is ruled by rare extreme draws and can sit
        # far above the median (see forecast.summarize), which misleads more than it informs here.
        print(f"{label} {what} of {fit.y_name}{measured}; lower/upper: central {args.prob:.0%} interval "
              "(--json adds the mean)")
        print_table(table[["x", "median", "lower", "upper"]])
    return 0


def planned_errors(args, n: int):
    """(y_err for `Fit.forecast`, how the header names it) from forecast's --y-err / --test-examples."""
    from .forecast import error_rate_se
    from .validate import check_planned_y_err

    if args.y_err is not None and args.test_examples is not None:
        raise ValueError("--y-err and --test-examples both give the measurements' errors: use one")
    if args.y_err is not None:
        if len(args.y_err) not in (1, n):
            raise ValueError(f"--y-err: give one standard error, or one per --at value ({n}), got {len(args.y_err)}")
        errs = check_planned_y_err(args.y_err[0] if len(args.y_err) == 1 else args.y_err, n, "--y-err")
        return errs, " as measured with standard error --y-err"
    if args.test_examples is not None:
        if args.test_examples < 1:
            raise ValueError(f"--test-examples must be >= 1, got {args.test_examples}")
        return error_rate_se(args.test_examples), f" as read off {args.test_examples} test examples"
    return None, ""


def cmd_run_value(args) -> int:
    from .validate import check_x_new

    fit = load_fit(args.fit)
    y_err, measured = planned_errors(args, 1)
    table = fit.run_value(check_x_new(args.runs, "--runs"), check_x_new(args.at, "--at"), prob=args.prob,
                          readings=args.readings, y_err=y_err, workers=args.workers, client=args.scheduler)
    if args.json:
        print_json(table.to_dict(orient="records"))
        return 0
    print(f"{fit.spec.name}: how a run at x_run ({fit.x_name}) would narrow the central {args.prob:.0%} band of "
          f"the {fit.y_name} curve at x_target; widths in e-folds of y (log(upper / lower)), after: the mean over "
          f"{args.readings} possible readings{measured}, each refitted")
    print_table(table)
    bad = table.r_hat_max.max()
    if bad > 1.01:
        print(f"note: some refits did not converge well (r_hat_max up to {bad:.3f}); their widths carry that noise")
    return 0


def cmd_breaks(args) -> int:
    store = store_of([args.fit])
    if store is not None:
        return print_store_answer(store, store.breaks(args.prob), args, "break positions in {x} (one row per "
                                  "break of each spec's fit)" if hasattr(store, "specs") else "break positions in {x}")
    fit = load_fit(args.fit)
    table = fit.break_positions(args.prob)
    if args.json:
        print_json(table.to_dict(orient="records"))
    elif table.empty:
        print(f"{fit.spec.name} has no breaks")
    else:
        print(f"{fit.spec.name} {fit.source} break positions in {fit.x_name}; lower/upper: central {args.prob:.0%} interval; "
              f"prob_beyond_data: P(break past the largest fitted x = {fit.x.max():.4g})")
        print_table(table)
    return 0


def cmd_reach(args) -> int:
    import bnsl_bayes

    where = dict(prob=args.prob, x_max=args.x_max, direction=args.direction, x_from=args.x_from)
    store = store_of(args.fit)
    if store is not None:
        return print_store_answer(store, store.reach(args.target, **where), args,
                                  "{x} at which each curve reaches {y} = target (inf: not reached by x_max)")
    fits, fit, weights, label = model_average(args.fit)
    target = args.target[0] if len(args.target) == 1 else args.target
    if fits is None:
        result = fit.reach(target, **where)
    else:
        result = bnsl_bayes.averaged_reach(fits, target, weights=weights, **where)
    if args.json:
        print_json(result.to_dict() if len(args.target) == 1 else result.to_dict(orient="records"))
        return 0
    levels = ", ".join(f"{t:g}" for t in args.target)
    print(f"{fit.x_name} at which the {label} {fit.source} curve reaches {fit.y_name} = {levels} "
          f"(inf: not reached by x_max; lower/upper: central {args.prob:.0%} interval; prob_before_data: "
          f"already there where the search starts, so an answer of that x means 'there or earlier')")
    if len(args.target) == 1:
        for k, v in result.items():
            print(f"  {k:<17}{_fmt(float(v))}")
    else:
        print_table(result)
    return 0


def cmd_compare(args) -> int:
    import bnsl_bayes

    table = bnsl_bayes.compare(load_fits(args.fits))
    if args.json:
        print_json(table.reset_index(names="fit").to_dict(orient="records"))
    else:
        print("PSIS-LOO comparison, best first (elpd_diff and dse relative to the best; weight: stacking)")
        print(table.to_string(float_format=_fmt))
    return 0


def cmd_contrast(args) -> int:
    import bnsl_bayes

    from .validate import check_x_new

    a, b = load_fit(args.a), load_fit(args.b)
    if args.plot:
        refuse_overwriting_inputs([args.plot], [args.a, args.b])
    table = None if args.at is None else bnsl_bayes.contrast(a, b, check_x_new(args.at, "--at"), prob=args.prob,
                                                             kind=args.kind)
    cross = bnsl_bayes.crossover(a, b, prob=args.prob, x_max=args.x_max, x_from=args.x_from)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        from .plots import plot_crossover

        fig, _ = plot_crossover(a, b, prob=args.prob, x_from=args.x_from, search_max=args.x_max)
        save_figure(fig, args.plot)
    if args.json:
        print_json({"contrast": None if table is None else table.to_dict(orient="records"),
                    "crossover": cross.to_dict()})
        return 0
    print(f"A = {args.a} ({a.spec.name}, {a.y_name} vs {a.x_name}), B = {args.b} ({b.spec.name}, {b.y_name} vs "
          f"{b.x_name}); lower/upper: central {args.prob:.0%} interval")
    if table is not None:
        what = "new runs (observation noise included)" if args.kind == "predictive" else "noise-free curves"
        print(f"{what}: prob_a_lower = P(A below B), ratio = A / B")
        print_table(table)
    lead = "A" if cross["prob_a_lower_at_start"] >= 0.5 else "B"
    print(f"crossing: where the curves' order at {a.x_name} = {cross['x_from']:.4g} flips ({lead} is lower there "
          f"with P = {max(cross['prob_a_lower_at_start'], 1 - cross['prob_a_lower_at_start']):.2f}): median "
          f"{cross['median']:.4g} [{cross['lower']:.4g}, {cross['upper']:.4g}]; P(crossed by {cross['x_max']:.4g}) = "
          f"{cross['prob_crossed']:.2f} (inf: not by then)")
    if args.plot:
        print(f"wrote {args.plot}")
    return 0


def cmd_plot(args) -> int:
    import matplotlib

    matplotlib.use("Agg")  # a file is written; no window is opened, so no display is needed
    from .plots import plot_forecast
    from .validate import check_xy

    refuse_overwriting_inputs([args.out], [*args.fit, args.heldout])
    fit = fits_or_fit(args.fit)  # several: plot_forecast mixes them by their stacking weights
    heldout = None
    if args.heldout:
        if not (args.x and args.y):
            raise ValueError("--heldout needs --x and --y to name its columns")
        df = read_table(args.heldout)
        require_columns(df, [args.x, args.y], args.heldout)
        df = numeric_columns(df, [args.x, args.y], args.heldout)
        try:
            heldout = check_xy(df[args.x], df[args.y], args.x, args.y, min_distinct_x=1)
        except ValueError as e:
            raise ValueError(f"{Path(args.heldout).name}: {e}") from None
    fig, _ = plot_forecast(fit, x_max=args.at_max, prob=tuple(args.prob), heldout=heldout)
    out = save_figure(fig, args.out)
    print(f"wrote {out}")
    return 0


# ----------------------------------------------------------------------------------------- demo


def cmd_demo(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from .datasets import four_digit_addition
    from .plots import plot_forecast

    data = four_digit_addition()
    train, held = data[data["role"] == "fit"], data[data["role"] == "extrapolate"]
    print(f"4-digit addition (BNSL paper, Fig. 4): fitting a 1-break BNSL to {len(train)} points "
          f"(training set size {train.x.min():g}..{train.x.max():g}), forecasting {len(held)} held-out points")
    fit, _, _, problems = fit_one(train.x, train.y, 1, args, "training set size", "test cross-entropy")
    print(describe(fit), flush=True)
    for message in problems:
        warn(message)

    prob = 0.9
    fc = fit.forecast(held["x"], prob=prob)
    fc.insert(1, "true", held["y"].to_numpy())
    fc["inside"] = ((fc["lower"] <= fc["true"]) & (fc["true"] <= fc["upper"])).map({True: "yes", False: "NO"})
    print(f"\nforecast of test cross-entropy at the held-out sizes (central {prob:.0%} predictive interval):")
    print_table(fc[["x", "true", "median", "lower", "upper", "inside"]])

    bp = fit.break_positions(prob).iloc[0]
    where = "inside" if bp["upper"] <= fit.x.max() else "possibly beyond"
    print(f"\nbreak: training set size {bp['median']:.4g} ({prob:.0%} interval {bp['lower']:.4g} to "
          f"{bp['upper']:.4g}), {where} the data window; P(beyond data) = {bp['prob_beyond_data']:.2f}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fit.save(out / "four_digit_addition.nc")
    fig, _ = plot_forecast(fit, heldout=(held["x"], held["y"]))
    save_figure(fig, out / "four_digit_addition.png")
    print(f"\nwrote {out / 'four_digit_addition.nc'} and {out / 'four_digit_addition.png'}")
    print(f"next: {PROG} forecast {out / 'four_digit_addition.nc'} --at 1000 2000")
    return 0


# --------------------------------------------------------------------------------------- parser


def _prob(text: str) -> float:
    v = float(text)
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"{text} is not strictly between 0 and 1")
    return v


def parse_breaks(text: str):
    if text == "auto":
        return text
    if text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(f"{text!r}: use a number of breaks (0, 1, 2, ...) or 'auto'")


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(prog=PROG, formatter_class=fmt, epilog=EXAMPLES,
                     description="Bayesian fits of Broken Neural Scaling Laws: forecasts with credible "
                                 "intervals, break positions, and when a target is reached.")
    from . import __version__
    from .many import positive_int

    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    from .model import COORDINATES

    sampling = argparse.ArgumentParser(add_help=False)
    g = sampling.add_argument_group("sampling")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--chains", type=int, help="NUTS chains (default: the model spec's, 4)")
    g.add_argument("--tune", type=int, help="tuning steps per chain (default: the model spec's, 600)")
    g.add_argument("--draws", type=int,
                   help="kept draws per chain (default: the model spec's, 1000 for bnsl-1 and 500 for bnsl-0, bnsl-2)")
    g.add_argument("--target-accept", type=_prob, help="NUTS target acceptance (default: the model spec's, 0.9)")
    g.add_argument("--coordinates", choices=COORDINATES,
                   help="coordinates NUTS moves in (default: the model spec's, plain); anchored mixes better "
                        "and is faster but forecast no better on the benchmark's context points (README)")
    g.add_argument("--quiet", action="store_true", help="no progress bars (they show only on a terminal anyway)")

    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument("--json", action="store_true", help="print JSON records instead of a table")

    def add(name, func, help, parents=(), example=""):
        p = sub.add_parser(name, help=help, description=help, parents=list(parents), formatter_class=fmt,
                           epilog=f"example:\n  {example}" if example else None)
        p.set_defaults(func=func)
        return p

    p = add("fit", cmd_fit, "fit a BNSL posterior to a curve (or one per group) from CSV/Parquet",
            [sampling], f"{PROG} fit runs.csv --x tokens --y loss --group model --out fits/")
    p.add_argument("data", help="CSV or Parquet (.parquet) file, one row per measurement")
    p.add_argument("--x", required=True, help="column of the scale variable (data, compute, parameters)")
    p.add_argument("--y", required=True, help="column of the measured quantity (loss, error)")
    p.add_argument("--y-err", metavar="COL", help=Y_ERR_HELP)
    p.add_argument("--breaks", type=parse_breaks,
                   help="number of breaks, or 'auto' to fit 0, 1 and 2 and keep the fewest breaks whose "
                        "PSIS-LOO is within one standard error of the best (default 1, or the --spec's)")
    p.add_argument("--spec", help="model spec: a shipped name (bnsl-2, bnsl-1-monotone) or your own .toml "
                                  "(see models/); with --breaks, they must agree")
    p.add_argument("--monotone", action="store_true",
                   help="use the monotone specs (bnsl-N-monotone): no segment of the curve rises, for losses "
                        "and errors that cannot get worse with scale")
    p.add_argument("--keep-all", action="store_true",
                   help="with --breaks auto, also write each of the three fits next to the kept one "
                        "(OUT_STEM.bnsl-0.nc, ...): give them all to forecast or reach for their "
                        "LOO-stacked average")
    p.add_argument("--group", nargs="+", metavar="COL", help="fit one curve per value of these columns")
    p.add_argument("--family", action="store_true",
                   help="fit the --group curves jointly, their first slope, slope changes and sharpness "
                        "partially pooled (bnsl_bayes.fit_family): curves with few points learn the shape "
                        "from the others; each curve is still written to its own file")
    p.add_argument("--out", required=True,
                   help="output .nc file; with --group, OUT_STEM.<group>.nc each, or DIR/<group>.nc if OUT ends in /")

    several = ("fit file written by 'fit'; several fits of the same data (e.g. --breaks 0, 1 and 2) give their "
               "model average, mixed by LOO stacking weights; a fit-many --store directory answers for each of "
               "its curves (for a --breaks auto store, each curve's LOO-stacked average)")
    p = add("forecast", cmd_forecast, "forecast y at new x from a saved fit (or the average of several)", [json_flag],
            f"{PROG} forecast fit.nc --at 1e10 1e11 --prob 0.9")
    p.add_argument("fit", nargs="+", metavar="FIT", help=several)
    p.add_argument("--at", nargs="+", type=float, required=True, metavar="X", help="x values to forecast at")
    p.add_argument("--prob", type=_prob, default=0.9, help="central interval probability (default 0.9)")
    p.add_argument("--kind", choices=("predictive", "curve"), default="predictive",
                   help="predictive: a new measurement, with noise (default); curve: without observation "
                        "noise. Past the fitted data both include the model's drift from the law "
                        "(spec key drift_per_efold), so neither is the law alone there")
    p.add_argument("--y-err", nargs="+", type=float, metavar="SE",
                   help="standard error the measurement at each --at x will have, in y units (one for all, or "
                        "one per x): the band is then that of the value you will read, the model's noise "
                        "widened by it (default: a new run's y, the model's noise only)")
    p.add_argument("--test-examples", type=int, metavar="N",
                   help="the y are error rates that will be read off N test examples: their binomial "
                        "standard error sqrt(y (1 - y) / N) widens the band, as --y-err does")

    p = add("breaks", cmd_breaks, "posterior of the break positions of a saved fit", [json_flag],
            f"{PROG} breaks fit.nc --prob 0.9")
    p.add_argument("fit", help="fit file, or a fit-many --store directory (one row per curve and break)")
    p.add_argument("--prob", type=_prob, default=0.9, help="central interval probability (default 0.9)")

    p = add("run-value", cmd_run_value, "which run to make next: how much a run at each x would narrow the band "
            "at the x you care about (refits with possible readings added)", [json_flag],
            f"{PROG} run-value fit.nc --runs 2e4 5e4 --at 1e6 --test-examples 2000")
    p.add_argument("fit", metavar="FIT", help="fit file written by 'fit'")
    p.add_argument("--runs", nargs="+", type=float, required=True, metavar="X", help="x of each candidate run")
    p.add_argument("--at", nargs="+", type=float, required=True, metavar="X",
                   help="x whose forecast the run should sharpen")
    p.add_argument("--readings", type=int, default=5,
                   help="possible readings per run, each one refit (default 5; the cost is runs x readings fits)")
    p.add_argument("--prob", type=_prob, default=0.9, help="central interval probability (default 0.9)")
    p.add_argument("--y-err", nargs=1, type=float, metavar="SE",
                   help="standard error the run's measurement will have, in y units (default: none)")
    p.add_argument("--test-examples", type=int, metavar="N",
                   help="the y are error rates the run will read off N test examples (binomial standard error)")
    p.add_argument("--workers", type=positive_int, help="local processes the refits are spread over (default 1)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run the refits on this Dask scheduler, e.g. tcp://host:8786")

    p = add("reach", cmd_reach, "x at which the curve reaches a target y (posterior)", [json_flag],
            f"{PROG} reach fit.nc --target 2.0 --x-max 1e13")
    p.add_argument("fit", nargs="+", metavar="FIT", help=several)
    p.add_argument("--target", type=float, nargs="+", required=True,
                   help="y value(s) to reach; several give one row each")
    p.add_argument("--direction", choices=("down", "up"),
                   help="down: first x at or below the target (loss, error); up: at or above it; "
                        "default: the way the curve moves across the data")
    p.add_argument("--x-max", type=float, help="search up to this x (default 1000x the largest fitted x)")
    p.add_argument("--x-from", type=float, help="start the search at this x (default the smallest fitted x; "
                   "e.g. the valley of a double-descent curve, with --direction up, to time its rise)")
    p.add_argument("--prob", type=_prob, default=0.9, help="central interval probability (default 0.9)")

    p = add("compare", cmd_compare, "compare fits of the same data by PSIS-LOO", [json_flag],
            f"{PROG} compare fit0.nc fit1.nc fit2.nc")
    p.add_argument("fits", nargs="+", metavar="FIT", help="two or more fit files of the same data")

    p = add("contrast", cmd_contrast, "two curves against each other: P(A below B) and A / B at x; where they cross",
            [json_flag], f"{PROG} contrast recipe_a.nc recipe_b.nc --at 1e10 1e11")
    p.add_argument("a", metavar="A", help="fit file of curve A")
    p.add_argument("b", metavar="B", help="fit file of curve B (another curve: not the data of A)")
    p.add_argument("--at", nargs="+", type=float, metavar="X", help="x values to compare at (else the crossing only)")
    p.add_argument("--prob", type=_prob, default=0.9, help="central interval probability (default 0.9)")
    p.add_argument("--kind", choices=("curve", "predictive"), default="curve",
                   help="curve: the noise-free laws (default); predictive: one new run of each")
    p.add_argument("--x-max", type=float, help="search for the crossing up to this x (default 1000x the larger "
                                               "largest fitted x)")
    p.add_argument("--x-from", type=float, help="start the search here (default the larger smallest fitted x)")
    p.add_argument("--plot", metavar="FILE", help="also draw both curves and the crossing to this image")

    p = add("plot", cmd_plot, "plot the posterior forecast of a saved fit (or the average of several) to an image",
            (), f"{PROG} plot fit.nc --out fit.png --at-max 1e12 --heldout test.csv --x tokens --y loss")
    p.add_argument("fit", nargs="+", metavar="FIT", help=several)
    p.add_argument("--out", required=True, help="image file (.png, .pdf, .svg)")
    p.add_argument("--at-max", type=float, help="extend the forecast to this x (default 2x the largest fitted x)")
    p.add_argument("--prob", type=_prob, nargs="+", default=[0.5, 0.9], help="band probabilities (default 0.5 0.9)")
    p.add_argument("--heldout", help="CSV/Parquet of points the fit did not see, drawn in red")
    p.add_argument("--x", help="x column of --heldout")
    p.add_argument("--y", help="y column of --heldout")

    p = add("prior", cmd_prior, "draw from the prior a fit would use on a curve's data window; save it like a fit",
            (), f"{PROG} prior runs.csv --x tokens --y loss --breaks 1 --out prior.nc")
    p.add_argument("data", help="CSV or Parquet (.parquet) file, one row per measurement (one curve)")
    p.add_argument("--x", required=True, help="column of the scale variable")
    p.add_argument("--y", required=True, help="column of the measured quantity: sets the window the priors are "
                                              "scaled to (nothing is fitted)")
    p.add_argument("--breaks", type=parse_breaks, help="number of breaks (default 1, or the --spec's)")
    p.add_argument("--spec", help="model spec: a shipped name or your own .toml, as for fit")
    p.add_argument("--monotone", action="store_true", help="use the monotone spec (bnsl-N-monotone)")
    p.add_argument("--draws", type=int, default=4000, help="independent prior draws (default 4000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", required=True, help="output .nc file")

    p = add("backtest", cmd_backtest, "pretend the curve stopped earlier: fit its first points, score the forecast "
            "of the rest", [sampling, json_flag], f"{PROG} backtest runs.csv --x tokens --y loss --cuts 0.5 0.7 --plot bt.png")
    p.add_argument("data", help="CSV or Parquet (.parquet) file, one row per measurement (one curve)")
    p.add_argument("--x", required=True, help="column of the scale variable")
    p.add_argument("--y", required=True, help="column of the measured quantity")
    p.add_argument("--y-err", metavar="COL", help=Y_ERR_HELP + "; later points are scored as measurements with "
                                                               "those errors")
    p.add_argument("--cuts", type=parse_cut, nargs="+", default=[0.7],
                   help="where to stop fitting: a number of distinct x (an int >= 3; -1 = all but the last, "
                        "-2 all but the last two, ...) or a share of them (0 < share < 1, rounded up); one fit "
                        "each (default 0.7)")
    p.add_argument("--breaks", type=parse_breaks,
                   help="number of breaks (default 1, or the --spec's), or 'auto' for the LOO-stacked average of "
                        "0, 1 and 2 breaks, weighed again at each cut")
    p.add_argument("--spec", help="model spec: a shipped name or your own .toml, as for fit")
    p.add_argument("--monotone", action="store_true", help="use the monotone spec(s) (bnsl-N-monotone)")
    p.add_argument("--prob", type=_prob, default=0.9, help="central interval probability scored (default 0.9)")
    p.add_argument("--group", nargs="+", metavar="COL", help="backtest one curve per value of these columns "
                                                             "(and report the share inside over all of them)")
    p.add_argument("--out", help="also write the per-point table to this CSV (a curve column with --group)")
    p.add_argument("--plot", metavar="FILE", help="also draw each cut's band and the later points to this image "
                                                  "(with --group, FILE_STEM.<group>.png each, or DIR/<group>.png)")
    p.add_argument("--calibration-plot", metavar="FILE", help="also draw the share of later points inside the "
                                                              "central interval at each level, over all curves")
    p.add_argument("--workers", type=positive_int, help="local processes the fits are spread over (default 1; "
                                                         "each fit then runs its chains on one core)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run the fits on this Dask scheduler, e.g. tcp://host:8786")

    p = add("demo", cmd_demo, "fit the bundled 4-digit addition curve and forecast its held-out points",
            [sampling], f"{PROG} demo --out bnsl-demo")
    p.add_argument("--out", default="bnsl-demo", help="directory for the fit and the plot (default ./bnsl-demo)")

    from .many import add_fit_many_command  # many curves, resumable, local or Dask: lives with fit_many

    add_fit_many_command(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    # PyTensor warns about BLAS on every compile; it does not affect results and would bury our output.
    warnings.filterwarnings("ignore", message=".*BLAS.*")
    try:
        code = args.func(args)
        sys.stdout.flush()  # output still buffered meets a closed pipe here, not at interpreter exit
        return code
    except BrokenPipeError:
        # The reader went away (`bnsl-bayes forecast ... | head -1`): nothing to report to anyone.
        # stdout goes to devnull so that Python's own flush at exit does not print a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ValueError, OSError) as e:  # bad data, missing or unwritable files: the user's to fix
        report_error(e)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
