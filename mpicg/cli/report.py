"""``mpicg report SOLUTION``: a text summary and PNG plots of a finished (or running) fit.

Writes, next to the solution (or into ``--output``):

``report.txt``
    the solution's summary, chi-square, reduced chi-square and residual scatter;
``fit.png``
    the data with the fitted model and, below, the residuals; folded on the period when the
    model has one and a ``t0``;
``convergence.png``
    ln p and the gradient norm per iteration, from ``history.csv``;
``correlation.png``
    the correlation matrix of the fitted parameters (when the fit has uncertainties).

It runs serially (the model is evaluated once on the data, and on a grid for the curve).
The plots need matplotlib (``pip install matplotlib``); without it only the text is written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fitting import Solution, WithValues, load_solution
from .datafile import read_light_curve
from .fit import HISTORY, SOLUTION, read_job_record
from .history import read_history
from .jobfile import make_model

__all__ = ["write_report"]

_GRID = 2000  # model points along the plotted curve
_GRID_PHOEBE = 200  # PHOEBE costs a second or so per call: fewer


def _solution_path(given) -> Path:
    """The solution file: ``given``, or the one in the directory ``given``."""
    path = Path(given)
    path = path / SOLUTION if path.is_dir() else path
    if not path.is_file():
        raise InputError(f"no solution at {str(given)!r} (give a solution.json written by "
                         "mpicg fit, or its output directory)")
    return path


def _period_and_t0(model, values: dict) -> tuple[float, float] | None:
    """The period and reference epoch to fold on, when the model has both."""
    period = values.get("period", getattr(model, "period", None))
    t0 = values.get("t0")
    if isinstance(period, int | float) and period > 0 and t0 is not None:
        return float(period), float(t0)
    return None


def _phase(times, period: float, t0: float) -> np.ndarray:
    """Orbital phase in [-0.25, 0.75): primary eclipse at 0, secondary near 0.5."""
    return np.mod((times - t0) / period + 0.25, 1.0) - 0.25


def _pyplot():
    """The pyplot module, drawing to files only (no display needed on a cluster)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_fit(path: Path, times, flux, sigma, predicted, model, values,
              solution: Solution, grid: int = _GRID) -> None:
    plt = _pyplot()
    x_all = np.array([values[n] for n in model.parameter_names])
    residual = flux - predicted
    fold = _period_and_t0(model, values)
    if fold is not None:
        period, t0 = fold
        x = _phase(times, period, t0)
        grid_phase = np.linspace(-0.25, 0.75, grid, endpoint=False)
        grid_y = model(x_all, t0 + period * grid_phase)
        grid_x, xlabel = grid_phase, f"phase (period {period:.6g}, t0 {t0:.6g})"
    else:
        x = times
        grid_x = np.linspace(times.min(), times.max(), grid)
        grid_y, xlabel = model(x_all, grid_x), "time"
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1.2]})
    small = times.size > 2000
    top.errorbar(x, flux, yerr=None if small else sigma, fmt=".", ms=2 if small else 3,
                 color="0.45", alpha=0.6 if small else 0.9, lw=0.5, label="data")
    top.plot(grid_x, grid_y, color="C3", lw=1.2, label="model at the solution")
    top.set_ylabel("flux")
    title = ", ".join(f"{n} = {solution.fitted_values[n]:.6g}"
                      for n in solution.fit_parameters)
    top.set_title(f"{title}\n{solution.message} (status {solution.status}), "
                  f"{solution.nit} iterations", fontsize=9)
    top.legend(loc="lower right", fontsize=8)
    bottom.plot(x, residual, ".", ms=2 if small else 3, color="0.3", alpha=0.6)
    bottom.axhline(0.0, color="C3", lw=1)
    bottom.set_ylabel("data - model")
    bottom.set_xlabel(xlabel)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_convergence(path: Path, history: dict, solution: Solution) -> None:
    plt = _pyplot()
    it = np.array(history["iteration"])
    fun = np.array(history["fun"])
    gnorm = np.array(history["gnorm"])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    # ln p climbs by orders of magnitude at first, then by tiny amounts: plot its distance
    # below the final value on a log axis, so both stages show.
    gap = fun - fun.min()
    positive = gap > 0
    top.semilogy(it[positive], gap[positive], ".-", color="C0", ms=3, lw=1)
    top.set_ylabel("ln p(final) - ln p")
    top.set_title(f"ln p from {-fun[0]:.6g} to {-fun[-1]:.6g} in {it[-1]} iterations, "
                  f"{history['nfev'][-1]} model evaluations", fontsize=9)
    top.grid(alpha=0.3)
    bottom.semilogy(it, gnorm, ".-", color="C1", ms=3, lw=1)
    gtol = solution.options.get("gtol")
    if isinstance(gtol, int | float) and gtol > 0:
        bottom.axhline(gtol, color="0.4", ls="--", lw=1, label=f"gtol = {gtol:g}")
        bottom.legend(fontsize=8)
    norm = solution.options.get("norm", np.inf)
    bottom.set_ylabel("max |d(-ln p)/dx_i|" if norm == np.inf else
                      f"{norm:g}-norm of the gradient of -ln p")
    bottom.set_xlabel("iteration")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_correlation(path: Path, solution: Solution) -> None:
    plt = _pyplot()
    names = solution.fit_parameters
    n = len(names)
    corr = np.asarray(solution.correlation)
    fig, ax = plt.subplots(figsize=(2.2 + 0.9 * n, 1.6 + 0.8 * n))
    image = ax.imshow(corr, cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n), names)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{corr[i, j]:+.2f}", ha="center", va="center", fontsize=8,
                    color="white" if abs(corr[i, j]) > 0.6 else "black")
    fig.colorbar(image, ax=ax, label="correlation", shrink=0.8)
    sigma = ", ".join(f"σ({k}) = {solution.uncertainties[k]:.2g}" for k in names)
    ax.set_title(f"correlations at the solution\n{sigma}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(solution_file, output=None, say=print) -> list[Path]:
    """Write ``report.txt``, ``fit.png``, ``convergence.png`` and ``correlation.png``.

    Parameters
    ----------
    solution_file : str or path
        A ``solution.json`` written by ``mpicg fit`` (or its output directory).
    output : str or path, optional
        Where to write (default: the solution's directory).
    say : callable
        Where the summary and the list of files go.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    InputError
        A missing or foreign solution file, or a directory without the job record.
    """
    path = _solution_path(solution_file)
    solution = load_solution(path)
    directory = path.parent
    out = Path(output) if output is not None else directory
    out.mkdir(parents=True, exist_ok=True)
    job = read_job_record(directory)
    if job.phoebe is not None:  # the bundle holds the model and the data
        from .phoebe import read_phoebe_job

        bundle_fit = read_phoebe_job(job)
        model = bundle_fit.model
        times, flux, sigma = bundle_fit.bundle.times, bundle_fit.bundle.flux, \
            bundle_fit.bundle.sigma
    else:
        model = WithValues(make_model(job), tuple(job.values.items()))
        times, flux, sigma = read_light_curve(job.data_file, job.columns, job.sigma)
    values = solution.adopt(model.defaults)
    predicted = model(np.array([values[n] for n in model.parameter_names]), times)
    chi2 = float(np.sum(((flux - predicted) / sigma) ** 2))
    dof = times.size - len(solution.fit_parameters)
    text = "\n".join([
        f"mpicg report for {path}",
        solution.summary(),
        f"  {times.size} observations; chi^2 = {chi2:.6g}, reduced chi^2 = "
        f"{chi2 / max(dof, 1):.4f} ({dof} degrees of freedom)",
        f"  residuals: rms {np.std(flux - predicted):.4g}, median sigma {np.median(sigma):.4g}",
    ])
    written = [out / "report.txt"]
    written[0].write_text(text + "\n")
    say(text)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        say("matplotlib is not installed: no plots (pip install matplotlib)")
        return written
    _plot_fit(out / "fit.png", times, flux, sigma, predicted, model, values, solution,
              grid=_GRID if job.phoebe is None else _GRID_PHOEBE)
    written.append(out / "fit.png")
    history_file = directory / HISTORY
    history = read_history(history_file) if history_file.exists() else None
    if history and history["iteration"]:
        _plot_convergence(out / "convergence.png", history, solution)
        written.append(out / "convergence.png")
    else:
        say(f"no history in {history_file}: no convergence plot")
    if solution.correlation is not None:
        _plot_correlation(out / "correlation.png", solution)
        written.append(out / "correlation.png")
    else:
        say("no uncertainties in the solution: no correlation plot"
            + (f" ({solution.uncertainties_note})" if solution.uncertainties_note else ""))
    say("wrote " + ", ".join(str(p) for p in written))
    return written
