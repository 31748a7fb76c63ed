"""A job's observations: one or more light-curve files made into one normalised light curve.

Each file is read by its kind: Kepler, K2 and TESS light-curve files by :mod:`.missions`
(quality mask, flux column, time system from the header), anything else as a table by
:mod:`.datafile` (columns by name or index; magnitudes converted to flux). Then

* times of mission files are put on the first one's BJD reference (Kepler and K2 count from
  BJD 2454833, TESS from 2457000);
* the light curve is cut into segments: one per file (the default), also at gaps longer than
  ``segment_gap``, or a single one; each segment gets its own flux level (and trend) in the
  fit's baseline and its own exposure time (a file's cadence);
* each segment's flux and sigma are divided by the segment's median flux (by default for
  mission files, whose flux is in e-/s, and for magnitudes; tables of flux are used as they
  are unless ``normalise`` is set).

Magnitudes ``m +- s`` become flux ``F = 10**(-0.4 m)`` with ``sigma_F = 0.4 ln(10) F s``
(first-order propagation, accurate while ``s`` << 1 mag).
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..models import Segments
from .datafile import not_a_file, read_light_curve
from .jobfile import Job
from .missions import is_mission_file, read_mission_file

__all__ = ["Observations", "read_observations"]

#: A cadence longer than this (d) fitted without supersampling gets a warning (10 minutes).
LONG_CADENCE = 10.0 / 1440.0


@dataclass(frozen=True)
class Observations:
    """The light curve a job fits, with what the model needs to know about it.

    Attributes
    ----------
    times, flux, sigma : ndarray
        Sorted by time, shape (n,); flux and sigma normalised when asked.
    segments : Segments
        The segments (start times, centres, names).
    exposure_times : tuple of float
        Exposure time of each segment (d; 0 when unknown).
    time_label : str
        What the times are (``"BJD_TDB - 2457000"``), for axes.
    descriptions : list of str
        One line per file: what was read, masked and kept.
    """

    times: np.ndarray
    flux: np.ndarray
    sigma: np.ndarray
    segments: Segments
    exposure_times: tuple[float, ...]
    time_label: str
    descriptions: list[str]


@dataclass
class _File:
    name: str
    times: np.ndarray
    flux: np.ndarray
    sigma: np.ndarray
    exposure: float
    reference: float | None
    label: str | None
    description: str


def _read_file(job: Job, path: Path) -> _File:
    """One file of the job, by its kind."""
    def data_error(key):
        return lambda message: job.error(message, "data", key)

    name = path.name
    if not path.is_file():
        raise job.error(f"data file {str(path)!r} {not_a_file(path)}", "data", job.files_key)
    if is_mission_file(path):
        if job.columns_given:
            raise job.error(f"{name} is a {_mission_word(path)} light-curve file: choose its "
                            "flux with flux_column ('PDCSAP_FLUX' or 'SAP_FLUX'); columns "
                            "are for tables", "data", "columns")
        if job.magnitudes:
            raise job.error(f"{name} is a mission light-curve file in e-/s, not magnitudes",
                            "data", "magnitudes")
        found = read_mission_file(path, job.flux_column or "PDCSAP_FLUX",
                                  "default" if job.quality_bitmask is None
                                  else job.quality_bitmask,
                                  keep=job.keep, complain=data_error(job.files_key))
        c = found.counts
        description = (f"{name}: {found.mission} {found.season} {found.target}, "
                       f"{found.flux_column}; {c['rows']} rows, {c['masked']} dropped by the "
                       f"quality mask {found.bitmask}, {c['not_finite']} not finite"
                       + (f", {c['removed_by_keep']} outside keep" if job.keep else "")
                       + f"; {c['kept']} kept; cadence {found.cadence * 86400:.1f} s")
        exposure = found.cadence if math.isfinite(found.cadence) else 0.0
        return _File(name, found.times, found.flux, found.sigma,
                     job.exposure_time if job.exposure_time is not None else exposure,
                     found.time_reference, found.time_label, description)
    for key, given in (("flux_column", job.flux_column),
                       ("quality_bitmask", job.quality_bitmask)):
        if given is not None:
            raise job.error(f"is for Kepler, K2 and TESS light-curve files; {name} is read "
                            "as a table (choose its columns with columns)", "data", key)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        times, flux, sigma = read_light_curve(
            path, job.columns, job.sigma, complain=data_error(job.files_key),
            complain_column=data_error("columns"), keep=job.keep,
            complain_keep=data_error("keep"))
    dropped = "; ".join(str(w.message) for w in caught)
    if job.magnitudes:
        flux = 10.0 ** (-0.4 * flux)
        sigma = 0.4 * math.log(10.0) * flux * sigma
    description = (f"{name}: {times.size} rows" + (" (magnitudes -> flux)" if job.magnitudes
                                                   else "") + (f"; {dropped}" if dropped else ""))
    return _File(name, times, flux, sigma, job.exposure_time or 0.0, None, None, description)


def _mission_word(path: Path) -> str:
    from astropy.io import fits

    with fits.open(path) as hdus:
        return str(hdus[0].header.get("MISSION", hdus[0].header.get("TELESCOP", "")))


def _pieces(job: Job, f: _File) -> list[tuple[str, np.ndarray]]:
    """(name, row indices) of each segment of one file."""
    order = np.argsort(f.times, kind="stable")
    if job.segments != "gap":
        return [(f.name, order)]
    cuts = np.flatnonzero(np.diff(f.times[order]) > job.segment_gap) + 1
    parts = np.split(order, cuts)
    if len(parts) == 1:
        return [(f.name, order)]
    return [(f"{f.name} part {k}", part) for k, part in enumerate(parts, start=1)]


def read_observations(job: Job) -> Observations:
    """Read, segment and normalise the light curve of a job (its ``[data]`` table).

    Parameters
    ----------
    job : Job
        The job (see :mod:`.jobfile`).

    Returns
    -------
    Observations
        The light curve sorted by time, its segments and their exposure times.

    Raises
    ------
    InputError
        A missing or unreadable file, a key that does not suit a file's kind, files that
        overlap in time (when each is a segment), no row left: naming the job file's key and
        line.
    """
    files = [_read_file(job, Path(p)) for p in job.data_files]
    references = [f.reference for f in files if f.reference is not None]
    for f in files:
        if f.reference is not None and f.reference != references[0]:
            # Whole days between the missions' references: exact in float64.
            f.times = f.times + (f.reference - references[0])
    label = job.time_label or next((f.label for f in files if f.label), None) or "time"
    normalise = job.normalise
    if normalise is None:
        normalise = bool(references) or job.magnitudes

    # Segments: (name, times, flux, sigma, exposure) of each.
    pieces = []
    for f in files:
        for name, rows in _pieces(job, f):
            pieces.append((name, f.times[rows], f.flux[rows], f.sigma[rows], f.exposure))
    if job.segments == "single":
        exposures = {p[4] for p in pieces}
        if len(exposures) > 1:
            raise job.error(f"the files' exposure times differ ({sorted(exposures)} d): one "
                            "segment cannot hold them; use segments = 'file' or give "
                            "exposure_time", "data", "segments")
        merged = [np.concatenate([p[k] for p in pieces]) for k in (1, 2, 3)]
        pieces = [("all data", *merged, pieces[0][4])]
    pieces.sort(key=lambda p: float(np.min(p[1])))
    for a, b in itertools.pairwise(pieces):
        if np.max(a[1]) >= np.min(b[1]):
            raise job.error(f"{a[0]} and {b[0]} overlap in time ({np.min(a[1]):.6f} to "
                            f"{np.max(a[1]):.6f} and {np.min(b[1]):.6f} to "
                            f"{np.max(b[1]):.6f}): each segment needs its own stretch of "
                            "time; use segments = 'single'", "data", job.files_key)
    if normalise:
        normalised = []
        for name, times, flux, sigma, exposure in pieces:
            median = float(np.median(flux))
            if not (median > 0):
                raise job.error(f"{name}: the median flux is {median!r}; it cannot be "
                                "normalised (set normalise = false)", "data", "normalise")
            normalised.append((name, times, flux / median, sigma / median, exposure))
        pieces = normalised
    times = np.concatenate([p[1] for p in pieces])
    flux = np.concatenate([p[2] for p in pieces])
    sigma = np.concatenate([p[3] for p in pieces])
    order = np.argsort(times, kind="stable")
    segments = Segments(starts=tuple(float(np.min(p[1])) for p in pieces),
                        centres=tuple(0.5 * float(np.min(p[1]) + np.max(p[1]))
                                      for p in pieces),
                        names=tuple(p[0] for p in pieces))
    descriptions = [f.description for f in files]
    if normalise:
        descriptions.append(f"flux and sigma divided by the median flux of each of the "
                            f"{len(pieces)} segment(s)")
    return Observations(times[order], flux[order], sigma[order], segments,
                        tuple(float(p[4]) for p in pieces), label, descriptions)
