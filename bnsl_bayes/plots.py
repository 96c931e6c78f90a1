"""Figures of a fitted BNSL posterior (matplotlib; ArviZ for the sampler diagnostics).

Every function takes a `Fit` (fresh or loaded from disk, or a `PriorFit` for what the priors say;
`plot_forecast` and `plot_reach` also several fits of the same data, for their model average;
`plot_backtest` a `Backtest`) and draws on `ax` if given, else on a new figure. The numbers come from the Fit's own methods
(forecast, break_positions, reach) or the model averages of compare.py and contrast.py, so a plot
shows exactly what the API reports.

>>> from bnsl_bayes.plots import plot_forecast
>>> fig, ax = plot_forecast(fit, heldout=(x_test, y_test))   # doctest: +SKIP
>>> fig.savefig("forecast.png")                               # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_backtest", "plot_breaks", "plot_calibration", "plot_crossover", "plot_diagnostics", "plot_forecast",
           "plot_reach", "plot_run_value"]

# One colour family for the posterior, a contrasting one for data the fit never saw.
_POSTERIOR = "tab:blue"
_OBSERVED = "black"
_HELDOUT = "tab:red"
_WINDOW = "0.85"


def _axes(ax, figsize=(6.4, 4.4)):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax.figure, ax


def _as_xy(heldout):
    """Held-out data as two float arrays, from (x, y) or a two-column DataFrame."""
    if hasattr(heldout, "columns"):
        if heldout.shape[1] != 2:
            raise ValueError("heldout DataFrame must have exactly two columns (x, y)")
        heldout = (heldout.iloc[:, 0], heldout.iloc[:, 1])
    x, y = heldout
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def _log_density(ax, values, color, label, bins=50, outline_only=False):
    """Histogram of positive values as a density per decade of x, drawn on a log x axis.

    Bins are even in log10 x, so the shape does not depend on where in x the mass sits.
    outline_only: a dotted outline, for a reference (the prior) drawn under a filled density.
    """
    logs = np.log10(values)
    dens, edges = np.histogram(logs, bins=bins, density=True)
    if outline_only:
        ax.stairs(dens, 10**edges, color=color, linewidth=1, linestyle=":", label=label)
        return
    ax.stairs(dens, 10**edges, fill=True, alpha=0.35, color=color, label=label)
    ax.stairs(dens, 10**edges, color=color, linewidth=1)


def _shade_data_window(ax, fit, label="data window"):
    ax.axvspan(fit.x.min(), fit.x.max(), color=_WINDOW, alpha=0.6, zorder=0, label=label)
    # A rug of the fitted x, so one sees where inside the window the data actually sits.
    ax.vlines(fit.x, 0, 0.04, transform=ax.get_xaxis_transform(), color=_OBSERVED, linewidth=1,
              label="fitted x")


def _readable_log_ticks(ax):
    """Plain numbers (0.5, 200) instead of 5x10^-1 on log axes whose values are of everyday size.

    Matplotlib writes every log tick in scientific notation; for a loss between 0.3 and 2 or
    a size between 100 and 1000 plain numbers read faster. Huge or tiny ranges keep 10^k.
    Minor ticks get labels only when the axis spans few decades (else they would collide).
    """
    from matplotlib import ticker

    for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        if axis.get_scale() != "log" or not (1e-3 <= lo and hi <= 1e5):
            continue
        decades = np.log10(hi / lo)
        if decades < 0.5:
            # Too narrow for decade ticks (a loss between 0.86 and 1.02 got one label, "1"): evenly
            # spaced plain values instead, which read fine over a span this short.
            axis.set_major_locator(ticker.MaxNLocator(nbins=5))
            axis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: f"{v:g}"))
            axis.set_minor_formatter(ticker.NullFormatter())
            continue
        keep = {2, 3, 4, 6} if decades < 1.2 else {2, 5} if decades < 2.5 else set()

        def minor(v, _pos, keep=keep):
            lead = round(v / 10 ** np.floor(np.log10(v)))
            return f"{v:g}" if lead in keep else ""

        axis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: f"{v:g}"))
        axis.set_minor_formatter(ticker.FuncFormatter(minor))


def _title(*lines, width=60) -> str:
    """Title lines wrapped at `width` characters: the name of a model average ('LOO-stacked average
    of bnsl-1 (0.78), ...') ran past the figure's edge on one line."""
    import textwrap

    return "\n".join(textwrap.fill(line, width) for line in lines)


def plot_forecast(fit, x_max=None, prob=(0.5, 0.9), heldout=None, ax=None, kind="predictive",
                  logx=True, logy=True, n_grid=200, weights=None):
    """Posterior forecast: median line, central `prob` bands, data, extrapolation region.

    fit: a Fit, or several fits of the same data (a list, or a dict name -> fit) for their model
    average (`averaged_forecast`), mixed by `weights` (default: LOO stacking weights).
    x_max: right end of the curve (default twice the largest fitted x, widened to cover `heldout`).
    heldout: points the fit did not see, as (x, y) or a two-column DataFrame; drawn in red.
    kind: "predictive" (bands include observation noise) or "curve" (the noise-free law).
    Returns (fig, ax).
    """
    fit, title, forecast = _forecaster(fit, kind, weights)
    fig, ax = _axes(ax)
    x_fit_max = float(fit.x.max())
    held = _as_xy(heldout) if heldout is not None else None
    if x_max is None:
        x_max = 2 * x_fit_max
        if held is not None and held[0].size:
            x_max = max(x_max, 1.05 * float(held[0].max()))
    x_min = float(fit.x.min())
    if held is not None and held[0].size:
        x_min = min(x_min, float(held[0].min()))
    if not x_max > x_min:
        raise ValueError(f"x_max={x_max} must exceed the smallest x plotted ({x_min})")
    grid = np.geomspace(x_min, x_max, n_grid) if logx else np.linspace(x_min, x_max, n_grid)

    probs = sorted(np.atleast_1d(prob), reverse=True)  # widest band first, so narrower ones sit on top
    median = None
    for i, p in enumerate(probs):
        fc = forecast(grid, float(p))
        alpha = 0.18 + 0.22 * i / max(len(probs) - 1, 1)
        ax.fill_between(fc["x"], fc["lower"], fc["upper"], color=_POSTERIOR, alpha=alpha, linewidth=0,
                        label=f"{p:.0%} interval")
        median = fc["median"]
    ax.plot(grid, median, color=_POSTERIOR, linewidth=2, label=f"{fit.source} median")

    if x_max > x_fit_max:
        ax.axvspan(x_fit_max, x_max, color=_WINDOW, alpha=0.5, zorder=0, label="extrapolation")
    ax.scatter(fit.x, fit.y, s=18, color=_OBSERVED, zorder=3,
               label="fitted data" if fit.source == "posterior" else "data (sets the window; not fitted)")
    if getattr(fit, "y_err", None) is not None:  # known measurement errors: +-1 standard error
        ax.errorbar(fit.x, fit.y, yerr=fit.y_err, fmt="none", ecolor=_OBSERVED, elinewidth=1, zorder=3)
    if held is not None:
        ax.scatter(held[0], held[1], s=36, marker="X", color=_HELDOUT, zorder=4, label="held out")

    ax.set_xscale("log" if logx else "linear")
    ax.set_yscale("log" if logy else "linear")
    ax.set_xlim(x_min if not logx else x_min / 1.05, x_max)
    ax.set_xlabel(fit.x_name)
    ax.set_ylabel(fit.y_name)
    what = f"{fit.source} predictive" if kind == "predictive" else f"{fit.source} curve"
    ax.set_title(_title(f"{title}: {what}"))
    ax.legend(loc="best", fontsize="small")
    _readable_log_ticks(ax)
    return fig, ax


def plot_backtest(backtest, ax=None, n_grid=100):
    """A backtest (`bnsl_bayes.backtest`): every point, and for each cut its forecast band from the
    cut to the last x, with the points it left out marked inside or outside the band.

    One colour per cut (earliest lightest); dashed lines mark where each cut stopped fitting. With
    known errors of y, later points carry +-1 standard error bars: they were judged inside or
    outside the band of their measurement (the drawn band widened by their error), a new run's band
    is what is drawn. Returns (fig, ax).
    """
    import matplotlib as mpl

    fig, ax = _axes(ax)
    pts = backtest.points
    cuts = sorted(backtest.fits)
    colors = mpl.colormaps["viridis"](np.linspace(0.15, 0.85, len(cuts)))
    x_last = float(pts["x"].max())
    for cut, color in zip(cuts, colors):
        x_cut = float(backtest.cut_fits(cut)[0].x.max())
        grid = np.geomspace(x_cut, x_last, n_grid)
        fc = backtest.forecast(cut, grid)
        ax.fill_between(grid, fc["lower"], fc["upper"], color=color, alpha=0.25, linewidth=0)
        ax.plot(grid, fc["median"], color=color, linewidth=1.5,
                label=f"fit to {backtest.x_name} <= {x_cut:.4g}: {backtest.prob:.0%} band")
        ax.axvline(x_cut, color=color, linestyle="--", linewidth=1)
        mine = pts[pts["cut"] == cut]
        for inside, marker in ((True, "o"), (False, "X")):
            sel = mine[mine["inside"] == inside]
            ax.scatter(sel["x"], sel["y"], s=40, marker=marker, facecolor="none" if inside else color,
                       edgecolor=color, zorder=4)
    first = backtest.cut_fits(cuts[0])[0]
    ax.scatter(first.x, first.y, s=14, color=_OBSERVED, zorder=3, label="fitted by every cut")
    if "y_err" in pts:  # every point's +-1 standard error: those the first cut fitted, then the later ones
        ax.errorbar(np.concatenate([first.x, pts["x"]]), np.concatenate([first.y, pts["y"]]),
                    yerr=np.concatenate([first.y_err, pts["y_err"]]), fmt="none", ecolor="0.4", elinewidth=1,
                    zorder=3)
    lines = [f"<= {p['x_cut'].iloc[0]:.4g}: {int((~p['inside']).sum())} of {len(p)} outside"
             for _, p in pts.groupby("cut", sort=True)]
    ax.scatter([], [], marker="o", facecolor="none", edgecolor="0.3", label="later point inside its band")
    ax.scatter([], [], marker="X", color="0.3", label="later point outside")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(backtest.x_name)
    ax.set_ylabel(backtest.y_name)
    ax.set_title(_title(f"backtest of {backtest.label}, later points outside the {backtest.prob:.0%} band "
                        f"of the fit to {backtest.x_name} " + "; ".join(lines)))
    ax.legend(loc="best", fontsize="small")
    _readable_log_ticks(ax)
    return fig, ax


def plot_calibration(backtests, levels=None, ax=None):
    """Reliability diagram of a backtest, or of several pooled (a list, or `backtest_many`'s dict):
    at each nominal level, the share of the later points inside their central interval
    (`backtest.pooled_calibration`). On the diagonal the bands are calibrated; below it they are too
    narrow, above it too wide. Shaded: where 90% of such shares would fall for the same number of
    independent points under calibrated bands (Binomial(n, level) / n); later points of one curve
    are not independent, so the real range is wider. Returns (fig, ax).
    """
    from scipy import stats

    from .backtest import as_backtests, pooled_calibration
    from .metrics import DEFAULT_LEVELS

    items = as_backtests(backtests)
    cal = pooled_calibration(items, DEFAULT_LEVELS if levels is None else levels)
    fig, ax = _axes(ax, figsize=(5.2, 5.0))
    n, level = int(cal["points"].iloc[0]), cal["level"].to_numpy()
    ax.fill_between(level, stats.binom.ppf(0.05, n, level) / n, stats.binom.ppf(0.95, n, level) / n,
                    color=_WINDOW, linewidth=0, label=f"90% range for {n} independent points")
    ax.plot([0, 1], [0, 1], color="0.4", linestyle="--", linewidth=1, label="calibrated")
    ax.plot(level, cal["inside"], "o-", color=_POSTERIOR, label="observed share inside")
    ax.set(xlim=(float(level.min()) - 0.05, 1.0), ylim=(min(0.4, float(cal["inside"].min()) - 0.05), 1.01),
           xlabel="nominal level of the central predictive interval", ylabel="share of later points inside")
    what = items[0].label if len(items) == 1 else f"{len(items)} curves ({items[0].label})"
    ax.set_title(_title(f"backtest calibration of {what}: {n} later points", width=45))
    ax.legend(loc="best", fontsize="small")
    return fig, ax


def _forecaster(fit, kind, weights=None):
    """(first fit, label, forecast(x, prob)) of a fit or of the model average of several
    (`compare.one_or_average`): what the forecast plots draw their bands from."""
    from .compare import one_or_average

    return _forecaster_of(one_or_average(fit, weights), kind)


def _forecaster_of(side, kind):
    """`_forecaster` of a side `compare.one_or_average` has already resolved."""
    from .compare import averaged_forecast

    fits, first, mix, label = side
    if fits is None:
        return first, label, lambda g, p: first.forecast(g, prob=p, kind=kind)
    return first, label, lambda g, p: averaged_forecast(fits, g, prob=p, kind=kind, weights=mix)


def plot_crossover(a, b, prob=0.9, x_max=None, ax=None, names=("A", "B"), x_from=None, search_max=None):
    """Two curves and where they cross: each side's noise-free posterior median and central `prob`
    band, its data, and the `crossover` answer (median line, `prob` interval shaded).

    a, b: fits of two curves (a Fit, or several fits of one curve for their model average), as in
    `bnsl_bayes.crossover`. x_max: right end of the plot (default 2x the larger largest fitted x,
    widened to show a finite crossing interval). x_from and search_max are `crossover`'s x_from and
    x_max: the crossing is searched up to 1000x the data by default, so its interval may end past
    the plot. Returns (fig, ax).
    """
    from .contrast import _sides, crossover_of_sides

    sa, sb = _sides(a, b)
    cross = crossover_of_sides(sa, sb, prob=prob, x_from=x_from, x_max=search_max)
    sides = [(_forecaster_of(s, "curve"), name, color) for s, name, color in
             ((sa, names[0], _POSTERIOR), (sb, names[1], "tab:orange"))]
    x_lo = min(float(f.x.min()) for (f, _, _), _, _ in sides)
    x_hi = max(float(f.x.max()) for (f, _, _), _, _ in sides)
    if x_max is None:
        ends = [2 * x_hi] + [1.3 * cross[k] for k in ("median", "upper") if np.isfinite(cross[k])]
        x_max = max(ends)
    if not x_max > x_lo:
        raise ValueError(f"x_max={x_max} must exceed the smallest x plotted ({x_lo})")
    fig, ax = _axes(ax)
    grid = np.geomspace(x_lo, x_max, 200)
    for (fit, label, forecast), name, color in sides:
        band = forecast(grid, prob)
        ax.fill_between(band["x"], band["lower"], band["upper"], color=color, alpha=0.2, linewidth=0)
        ax.plot(band["x"], band["median"], color=color, linewidth=2, label=f"{name}: {label}")
        ax.scatter(fit.x, fit.y, s=16, color=color, edgecolor=_OBSERVED, linewidth=0.5, zorder=3)
    if np.isfinite(cross["lower"]):
        ax.axvspan(cross["lower"], min(cross["upper"], x_max), color=_WINDOW, alpha=0.6, zorder=0,
                   label=f"{prob:.0%} interval of the crossing")
    if np.isfinite(cross["median"]):
        ax.axvline(cross["median"], color=_OBSERVED, linestyle="--", linewidth=1,
                   label=f"median crossing {cross['median']:.3g}")
    fit = sides[0][0][0]
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(x_lo / 1.05, x_max)
    ax.set_xlabel(fit.x_name)
    ax.set_ylabel(fit.y_name)
    ax.set_title(_title(f"where they cross: {cross['median']:.3g} [{cross['lower']:.3g}, {cross['upper']:.3g}]",
                        f"P(crossed by {fit.x_name} = {cross['x_max']:.3g}) = {cross['prob_crossed']:.2f}"))
    ax.legend(loc="best", fontsize="small")
    _readable_log_ticks(ax)
    return fig, ax


def plot_breaks(fit, prob=0.9, ax=None, bins=50, prior=None):
    """Posterior density of each break position (log x), with the data window shaded.

    The title gives each break's median and central `prob` interval from `Fit.break_positions`.
    prior: a `PriorFit` of the same data and spec (`bnsl_bayes.prior(fit.x, fit.y, spec=fit.spec)`),
    drawn as outlines beneath: where the posterior has the prior's shape, the data said nothing
    about that break. Returns (fig, ax).
    """
    if fit.breaks == 0:
        raise ValueError(f"{fit.spec.name} has no breaks to plot")
    if prior is not None and (prior.spec.breaks != fit.breaks or not np.array_equal(prior.x, fit.x)):
        raise ValueError(f"prior ({prior.spec.name}, {len(prior.x)} points) is not of this fit's data and "
                         f"number of breaks ({fit.spec.name}, {len(fit.x)} points): draw it with "
                         "bnsl_bayes.prior(fit.x, fit.y, spec=fit.spec)")
    fig, ax = _axes(ax)
    _shade_data_window(ax, fit)
    summary = fit.break_positions(prob)
    log_d = fit.break_draws("log_d")
    prior_log_d = None if prior is None else prior.break_draws("log_d")
    colors = ["tab:purple", "tab:orange", "tab:green", "tab:brown"]
    for k, row in summary.iterrows():
        color = colors[k % len(colors)]
        label = (f"break {int(row['break'])}: {row['median']:.4g} "
                 f"[{row['lower']:.4g}, {row['upper']:.4g}]")
        _log_density(ax, np.exp(log_d[k]), color, label, bins=bins)
        ax.axvline(row["median"], color=color, linestyle="--", linewidth=1)
        if prior is not None:
            _log_density(ax, np.exp(prior_log_d[k]), color, f"break {int(row['break'])}: prior",
                         bins=bins, outline_only=True)
    ax.set_xscale("log")
    ax.set_xlabel(f"break position ({fit.x_name})")
    ax.set_ylabel(f"{fit.source} density per decade")
    ax.set_title(f"{fit.spec.name}: break positions (median [{prob:.0%} interval])")
    ax.legend(loc="best", fontsize="small")
    _readable_log_ticks(ax)
    return fig, ax


def plot_reach(fit, target, prob=0.9, x_max=None, ax=None, bins=50, direction=None, x_from=None, weights=None):
    """Posterior density of the x where the noise-free curve first reaches `target`.

    Draws that never reach it by x_max (default 1000x the largest fitted x, as in `Fit.reach`)
    are not in the histogram; their share is in the title as 1 - P(reached). direction and
    x_from as in `Fit.reach`. fit: a Fit, or several fits of the same data for their model
    average (`averaged_reach`, mixed by `weights`, default LOO stacking). Returns (fig, ax).
    """
    from .compare import _averaged_reach_draws, one_or_average
    from .forecast import reach_summary
    from .validate import check_prob

    if np.ndim(target):
        raise ValueError(f"plot_reach draws one target; got {np.size(target)} (call it once per target, "
                         "or use Fit.reach for a table of several)")
    fits, fit, mix, name = one_or_average(fit, weights)
    fig, ax = _axes(ax)
    # One evaluation of the curve grid serves both the histogram and the summary in the title.
    if fits is None:
        x_min, x_max = fit.reach_range(x_max, x_from)
        xs = fit.reach_draws(target, x_max=x_max, direction=direction, x_from=x_from)
    else:
        xs, x_min, x_max = _averaged_reach_draws(fits, target, x_max, direction, x_from, mix, seed=0)
    summary = reach_summary(xs, target, check_prob(prob), x_min, x_max)
    reached = xs[np.isfinite(xs)]
    _shade_data_window(ax, fit)
    if reached.size:
        _log_density(ax, reached, _POSTERIOR, f"x reaching {fit.y_name} = {target:.4g}", bins=bins)
        if np.isfinite(summary["median"]):
            ax.axvline(summary["median"], color=_POSTERIOR, linestyle="--", linewidth=1,
                       label=f"median {summary['median']:.4g}")
    else:
        ax.text(0.5, 0.5, f"no {fit.source} draw reaches the target", transform=ax.transAxes, ha="center")
    ax.set_xscale("log")
    ax.set_xlabel(fit.x_name)
    ax.set_ylabel(f"{fit.source} density per decade")
    ax.set_title(_title(f"{name}: when does {fit.y_name} reach {target:.4g}?",
                        f"P(reached by {fit.x_name} = {summary['x_max']:.3g}) = {summary['prob_reached']:.2f}"))
    ax.legend(loc="best", fontsize="small")
    _readable_log_ticks(ax)
    return fig, ax


def plot_run_value(table, fit=None, ax=None):
    """Which run to make next, from `Fit.run_value`'s table: the band's width at each x_target after
    a run at x_run (mean over the readings; bars: their range) against x_run, with the width now as a
    dashed line of the same colour. With `fit`, its data window is shaded. Returns (fig, ax)."""
    fig, ax = _axes(ax)
    if fit is not None:
        _shade_data_window(ax, fit)
    for k, (xt, rows) in enumerate(table.groupby("x_target", sort=True)):
        color = f"C{k}"
        rows = rows.sort_values("x_run")
        below = rows.width_after - rows.width_after_min
        above = rows.width_after_max - rows.width_after
        ax.errorbar(rows.x_run, rows.width_after, yerr=[below, above], fmt="o-", color=color, capsize=3,
                    label=f"after a run at x (target x = {xt:.4g})")
        ax.axhline(rows.width_now.iloc[0], color=color, linestyle="--", linewidth=1, label=f"now (target x = {xt:.4g})")
    ax.set(xscale="log", ylim=(0, None), xlabel="x of the run" if fit is None else f"{fit.x_name} of the run",
           ylabel="width of the band at the target (e-folds of y)")
    ax.set_title(_title("which run to make next: the curve's band at the target, now and after the run"))
    _readable_log_ticks(ax)
    ax.legend(loc="best", fontsize="small")
    return fig, ax


def plot_diagnostics(fit, kind="rank", var_names=None):
    """Trace (kind="trace") or rank (kind="rank") plots of the sampled parameters, via ArviZ.

    The sampled parameters are the spec's prior names present in the posterior, on their natural
    (constrained) scale, e.g. f rather than log f: one panel per parameter NUTS moves.
    Returns the ArviZ axes array (one row per parameter).
    """
    import arviz as az

    if kind not in ("trace", "rank"):
        raise ValueError(f"kind must be 'trace' or 'rank', got {kind!r}")
    if fit.group != "posterior":
        raise ValueError(f"plot_diagnostics shows sampled chains; a {fit.source} sample has none to diagnose")
    post = fit.idata.posterior
    if var_names is None:
        var_names = [v for v in fit.spec.parameters if v in post]
    axes = az.plot_trace(fit.idata, var_names=var_names, kind="trace" if kind == "trace" else "rank_bars",
                         compact=True, backend_kwargs={"layout": "constrained"})
    axes[0, 0].figure.suptitle(f"{fit.spec.name}: {kind} plots ({post.sizes['chain']} chains)")
    return axes
