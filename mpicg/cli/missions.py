"""Kepler, K2 and TESS light-curve files (``*_llc.fits``, ``*_lc.fits``), read with astropy.

The missions' pipelines (Kepler SOC, TESS SPOC) write a ``LIGHTCURVE`` binary table with
``TIME`` (BJD minus a reference, in the TDB time scale), ``SAP_FLUX`` (simple aperture
photometry) and ``PDCSAP_FLUX`` (systematics-corrected by Presearch Data Conditioning), each
with an ``_ERR`` column, and a quality word per cadence (``SAP_QUALITY`` for Kepler and K2,
``QUALITY`` for TESS) whose bits flag cadences to distrust. The time system is in the
table's header: ``BJDREFI + BJDREFF`` is the BJD of ``TIME = 0``, ``TIMESYS`` the time scale,
``TIMEPIXR`` where in the exposure the stamp lies, ``TIMEDEL`` the cadence (d).

Quality bits and the masks built from them follow the Kepler Archive Manual (KDMC-10008-006,
Table 2-3) and the TESS Science Data Products Description Document (EXP-TESS-ARC-ICD-0014,
Table 28); the ``"default"``, ``"hard"`` and ``"hardest"`` masks are the sets of bits that
lightkurve documents for its ``quality_bitmask`` option (default 1130799 for Kepler and K2,
17087 for TESS). A cadence is kept when ``quality & bitmask == 0``. The same bit means
different things in the two missions (16 is a reaction-wheel zero crossing, kept, in Kepler
and an Argabrightening event, dropped, in TESS), so each mission has its own table.

Rows whose time, flux or flux error is not finite (gaps, cadences without data) are dropped
after the mask, and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path

import numpy as np

from ..errors import InputError
from .datafile import in_range

__all__ = ["FLUX_COLUMNS", "KEPLER_QUALITY_BITS", "QUALITY_MASKS", "TESS_QUALITY_BITS",
           "MissionLightCurve", "is_mission_file", "quality_bitmask", "read_mission_file"]

#: Kepler and K2 ``SAP_QUALITY`` bits: value -> (name, in "default", in "hard").
KEPLER_QUALITY_BITS = {
    1: ("AttitudeTweak", True, True),
    2: ("SafeMode", True, True),
    4: ("CoarsePoint", True, True),
    8: ("EarthPoint", True, True),
    16: ("ZeroCrossing", False, False),
    32: ("Desat", True, True),
    64: ("Argabrightening", False, False),
    128: ("ApertureCosmic", False, True),
    256: ("ManualExclude", True, True),
    # 512 is not used by Kepler.
    1024: ("SensitivityDropout", False, True),
    2048: ("ImpulsiveOutlier", False, False),
    4096: ("ArgabrighteningOnCCD", False, False),
    8192: ("CollateralCosmic", False, True),
    16384: ("DetectorAnomaly", True, True),
    32768: ("NoFinePoint", False, False),
    65536: ("NoData", True, True),
    131072: ("RollingBandInAperture", False, False),
    262144: ("RollingBandInMask", False, False),
    524288: ("PossibleThrusterFiring", False, True),
    1048576: ("ThrusterFiring", True, True),
}

#: TESS ``QUALITY`` bits: value -> (name, in "default", in "hard").
TESS_QUALITY_BITS = {
    1: ("AttitudeTweak", True, True),
    2: ("SafeMode", True, True),
    4: ("CoarsePoint", True, True),
    8: ("EarthPoint", True, True),
    16: ("Argabrightening", True, True),
    32: ("Desat", True, True),
    64: ("ApertureCosmic", False, True),
    128: ("ManualExclude", True, True),
    256: ("Discontinuity", False, False),
    512: ("ImpulsiveOutlier", True, True),
    1024: ("CollateralCosmic", False, True),
    2048: ("Straylight", False, True),
    4096: ("Straylight2", False, True),
    8192: ("PlanetSearchExclude", False, False),
    16384: ("BadCalibrationExclude", True, True),
    32768: ("InsufficientTargets", False, False),
}


def _masks(bits: dict) -> dict[str, int]:
    return {"none": 0,
            "default": sum(b for b, (_, default, _) in bits.items() if default),
            "hard": sum(b for b, (_, _, hard) in bits.items() if hard),
            "hardest": sum(bits)}


#: Mission ("Kepler", "K2", "TESS") -> mask name -> bitmask.
QUALITY_MASKS = {"Kepler": _masks(KEPLER_QUALITY_BITS), "K2": _masks(KEPLER_QUALITY_BITS),
                 "TESS": _masks(TESS_QUALITY_BITS)}

#: The flux columns a mission file has (each with an ``_ERR`` column).
FLUX_COLUMNS = ("PDCSAP_FLUX", "SAP_FLUX")


def quality_bitmask(mission: str, quality) -> int:
    """The bitmask of a mask name (``"default"``, ``"hard"``, ``"hardest"``, ``"none"``).

    Parameters
    ----------
    mission : {"Kepler", "K2", "TESS"}
        The mission (the meaning of the bits differs).
    quality : str or int
        A mask name, or a bitmask (an integer >= 0) used as it is.

    Returns
    -------
    int
        Cadences with ``quality_word & bitmask != 0`` are dropped.

    Raises
    ------
    InputError
        An unknown name or a negative or non-integer value.
    """
    if isinstance(quality, str):
        masks = QUALITY_MASKS[mission]
        if quality not in masks:
            raise InputError(f"`quality_bitmask` must be one of {list(masks)} or an integer "
                             f">= 0; got {quality!r}")
        return masks[quality]
    if isinstance(quality, Integral) and not isinstance(quality, bool) and quality >= 0:
        return int(quality)
    raise InputError(f"`quality_bitmask` must be one of {list(QUALITY_MASKS[mission])} or "
                     f"an integer >= 0; got {quality!r}")


@dataclass(frozen=True)
class MissionLightCurve:
    """One Kepler, K2 or TESS light-curve file, masked and without gaps.

    Attributes
    ----------
    path : str
        The file.
    mission : str
        ``"Kepler"``, ``"K2"`` or ``"TESS"``.
    target : str
        The header's ``OBJECT`` (``"KIC 10002792"``, ``"TIC 402026209"``).
    season : str
        ``"Q2"``, ``"C4"`` or ``"S2"`` (quarter, campaign or sector), or ``""``.
    times : ndarray
        Mid-exposure times, BJD minus :attr:`time_reference` (d), shape (n,).
    flux, sigma : ndarray
        The flux column and its error (e-/s), shape (n,).
    flux_column : str
        Which flux column.
    time_reference : float
        BJD of time 0 (``BJDREFI + BJDREFF``).
    time_system : str
        ``TIMESYS`` (``"TDB"`` for all three missions).
    cadence : float
        ``TIMEDEL``: the time between cadences and the span of each exposure (d).
    bitmask : int
        The quality bitmask applied.
    counts : dict
        ``rows`` in the file, ``masked`` by quality, ``kept_by_mask``, ``not_finite``
        (time, flux or error, after the mask), ``removed_by_keep`` (a caller's selection),
        ``kept``.
    extra : dict
        Other columns of the kept rows, by name (for selections).
    """

    path: str
    mission: str
    target: str
    season: str
    times: np.ndarray
    flux: np.ndarray
    sigma: np.ndarray
    flux_column: str
    time_reference: float
    time_system: str
    cadence: float
    bitmask: int
    counts: dict = field(default_factory=dict)

    @property
    def time_label(self) -> str:
        """Axis label of the times, e.g. ``"BJD_TDB - 2457000"``."""
        reference = self.time_reference
        shown = f"{reference:.0f}" if reference == round(reference) else f"{reference:.6f}"
        return f"BJD_{self.time_system} - {shown}"


def _mission(header) -> str | None:
    telescope = str(header.get("TELESCOP", "")).strip()
    if telescope == "TESS":
        return "TESS"
    if telescope == "Kepler":
        return "K2" if str(header.get("MISSION", "")).strip() == "K2" else "Kepler"
    return None


def is_mission_file(path) -> bool:
    """Whether ``path`` is a FITS file with a Kepler, K2 or TESS ``LIGHTCURVE`` table."""
    path = Path(path)
    if not path.name.lower().endswith((".fits", ".fit", ".fts", ".fits.gz")):
        return False
    try:
        from astropy.io import fits
    except ImportError:
        return False
    try:
        with fits.open(path) as hdus:
            return "LIGHTCURVE" in hdus and _mission(hdus[0].header) is not None
    except (OSError, ValueError):
        return False


def _season(header, mission: str) -> str:
    key, prefix = {"Kepler": ("QUARTER", "Q"), "K2": ("CAMPAIGN", "C"),
                   "TESS": ("SECTOR", "S")}[mission]
    value = header.get(key)
    return f"{prefix}{value}" if value is not None else ""


def read_mission_file(path, flux_column: str = "PDCSAP_FLUX", quality="default",
                      keep: dict | None = None, complain=InputError) -> MissionLightCurve:
    """Read a Kepler, K2 or TESS light-curve file.

    Parameters
    ----------
    path : str or path
        The FITS file (``LIGHTCURVE`` extension; ``TELESCOP`` Kepler or TESS).
    flux_column : {"PDCSAP_FLUX", "SAP_FLUX"}
        The flux; its error is the column of the same name with ``_ERR``.
    quality : str or int
        ``"default"`` (the cadences the missions flag as bad; see the module doc),
        ``"hard"``, ``"hardest"``, ``"none"``, or a bitmask.
    keep : dict, optional
        ``{column: {"min": ..., "max": ...}}``: keep only rows whose value of a column of the
        table (``TIME``, ``SAP_BKG``, ...) lies in the closed range (either bound optional).
    complain : callable
        ``complain(message) -> exception`` (a job file passes one naming its key and line).

    Returns
    -------
    MissionLightCurve
        Masked rows and rows with a non-finite time, flux or error removed.

    Raises
    ------
    InputError
        Not a mission file, an unknown flux column or quality mask, a time system other
        than days of BJD, or no row left.
    """
    try:
        from astropy.io import fits
    except ImportError:
        raise complain(f"{Path(path).name} is a FITS file; reading it needs astropy "
                       "(pip install astropy)") from None
    path = Path(path)
    name = path.name
    try:
        with fits.open(path) as hdus:
            mission = _mission(hdus[0].header)
            if mission is None or "LIGHTCURVE" not in hdus:
                raise complain(f"{name} is not a Kepler, K2 or TESS light-curve file (its "
                               "primary header's TELESCOP is "
                               f"{hdus[0].header.get('TELESCOP')!r}, and a LIGHTCURVE "
                               "extension is needed)")
            try:
                bitmask = quality_bitmask(mission, quality)
            except InputError as e:
                raise complain(str(e)) from None
            table = hdus["LIGHTCURVE"]
            header, data = table.header, table.data
            columns = [c.upper() for c in data.columns.names]
            if flux_column not in columns:
                raise complain(f"{flux_column!r} is not a column of {name}'s LIGHTCURVE "
                               f"table; flux columns: "
                               f"{[c for c in columns if c.endswith('FLUX')]}")
            quality_column = "QUALITY" if mission == "TESS" else "SAP_QUALITY"
            if quality_column not in columns:
                quality_column = "QUALITY" if "QUALITY" in columns else None
            if quality_column is None and bitmask:
                raise complain(f"{name} has no quality column (SAP_QUALITY or QUALITY); "
                               "use quality_bitmask = 'none'")
            unit = str(header.get("TIMEUNIT", "d")).strip().lower()
            if unit not in ("d", "day", "days"):
                raise complain(f"{name}: TIMEUNIT is {unit!r}; only days are supported")
            reference = float(header.get("BJDREFI", 0)) + float(header.get("BJDREFF", 0.0))
            cadence = float(header.get("TIMEDEL", np.nan))
            time_pixel = float(header.get("TIMEPIXR", 0.5))
            time_system = str(header.get("TIMESYS", "TDB")).strip()
            target = str(hdus[0].header.get("OBJECT", "")).strip()
            season = _season(hdus[0].header, mission)
            times = np.asarray(data["TIME"], dtype=float)
            flux = np.asarray(data[flux_column], dtype=float)
            error = np.asarray(data[flux_column + "_ERR"], dtype=float)
            words = (np.asarray(data[quality_column], dtype=np.int64) if quality_column
                     else np.zeros(times.size, dtype=np.int64))
            selected = np.ones(times.size, dtype=bool)
            for column, bounds in (keep or {}).items():
                if column.upper() not in columns:
                    raise complain(f"keep: {column!r} is not a column of {name}'s "
                                   f"LIGHTCURVE table; its columns are {columns}")
                values = np.asarray(data[column.upper()], dtype=float)
                selected &= in_range(values, bounds)
    except OSError as e:
        raise complain(f"{name} cannot be read as FITS: {e}") from None
    good_quality = (words & bitmask) == 0
    finite = np.isfinite(times) & np.isfinite(flux) & np.isfinite(error)
    kept = good_quality & finite & selected
    counts = {"rows": int(times.size), "masked": int((~good_quality).sum()),
              "kept_by_mask": int(good_quality.sum()),
              "not_finite": int((good_quality & ~finite).sum()),
              "removed_by_keep": int((good_quality & finite & ~selected).sum()),
              "kept": int(kept.sum())}
    if not kept.any():
        raise complain(f"{name}: no cadence left after the quality mask ({bitmask}) and "
                       f"dropping non-finite rows ({counts})")
    if np.isfinite(cadence) and time_pixel != 0.5:
        # Stamps at the start (0) or end (1) of each exposure: move them to its middle.
        times = times + (0.5 - time_pixel) * cadence
    return MissionLightCurve(
        path=str(path), mission=mission, target=target, season=season,
        times=times[kept].copy(), flux=flux[kept].copy(), sigma=error[kept].copy(),
        flux_column=flux_column, time_reference=reference, time_system=time_system,
        cadence=cadence, bitmask=bitmask, counts=counts)

