"""``mpicg example NAME``: fits of real stars, their data fetched from the package index.

``wasp4``
    the hot Jupiter WASP-4b in TESS sector 2 (two-minute cadence), with ``batman``; compared
    with Bouma et al. (2019, AJ 157, 217).
``hd23642``
    the detached eclipsing binary HD 23642 in the Pleiades, K2 campaign 4 long cadence,
    with the built-in eclipsing binary, its proximity effects and 29.4-minute integration;
    compared with the values of ellc's example (David et al. 2016, AJ 151, 112) and with
    ellc's own fit (Maxted 2016, A&A 591, A111).

The command fetches the light curve (:mod:`.fetch`: once, into a cache), writes it and the
example's job file (shipped in ``mpicg/examples/``) into the output directory, fits it as
``mpicg fit`` would (run it under ``mpirun``), and writes ``comparison.txt``: each fitted
parameter against the published value, in combined standard deviations.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import FitAborted
from ..fitting import Solution
from ..parallel import barrier, is_root
from .fetch import FetchError, Release, fetch_member
from .jobfile import load_job

__all__ = ["EXAMPLES", "Example", "Reference", "compare", "run_example", "write_example"]

PYTRANSIT = Release("pytransit", "2.10.1", "pytransit-2.10.1.tar.gz",
                    "18bcdab9f93d58c7bb32f732f66d36d4c63bf5a991e0b30c5aaefbc6a4196e38",
                    "GPL-2.0")
ELLC = Release("ellc", "1.8.15", "ellc-1.8.15.tar.gz",
               "c25e5da12218df50aa307a230eefee87cd94e4521101334ec7e787edab7b1091", "GPL-3.0")


@dataclass(frozen=True)
class Reference:
    """A published value with its 68 % interval.

    Attributes
    ----------
    value : float
        The value.
    minus, plus : float
        Its uncertainty below and above (equal for a symmetric one).
    """

    value: float
    minus: float
    plus: float

    def sigma_towards(self, other: float) -> float:
        """The uncertainty on the side of ``other``."""
        return self.plus if other > self.value else self.minus


@dataclass(frozen=True)
class Example:
    """A real light curve, the job that fits it, and what to compare the fit with.

    Attributes
    ----------
    name : str
        The command's name for it.
    title : str
        One line for people.
    release : Release
        The package release that holds the light curve.
    member, member_sha256 : str
        The light curve's path in the release's archive, and its SHA-256.
    job : str
        The job file in ``mpicg/examples/``.
    references : dict
        Source (a citation) -> parameter -> :class:`Reference`.
    derived : dict
        Name -> (the fitted parameters it depends on, the function of them): quantities
        compared that the fit does not vary itself (their σ from the fit's covariance).
    notes : tuple of str
        Lines printed with the comparison.
    """

    name: str
    title: str
    release: Release
    member: str
    member_sha256: str
    job: str
    references: dict[str, dict[str, Reference]] = field(default_factory=dict)
    derived: dict[str, tuple[tuple[str, ...], Callable[..., float]]] = field(
        default_factory=dict)
    notes: tuple[str, ...] = ()


def _surface_brightness_ratio(light_ratio: float, r1: float, r2: float) -> float:
    """The disc-averaged surface-brightness ratio of a light ratio L2/L1 and the radii."""
    return light_ratio * (r1 / r2) ** 2


EXAMPLES = {
    "wasp4": Example(
        name="wasp4",
        title="WASP-4b, TESS sector 2, two-minute cadence (PDCSAP flux, default quality mask)",
        release=PYTRANSIT,
        member="pytransit-2.10.1/notebooks/tess_examples/data/"
               "tess2018234235059-s0002-0000000402026209-0121-s_lc.fits",
        member_sha256="d9f1fa88f015206b9718526ccc12d3447fcdbe11c3fff803d0f84dc5d7c3b500",
        job="wasp4.toml",
        references={
            "Bouma et al. 2019, AJ 157, 217 (Table 1; t0: a weighted line through their 18 "
            "TESS mid-transit times)": {
                "t0": Reference(1367.228592, 0.000062, 0.000062),
                "rp": Reference(0.15201, 0.00033, 0.00040),
                "a": Reference(5.451, 0.052, 0.023),
                "inc": Reference(89.06, 0.84, 0.65),
            },
        },
        notes=("Bouma et al. fit the same sector (PDC flux, quality 0, momentum dumps and "
               "orbit edges clipped; a line per transit divided out) with BATMAN and emcee, "
               "P and limb darkening free.",)),
    "hd23642": Example(
        name="hd23642",
        title="HD 23642, K2 campaign 4, long cadence (29.4 min), Kepler magnitudes",
        release=ELLC,
        member="ellc-1.8.15/examples/ellc_emcee/HD23642.dat",
        member_sha256="5ff574ed338da8ea0bb972f2ddd9d5b9d3500c7a53a9199e675bbccc626450c8",
        job="hd23642.toml",
        references={
            "ellc example's reference values (HD23642.in; David et al. 2016, AJ 151, 112)": {
                "r1": Reference(0.1450, 0.0023, 0.0023),
                "r2": Reference(0.1262, 0.0037, 0.0037),
                "sbratio": Reference(0.4859, 0.0068, 0.0068),
                "incl": Reference(78.21, 0.11, 0.11),
                "t0": Reference(7119.52217, 0.00006, 0.00006),
            },
            "ellc 1.6.2 emcee fit, Roche geometry and reflection (Maxted 2016; medians and "
            "standard deviations of the chain in ellc 1.8.15's example, steps >= 500)": {
                "r1": Reference(0.14215, 0.00289, 0.00289),
                "r2": Reference(0.12950, 0.00430, 0.00430),
                "sbratio": Reference(0.47668, 0.00487, 0.00487),
                "incl": Reference(78.171, 0.126, 0.126),
                "t0": Reference(7119.5221735, 0.000065, 0.000065),
            },
        },
        derived={"sbratio": (("light_ratio", "r1", "r2"), _surface_brightness_ratio)},
        notes=("Like ellc's example, the fit has the spectroscopic light ratio 0.354 +- "
               "0.035 as a prior (HD23642.in); the surface-brightness ratio is derived, "
               "light_ratio (r1/r2)^2.",
               "mpicg's stars are spheres with a first-order ellipsoidal term and Lambert-"
               "sphere reflection (mpicg.models.proximity); ellc fits Roche shapes, gravity "
               "darkening and its own reflection model, with 4-coefficient limb darkening "
               "and a linear trend.")),
}


def write_example(name: str, directory, cache=None) -> Path:
    """Fetch an example's light curve and write it with the job file into ``directory``.

    Parameters
    ----------
    name : str
        A key of :data:`EXAMPLES`.
    directory : str or path
        Created if needed.
    cache : str or path, optional
        Where fetched files are kept (default: :func:`~.fetch.cache_directory`).

    Returns
    -------
    Path
        The job file.

    Raises
    ------
    FetchError
        The light curve cannot be fetched.
    """
    example = EXAMPLES[name]
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    data = fetch_member(example.release, example.member, example.member_sha256,
                        None if cache is None else Path(cache))
    shutil.copyfile(data, directory / Path(example.member).name)
    job = directory / "job.toml"
    job.write_text((resources.files("mpicg") / "examples" / example.job).read_text())
    return job


def _sigma_of_fit(solution: Solution, name: str) -> float | None:
    """The fit's own standard deviation of a parameter, when the solution has one."""
    found = solution.uncertainties
    if isinstance(found, dict) and name in found:
        value = float(found[name])
        return value if math.isfinite(value) else None
    return None


def _derived(solution: Solution, example: Example, name: str) -> tuple[float, float | None]:
    """A derived quantity at the solution, and its σ propagated from the covariance."""
    depends, function = example.derived[name]
    x = np.array([solution.fitted_values[n] for n in depends])
    value = float(function(*x))
    if solution.covariance is None:
        return value, None
    index = [solution.fit_parameters.index(n) for n in depends]
    covariance = np.asarray(solution.covariance)[np.ix_(index, index)]
    # Central differences of the function, each step a thousandth of the parameter's σ.
    steps = 1e-3 * np.sqrt(np.diag(covariance))
    gradient = np.array([(function(*(x + h * e)) - function(*(x - h * e))) / (2 * h)
                         for h, e in zip(steps, np.eye(x.size), strict=True)])
    variance = float(gradient @ covariance @ gradient)
    return value, (math.sqrt(variance) if variance > 0 else None)


def compare(solution: Solution, example: Example) -> tuple[list[str], float]:
    """Lines comparing the fit with each reference, and the largest |difference| / sigma.

    The difference is divided by the combined standard deviation: the reference's on the
    side of the fitted value, and the fit's own when the solution carries one.
    """
    lines, worst = [], 0.0
    for source, values in example.references.items():
        lines.append(f"  against {source}:")
        lines.append(f"    {'parameter':11s} {'mpicg':>16s} {'sigma':>9s} "
                     f"{'reference':>16s} {'-':>9s} {'+':>9s} {'(fit-ref)/sigma':>16s}")
        for name, ref in values.items():
            if name in solution.fitted_values:
                fitted, own = solution.fitted_values[name], _sigma_of_fit(solution, name)
            elif name in example.derived:
                fitted, own = _derived(solution, example, name)
                name = f"{name}*"
            else:
                continue
            combined = math.hypot(ref.sigma_towards(fitted), own or 0.0)
            z = (fitted - ref.value) / combined
            worst = max(worst, abs(z))
            shown = f"{own:9.2g}" if own is not None else f"{'-':>9s}"
            lines.append(f"    {name:11s} {fitted:16.10g} {shown} {ref.value:16.10g} "
                         f"{ref.minus:9.2g} {ref.plus:9.2g} {z:16.2f}")
    if example.derived:
        lines.append(f"  * derived: {', '.join(example.derived)}")
    lines.extend(f"  {note}" for note in example.notes)
    return lines, worst


def run_example(name: str, output=None, cache=None, say=print) -> Solution:
    """Fetch, write and fit an example on every rank of the launch; rank 0 reports.

    Parameters
    ----------
    name : str
        A key of :data:`EXAMPLES`.
    output : str or path, optional
        The output directory (default: ``mpicg-NAME``).
    cache : str or path, optional
        Where fetched files are kept.
    say : callable
        Where rank 0's report goes.

    Returns
    -------
    Solution
        The fit, on every rank.

    Raises
    ------
    FetchError
        On rank 0 when the light curve cannot be fetched (the other ranks leave quietly).
    """
    from .fit import run_fit

    example = EXAMPLES[name]
    output = Path(output if output is not None else f"mpicg-{name}")
    root = is_root()
    say = say if root else (lambda *a, **k: None)
    failure = None
    # Rank 0 fetches into the cache first; the others then find it there (or, without a
    # shared file system, fetch it themselves).
    if root:
        try:
            write_example(name, output, cache)
        except FetchError as e:
            failure = e
    barrier()
    if not root:
        try:
            fetch_member(example.release, example.member, example.member_sha256,
                         None if cache is None else Path(cache))
        except FetchError as e:
            failure = e
    if failure is not None:
        if not root:
            raise FitAborted(str(failure), 1) from failure
        raise failure
    barrier()
    say(f"mpicg example {name}: {example.title}")
    say(f"  light curve from {example.release.filename} ({example.release.licence}), job "
        f"file {output / 'job.toml'}")
    solution = run_fit(load_job(output / "job.toml"))
    lines, worst = compare(solution, example)
    text = "\n".join([f"mpicg example {name}: {example.title}", *lines,
                      f"  largest |fit - reference| / sigma: {worst:.2f}"])
    if root:
        (output / "comparison.txt").write_text(text + "\n")
    say(text)
    say(f"  next: mpicg report {output / 'solution.json'}")
    return solution
