"""A job file's ``[data]`` keys for real observations (see :mod:`.observations`).

``magnitudes``, ``normalise`` (true/false), ``flux_column`` and ``quality_bitmask`` (Kepler,
K2 and TESS files), ``keep`` (row ranges by column), ``segments`` and ``segment_gap``,
``exposure_time`` (d) and ``time_label``: checked here, each mistake naming its key and line.
"""

from __future__ import annotations

import math
from typing import Any

from .jobtables import is_int, is_real, show
from .missions import FLUX_COLUMNS, QUALITY_MASKS

__all__ = ["DATA_KEYS", "SEGMENTS", "data_options"]

#: The keys, besides file(s), columns and sigma.
DATA_KEYS = ("magnitudes", "normalise", "flux_column", "quality_bitmask", "keep", "segments",
             "segment_gap", "exposure_time", "time_label")
#: ``[data] segments`` choices.
SEGMENTS = ("file", "gap", "single")


def data_options(data: dict, error) -> dict[str, Any]:
    """The ``[data]`` keys of :data:`DATA_KEYS` that ``data`` holds, checked.

    Parameters
    ----------
    data : dict
        The ``[data]`` table.
    error : callable
        ``error(message, table, key) -> InputError`` naming the job file's line.

    Returns
    -------
    dict
        Key -> value, as :class:`~.jobfile.Job` holds them.
    """
    found: dict[str, Any] = {}
    for key in ("magnitudes", "normalise"):
        if key in data:
            if not isinstance(data[key], bool):
                raise error(f"must be true or false; got {show(data[key])}", "data", key)
            found[key] = data[key]
    if "flux_column" in data:
        if data["flux_column"] not in FLUX_COLUMNS:
            raise error(f"must be one of {list(FLUX_COLUMNS)}; got "
                        f"{show(data['flux_column'])}", "data", "flux_column")
        found["flux_column"] = data["flux_column"]
    if "quality_bitmask" in data:
        given = data["quality_bitmask"]
        if not ((isinstance(given, str) and given in QUALITY_MASKS["TESS"])
                or (is_int(given) and given >= 0)):
            raise error(f"must be one of {list(QUALITY_MASKS['TESS'])} or an integer >= 0; "
                        f"got {show(given)}", "data", "quality_bitmask")
        found["quality_bitmask"] = given
    if "keep" in data:
        keep = data["keep"]
        good = isinstance(keep, dict) and all(
            isinstance(r, dict) and r and set(r) <= {"min", "max"}
            and all(is_real(v) and not math.isnan(v) for v in r.values())
            for r in keep.values())
        if not good:
            raise error("must be a table of column = { min = ..., max = ... } (either bound "
                        f"optional); got {show(keep)}", "data", "keep")
        found["keep"] = {k: {b: float(v) for b, v in r.items()} for k, r in keep.items()}
    if "segments" in data:
        if data["segments"] not in SEGMENTS:
            raise error(f"must be one of {list(SEGMENTS)}; got {show(data['segments'])}",
                        "data", "segments")
        found["segments"] = data["segments"]
    for key in ("segment_gap", "exposure_time"):
        if key in data:
            value = data[key]
            low_ok = value > 0 if key == "segment_gap" else value >= 0
            if not (is_real(value) and math.isfinite(value) and low_ok):
                what = "> 0" if key == "segment_gap" else ">= 0"
                raise error(f"must be a number of days {what}; got {show(value)}", "data",
                            key)
            found[key] = float(value)
    if "time_label" in data:
        if not isinstance(data["time_label"], str) or not data["time_label"]:
            raise error(f"must be a non-empty string; got {show(data['time_label'])}",
                        "data", "time_label")
        found["time_label"] = data["time_label"]
    return found
