"""``mpicg report SOLUTION``: a text summary and PNG plots of a finished (or running) fit.

Writes, next to the solution (or into ``--output``):

``report.txt``
    the solution's summary, chi-square, reduced chi-square and residual scatter;
``fit.png``
    folded on the model's period, with panels zoomed on the eclipses or transits and the
    binned residuals (see :mod:`.plots`); the light curve against time without a period;
``lightcurve.png``
    the light curve against time, the whole model and the binned residuals;
``convergence.png``
    ln p and the gradient norm per iteration, from ``history.csv``;
``parameters.png``
    each fitted parameter per iteration, from ``history.csv``;
``correlation.png``
    the correlation matrix of the fitted parameters (when the fit has uncertainties).

It runs serially (the model is evaluated once on the data, and on a grid for the curve).
The plots need matplotlib (``pip install matplotlib``); without it only the text is written.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fitting import Solution, load_solution
from ..models import Baseline
from .fit import HISTORY, SOLUTION, observation_model, read_job_record
from .history import parameter_column, read_history
from .observations import read_observations
from .plots import FoldedCurve, plot_fit, plot_lightcurve, plot_parameter_history, pyplot

__all__ = ["write_report"]


def _solution_path(given) -> Path:
    """The solution file: ``given``, or the one in the directory ``given``."""
    path = Path(given)
    path = path / SOLUTION if path.is_dir() else path
    if not path.is_file():
        raise InputError(f"no solution at {str(given)!r} (give a solution.json written by "
                         "mpicg fit, or its output directory)")
    return path


def _plot_convergence(path: Path, history: dict, solution: Solution) -> None:
    plt = pyplot()
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


def _folded_curve(model, x_all: np.ndarray, observations, predicted: np.ndarray,
                  values: dict, solution: Solution) -> FoldedCurve:
    """The data, the model and its baseline, as the plots need them."""
    times = observations.times
    if isinstance(model, Baseline):
        inner = model.model
        n_inner = len(inner.parameters)
        baseline = model.baseline(x_all, times)

        def signal(t):
            return inner(x_all[:n_inner], t)
    else:
        baseline = np.ones(times.size)

        def signal(t):
            return model(x_all, t)
    fitted = ", ".join(f"{n} = {solution.fitted_values[n]:.10g}"
                       for n in solution.fit_parameters[:6])
    more = ", ..." if len(solution.fit_parameters) > 6 else ""
    title = (f"{fitted}{more}\n{solution.message} (status {solution.status}), "
             f"{solution.nit} iterations")
    normalised = bool(abs(np.median(observations.flux) - 1.0) < 0.5)
    return FoldedCurve(times=times, flux=observations.flux, sigma=observations.sigma,
                       predicted=predicted, baseline=baseline, signal=signal,
                       ephemeris=model.ephemeris(values), time_label=observations.time_label,
                       segment_starts=observations.segments.starts[1:], title=title,
                       normalised=normalised)


def _plot_correlation(path: Path, solution: Solution) -> None:
    plt = pyplot()
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
    """Write ``report.txt`` and the plots (see the module doc) for a solution.

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
    if job.phoebe is not None:  # the bundle holds the model and the observations
        from .phoebe import phoebe_observations

        observations, model = phoebe_observations(job)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the fit said it already
            observations = read_observations(job)
            model = observation_model(job, observations)
    times, flux, sigma = observations.times, observations.flux, observations.sigma
    values = solution.adopt(model.defaults)
    x_all = np.array([values[n] for n in model.parameter_names])
    predicted = model(x_all, times)
    chi2 = float(np.sum(((flux - predicted) / sigma) ** 2))
    dof = times.size - len(solution.fit_parameters)
    text = "\n".join([
        f"mpicg report for {path}",
        solution.summary(),
        *(f"  {line}" for line in observations.descriptions),
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
    curve = _folded_curve(model.model, x_all, observations, predicted, values, solution)
    plot_fit(out / "fit.png", curve)
    plot_lightcurve(out / "lightcurve.png", curve)
    written += [out / "fit.png", out / "lightcurve.png"]
    history_file = directory / HISTORY
    history = read_history(history_file) if history_file.exists() else None
    if history and history["iteration"]:
        _plot_convergence(out / "convergence.png", history, solution)
        written.append(out / "convergence.png")
        columns = {n: parameter_column(n) for n in solution.fit_parameters}
        if plot_parameter_history(out / "parameters.png", history, solution.fit_parameters,
                                  solution.units, columns):
            written.append(out / "parameters.png")
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
