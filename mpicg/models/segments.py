"""Stretches of a light curve (files, quarters, sectors, parts between gaps), told by time.

A model is called on any chunk of the times (mpicg splits the light curve over ranks), so
anything that differs between stretches of the data (a flux level, a trend, an exposure time)
must be found from the time alone. :class:`Segments` does that: segment ``k`` holds the times
from ``starts[k]`` up to the next start.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Segments"]


@dataclass(frozen=True)
class Segments:
    """Consecutive segments of a light curve, each from its start time to the next one's.

    Parameters
    ----------
    starts : tuple of float
        The first time of each segment, increasing (d). Times before the first start belong
        to the first segment.
    centres : tuple of float, optional
        A reference time inside each segment (d), where a linear trend is zero (default: the
        starts; a light curve's reader gives the middle of each segment's times).
    names : tuple of str, optional
        A label for each segment (a file name, a quarter), for reports.

    Raises
    ------
    ValueError
        No segment, starts not finite and increasing, or centres/names of another length.
    """

    starts: tuple[float, ...] = (-math.inf,)
    centres: tuple[float, ...] | None = None
    names: tuple[str, ...] | None = None

    def __post_init__(self):
        starts = tuple(float(s) for s in self.starts)
        if not starts:
            raise ValueError("`starts` must hold at least one segment's start time")
        if any(not (b > a) for a, b in itertools.pairwise(starts)) or any(
                math.isnan(s) or s == math.inf for s in starts):
            raise ValueError(f"`starts` must increase strictly; got {starts}")
        centres = starts if self.centres is None else tuple(float(c) for c in self.centres)
        if len(centres) != len(starts) or not all(math.isfinite(c) or c == s for c, s in
                                                  zip(centres, starts, strict=True)):
            raise ValueError(f"`centres` must hold one finite time per segment; got {centres}")
        names = (tuple(f"segment {k + 1}" for k in range(len(starts))) if self.names is None
                 else tuple(str(n) for n in self.names))
        if len(names) != len(starts):
            raise ValueError(f"`names` must hold one name per segment; got {names}")
        object.__setattr__(self, "starts", starts)
        object.__setattr__(self, "centres", centres)
        object.__setattr__(self, "names", names)

    def __len__(self) -> int:
        return len(self.starts)

    def index(self, times) -> np.ndarray:
        """The segment of each time (0-based), shape of ``times``.

        Each time's segment depends on that time alone, so any chunk of the times gets the
        same answer for a time as the whole light curve does.
        """
        found = np.searchsorted(np.asarray(self.starts), np.asarray(times, dtype=float),
                                side="right") - 1
        return np.maximum(found, 0)
