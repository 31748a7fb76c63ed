"""The figures of ``mpicg report``: the light curve, folded and zoomed, and the history.

``fit.png``
    folded on the model's period (:meth:`~mpicg.ParameterizedModel.ephemeris`): the whole
    orbit, then one panel per eclipse or transit, each with the residuals below, binned; the
    data and the model are divided by the fitted baseline, so the folds of several segments
    line up. Without a period, the light curve against time.
``lightcurve.png``
    the light curve against time with the whole model (baseline included) and the binned
    residuals; segment boundaries marked.
``parameters.png``
    each fitted parameter's value at every iteration (from ``history.csv``).

Eclipses are found on the model, not the data: on a fine grid of phases, the model's drop
below its smooth variation (a few harmonics of the phase, fitted without the dips) marks
them, so ellipsoidal or reflection variation out of eclipse is not taken for one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FoldedCurve", "eclipse_windows", "plot_fit", "plot_lightcurve",
           "plot_parameter_history", "pyplot"]

_GRID = 4000  # model points along a folded orbit
_HARMONICS = 4  # of the orbital phase, for the variation out of eclipse
_MAX_ZOOMS = 3


def pyplot():
    """The pyplot module, drawing to files only (no display needed on a cluster)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@dataclass(frozen=True)
class FoldedCurve:
    """What the plots need of a fit: data, model and where the baseline is.

    Attributes
    ----------
    times, flux, sigma : ndarray
        The observations (flux as fitted), shape (n,).
    predicted : ndarray
        The whole model at ``times`` (baseline included), shape (n,).
    baseline : ndarray
        The fitted baseline at ``times`` (ones without one), shape (n,).
    signal : callable
        ``signal(times) -> flux``: the model without its baseline (integrated over the
        exposure when the fit was).
    ephemeris : tuple of float or None
        ``(period, epoch)`` to fold on.
    time_label : str
        What the times are (``"BJD_TDB - 2457000"``).
    segment_starts : tuple of float
        Start time of each segment after the first.
    title : str
        A line for the top of the figure.
    normalised : bool
        Whether the flux is relative (residuals then in parts per thousand).
    """

    times: np.ndarray
    flux: np.ndarray
    sigma: np.ndarray
    predicted: np.ndarray
    baseline: np.ndarray
    signal: object
    ephemeris: tuple[float, float] | None
    time_label: str
    segment_starts: tuple[float, ...]
    title: str
    normalised: bool


def _phase(times, period: float, epoch: float) -> np.ndarray:
    """Orbital phase in [-0.25, 0.75): primary eclipse at 0, secondary near 0.5."""
    return np.mod((np.asarray(times) - epoch) / period + 0.25, 1.0) - 0.25


def _smooth_part(phase: np.ndarray, flux: np.ndarray) -> np.ndarray:
    """The model's variation out of eclipse: a few harmonics fitted with the dips masked.

    Ellipsoidal variation and reflection are smooth over the orbit (the first harmonics of
    the orbital phase); eclipses are narrow. Fitting harmonics up to the fourth to the
    points above the fit, a few times over, leaves the dips out of the fit.
    """
    angle = 2 * np.pi * phase
    design = np.column_stack([np.ones_like(phase)]
                             + [f(k * angle) for k in range(1, _HARMONICS + 1)
                                for f in (np.cos, np.sin)])
    use = np.ones(phase.size, dtype=bool)
    smooth = np.full(phase.size, float(np.max(flux)))
    for _ in range(8):
        coefficients, *_ = np.linalg.lstsq(design[use], flux[use], rcond=None)
        smooth = design @ coefficients
        below = flux < smooth - 1e-3 * (np.max(flux) - np.min(flux))
        if np.array_equal(~below, use) or below.all():
            break
        use = ~below
    return smooth


def eclipse_windows(phase: np.ndarray, flux: np.ndarray) -> list[tuple[float, float]]:
    """Where the eclipses (or transits) of a folded model are, and how wide to show them.

    Parameters
    ----------
    phase : ndarray
        An even grid over one orbit, increasing, shape (m,).
    flux : ndarray
        The model on it, shape (m,).

    Returns
    -------
    list of (float, float)
        ``(centre, half_width)`` in phase of each dip at least a tenth as deep as the
        deepest, ordered by depth (at most three). A dip is the model's drop below its
        smooth variation out of eclipse (harmonics of the phase fitted without the dips);
        the centre is the dip's minimum, the half-width 1.6 times the distance from it to
        the farther end of the dip (where the drop is back under 2 % of the deepest's).
    """
    m = flux.size
    dip = _smooth_part(phase, flux) - flux
    deepest = float(dip.max())
    if not deepest > 0:
        return []
    inside = dip > 0.02 * deepest
    if inside.all():
        return []
    # Contiguous runs on the circle: start the scan at a point outside every dip.
    shift = int(np.flatnonzero(~inside)[0])
    order = np.roll(np.arange(m), -shift)
    runs, current = [], []
    for i in order:
        if inside[i]:
            current.append(i)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    step = float(phase[1] - phase[0])
    found = []
    for run in runs:
        run = np.array(run)
        depth = dip[run].max()
        if depth < 0.1 * deepest:
            continue
        centre_index = run[np.argmax(dip[run])]
        # Distances along the circle from the minimum to the run's two ends.
        to_start = (centre_index - run[0]) % m
        to_end = (run[-1] - centre_index) % m
        found.append((depth, float(phase[centre_index]),
                      min(0.5, 1.6 * step * (max(to_start, to_end) + 1))))
    found.sort(key=lambda f: -f[0])
    return [(centre, width) for _, centre, width in found[:_MAX_ZOOMS]]


def _binned(x: np.ndarray, y: np.ndarray, edges: np.ndarray):
    """Mean and its standard error of ``y`` in bins of ``x`` (bins with >= 2 points)."""
    which = np.digitize(x, edges) - 1
    valid = (which >= 0) & (which < edges.size - 1)
    count = np.bincount(which[valid], minlength=edges.size - 1)
    total = np.bincount(which[valid], y[valid], minlength=edges.size - 1)
    squares = np.bincount(which[valid], y[valid] ** 2, minlength=edges.size - 1)
    use = count >= 2
    mean = total[use] / count[use]
    spread = np.sqrt(np.maximum(squares[use] / count[use] - mean ** 2, 0.0))
    centres = 0.5 * (edges[:-1] + edges[1:])[use]
    return centres, mean, spread / np.sqrt(count[use] - 1)


def _residual_axis(ax, x, residual, edges, scale: float, unit: str, binned_label: str):
    ax.plot(x, residual * scale, ".", ms=1.5, color="0.55", alpha=0.5, rasterized=True)
    centres, mean, error = _binned(x, residual, edges)
    ax.errorbar(centres, mean * scale, yerr=error * scale, fmt="o", ms=2.5, color="C0",
                lw=0.8, label=binned_label)
    ax.axhline(0.0, color="C3", lw=1)
    ax.set_ylabel(f"data - model{unit}")
    if centres.size:
        spread = np.nanpercentile(np.abs(residual * scale), 99.5)
        ax.set_ylim(-1.3 * spread, 1.3 * spread)


def plot_fit(path: Path, curve: FoldedCurve) -> None:
    """``fit.png``: the fold with zoomed eclipses (or the time series), residuals binned."""
    if curve.ephemeris is None:
        plot_lightcurve(path, curve)
        return
    plt = pyplot()
    period, epoch = curve.ephemeris
    x = _phase(curve.times, period, epoch)
    detrended = curve.flux / curve.baseline
    residual = detrended - curve.predicted / curve.baseline
    # The model along one orbit, at times in the middle of the data.
    middle = epoch + period * np.round((np.median(curve.times) - epoch) / period)
    grid = np.linspace(-0.25, 0.75, _GRID, endpoint=False)
    model = np.asarray(curve.signal(middle + period * grid), dtype=float)
    zooms = eclipse_windows(grid, model)
    zooms.sort(key=lambda z: z[0])
    scale, unit = (1e3, " (ppt)") if curve.normalised else (1.0, "")
    columns = max(1, len(zooms))
    fig = plt.figure(figsize=(4.2 * max(columns, 2.3), 10.5))
    # Row 2 is a spacer: it keeps the fold's axis label clear of the zoomed panels.
    rows = fig.add_gridspec(5, columns, height_ratios=[3, 1.1, 0.75, 3, 1.1], hspace=0.08,
                            wspace=0.28)
    top = fig.add_subplot(rows[0, :])
    top_res = fig.add_subplot(rows[1, :], sharex=top)
    small = curve.times.size > 3000
    top.plot(x, detrended, ".", ms=1.5 if small else 3, color="0.5", alpha=0.5,
             rasterized=True, label="data / baseline")
    edges = np.linspace(-0.25, 0.75, 201)
    centres, mean, error = _binned(x, detrended, edges)
    top.errorbar(centres, mean, yerr=error, fmt="o", ms=2.5, color="C0", lw=0.8,
                 label="binned (0.005 in phase)")
    top.plot(grid, model, color="C3", lw=1.2, label="model")
    top.set_ylabel("relative flux" if curve.normalised else "flux")
    top.set_title(curve.title, fontsize=9)
    top.legend(loc="lower right", fontsize=7)
    top.tick_params(labelbottom=False)
    _residual_axis(top_res, x, residual, edges, scale, unit, "binned")
    top_res.set_xlabel(f"orbital phase (P = {period:.8g} d, t0 = {epoch:.8g} "
                       f"{curve.time_label})")
    top_res.set_xlim(-0.25, 0.75)
    hours = 24.0 * period
    for column, (centre, width) in enumerate(zooms):
        ax = fig.add_subplot(rows[3, column])
        ax_res = fig.add_subplot(rows[4, column], sharex=ax)
        # Hours from the dip's minimum, with the phase wrapped around it.
        offset = np.mod(x - centre + 0.5, 1.0) - 0.5
        near = np.abs(offset) <= width
        grid_offset = np.mod(grid - centre + 0.5, 1.0) - 0.5
        order = np.argsort(grid_offset)
        ax.plot(offset[near] * hours, detrended[near], ".", ms=2 if small else 3,
                color="0.5", alpha=0.6, rasterized=True)
        zoom_edges = np.linspace(-width, width, 41)
        c, mean, error = _binned(offset[near], detrended[near], zoom_edges)
        ax.errorbar(c * hours, mean, yerr=error, fmt="o", ms=2.5, color="C0", lw=0.8)
        keep = np.abs(grid_offset[order]) <= width
        ax.plot(grid_offset[order][keep] * hours, model[order][keep], color="C3", lw=1.2)
        ax.set_xlim(-width * hours, width * hours)
        ax.set_title(f"around phase {np.mod(centre + 0.25, 1.0) - 0.25:.3f}", fontsize=9)
        ax.tick_params(labelbottom=False)
        if column == 0:
            ax.set_ylabel("relative flux" if curve.normalised else "flux")
        _residual_axis(ax_res, offset[near] * hours, residual[near], zoom_edges * hours,
                       scale, unit if column == 0 else "", "binned")
        if column:
            ax_res.set_ylabel("")
        ax_res.set_xlabel("hours from the minimum")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_lightcurve(path: Path, curve: FoldedCurve) -> None:
    """``lightcurve.png``: data and the whole model against time, residuals binned."""
    plt = pyplot()
    order = np.argsort(curve.times)
    t = curve.times[order]
    residual = (curve.flux - curve.predicted)[order]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1.2], "hspace": 0.06})
    small = t.size > 3000
    top.plot(t, curve.flux[order], ".", ms=1.5 if small else 3, color="0.45", alpha=0.6,
             rasterized=True, label="data")
    # No model line across gaps in the data (longer than 5 cadences).
    step = np.diff(t)
    gaps = np.flatnonzero(step > 5 * np.median(step)) + 1 if t.size > 2 else []
    line_t = np.insert(t, gaps, np.nan)
    line_f = np.insert(curve.predicted[order], gaps, np.nan)
    top.plot(line_t, line_f, "-", color="C3", lw=0.8, label="model (with baseline)")
    for start in curve.segment_starts:
        for ax in (top, bottom):
            ax.axvline(start, color="0.7", lw=0.8, ls=":")
    top.set_ylabel("relative flux" if curve.normalised else "flux")
    top.set_title(curve.title, fontsize=9)
    top.legend(loc="lower right", fontsize=7)
    scale, unit = (1e3, " (ppt)") if curve.normalised else (1.0, "")
    span = t[-1] - t[0]
    edges = np.linspace(t[0], t[-1] + 1e-9 * max(span, 1.0), 301)
    _residual_axis(bottom, t, residual, edges, scale, unit, "binned")
    bottom.set_xlabel(f"{curve.time_label} (d)")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_parameter_history(path: Path, history: dict, names: list[str],
                           units: dict[str, str], columns: dict[str, str]) -> bool:
    """``parameters.png``: each fitted parameter against the iteration.

    Parameters
    ----------
    path : Path
        The PNG file.
    history : dict
        :func:`~mpicg.cli.history.read_history`'s columns.
    names : list of str
        The fitted parameters.
    units : dict
        Name -> unit.
    columns : dict
        Name -> its column in ``history``.

    Returns
    -------
    bool
        Whether the figure was written (False when the history has no parameter values).
    """
    present = [n for n in names if history.get(columns[n])]
    if not present:
        return False
    plt = pyplot()
    n = len(present)
    ncols = min(3, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.0 * ncols, 2.4 * nrows), sharex=True,
                             squeeze=False)
    iteration = np.array(history["iteration"])
    for ax, name in zip(axes.flat, present, strict=False):
        ax.plot(iteration, history[columns[name]], ".-", ms=3, lw=1, color="C0")
        unit = units.get(name, "")
        ax.set_ylabel(f"{name} ({unit})" if unit else name)
        ax.grid(alpha=0.3)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("iteration")
    fig.suptitle("fitted parameters per iteration", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
