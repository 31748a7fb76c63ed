"""Objectives that are sums over observations, and the light-curve problem.

An objective of the form ``f(x) = scale * sum_i term_i(x)`` splits naturally over ranks: each
rank computes the terms of its own observations, sums them per block, and only the block sums
travel. :class:`SumObjective` is that contract; :class:`Problem` is the chi-square light-curve
fit, ``-ln L = 1/2 sum ((flux - model(x, times)) / sigma)^2``.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

from ..errors import InputError
from ..optimize import check_callable
from ..parallel import block_edges

__all__ = ["Problem", "SumObjective", "check_block_size"]


class SumObjective(ABC):
    """An objective that is a (scaled) sum of one term per observation.

    Subclasses provide the terms for a range of observations and a copy restricted to a range
    of blocks (mpicg itself gives every rank the whole objective, so that any rank can compute
    any block). Observations are grouped in fixed blocks (:attr:`edges`), which is what makes
    results independent of the number of ranks.

    Attributes
    ----------
    n_items : int
        Number of observations in the whole problem.
    edges : ndarray
        Block edges over the whole problem (see :func:`mpicg.parallel.block_edges`).
    scale : float
        The objective is ``scale`` times the sum of the terms.
    first_item, last_item : int
        The observations this object holds: ``[first_item, last_item)``.
    """

    n_items: int
    edges: np.ndarray
    scale: float = 1.0
    first_item: int = 0
    last_item: int = 0

    @property
    def n_blocks(self) -> int:
        """Number of blocks in the whole problem."""
        return len(self.edges) - 1

    @abstractmethod
    def item_terms(self, x: np.ndarray, first: int, last: int) -> np.ndarray:
        """The terms of observations ``[first, last)`` (which this object must hold) at ``x``."""

    @abstractmethod
    def restrict(self, first_block: int, last_block: int) -> SumObjective:
        """A copy holding only the observations of blocks ``[first_block, last_block)``."""

    def why_infinite(self, x: np.ndarray) -> str:
        """Why a term may be infinite at ``x``, for messages."""
        return "the model gave ±inf there, or a value too far from the data to square"

    def digest(self) -> str:
        """A digest of what defines the objective (every rank's copy must have rank 0's).

        Here the type, the number of observations and the blocks; subclasses add their data.
        """
        h = hashlib.sha256(f"{type(self).__qualname__}|{self.n_items}|".encode())
        h.update(np.ascontiguousarray(self.edges, dtype=np.int64).tobytes())
        return h.hexdigest()

    def block_sums(self, points: np.ndarray, first_block: int, last_block: int) -> np.ndarray:
        """Per-block sums of the terms, shape ``(len(points), last_block - first_block)``.

        The terms of all the blocks are computed in one call per point (one model call on
        the blocks' times), then summed block by block: a block's sum does not depend on the
        other blocks of the call.
        """
        first, last = int(self.edges[first_block]), int(self.edges[last_block])
        starts = self.edges[first_block:last_block] - first
        sums = np.empty((len(points), last_block - first_block))
        if last_block == first_block:
            return sums
        for i, x in enumerate(points):
            sums[i] = np.add.reduceat(self.item_terms(x, first, last), starts)
        return sums

    def value_from_total(self, total: np.ndarray, points: np.ndarray) -> np.ndarray:
        """The objective at each of ``points`` from the sum of all its terms.

        Runs on rank 0 only, once per point: the place for terms that are not sums over
        observations (a prior), which cost nothing next to the model.
        """
        return self.scale * total


def check_block_size(block_size) -> int | None:
    """``block_size``: None (the default) or an integer >= 1; InputError naming it."""
    if block_size is not None and (isinstance(block_size, bool)
                                   or not isinstance(block_size, int | np.integer)
                                   or block_size < 1):
        raise InputError(f"`block_size` must be an integer >= 1; got {block_size!r}")
    return block_size


def _as_data(values, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"`{name}` must be a 1-D array of real numbers; got "
                         f"{type(values).__name__} {values!r:.100}") from e
    if arr.ndim != 1:
        raise InputError(f"`{name}` must be 1-D; got an array of shape {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise InputError(f"`{name}` must be finite; {name}[{bad[0]}] = {float(arr[bad[0]])!r} "
                         f"({bad.size} non-finite values)")
    return arr


class Problem(SumObjective):
    """A light curve to fit: ``-ln L = 1/2 sum_i ((flux_i - model(x, times)_i) / sigma_i)^2``.

    Parameters
    ----------
    model : callable
        ``model(x, times) -> flux`` at those times, ``x`` a 1-D float array. It must compute
        each time independently of the others (mpicg calls it on chunks of the times) and
        return a float array of the same length. Under MPI it must be picklable if only rank 0
        builds the problem.
    times, flux, sigma : array_like
        Observation times, fluxes and their 1-sigma uncertainties, 1-D, of equal length,
        finite, ``sigma > 0``. Unsorted times are sorted (with their flux and sigma).
    block_size : int, optional
        Observations per block (default: 256 blocks up to 5,120 observations, blocks of 20
        observations up to 4096 blocks, 4096 blocks beyond; see
        :func:`mpicg.parallel.block_edges`). It never depends on the number of ranks; it
        decides how the chi-square is grouped for the sum, hence the last bits of -ln L.

    Raises
    ------
    InputError
        On bad data, naming the array and the value: at once, on every rank that builds
        the problem, as in a serial run. (So a pipeline that catches it and goes on to its
        next light curve does the same on every rank.)
    TypeError
        When ``model`` is not callable.
    """

    scale = 0.5

    def __init__(self, model: Callable[[np.ndarray, np.ndarray], np.ndarray], times, flux,
                 sigma, *, block_size: int | None = None):
        check_callable(model, "model")
        times, flux, sigma = (_as_data(v, k) for v, k in
                              ((times, "times"), (flux, "flux"), (sigma, "sigma")))
        if not (len(times) == len(flux) == len(sigma)):
            raise InputError(f"`times`, `flux` and `sigma` must have the same length; got "
                             f"{len(times)}, {len(flux)} and {len(sigma)}")
        if len(times) == 0:
            raise InputError("`times` must hold at least one observation; got an empty array")
        nonpositive = np.flatnonzero(sigma <= 0)
        if nonpositive.size:
            i = nonpositive[0]
            raise InputError(f"`sigma` must be > 0; sigma[{i}] = {float(sigma[i])!r} "
                             f"({nonpositive.size} values <= 0)")
        check_block_size(block_size)
        if np.any(np.diff(times) < 0):
            order = np.argsort(times, kind="stable")
            times, flux, sigma = times[order], flux[order], sigma[order]
        self.model = model
        self.times, self.flux, self.sigma = times, flux, sigma
        self.n_items = len(times)
        self.edges = block_edges(self.n_items, block_size)
        self.first_item, self.last_item = 0, self.n_items

    def digest(self) -> str:
        """A digest of the blocks and the data (times, flux, sigma) this copy holds.

        A copy restricted to some blocks has another digest than the whole problem; the
        collective fit compares whole copies only.
        """
        h = hashlib.sha256(super().digest().encode())
        h.update(f"{self.first_item}|{self.last_item}|".encode())
        for values in (self.times, self.flux, self.sigma):
            h.update(np.ascontiguousarray(values).tobytes())
        return h.hexdigest()

    def item_terms(self, x: np.ndarray, first: int, last: int) -> np.ndarray:
        """Squared normalized residuals ``((flux - model) / sigma)^2`` of ``[first, last)``."""
        lo, hi = first - self.first_item, last - self.first_item
        times = self.times[lo:hi]
        returned = self.model(x, times)
        predicted = np.asarray(returned)
        if predicted.shape != times.shape or predicted.dtype.kind not in "biuf":
            what = (f"{type(returned).__name__} of shape {predicted.shape} and dtype "
                    f"{predicted.dtype}" if isinstance(returned, np.ndarray)
                    else f"{type(returned).__name__} {returned!r:.80}")
            raise InputError(
                f"`model` must return a real array of shape {times.shape} (one flux per "
                f"time); it returned {what}")
        residual = (self.flux[lo:hi] - predicted) / self.sigma[lo:hi]
        return residual * residual

    def restrict(self, first_block: int, last_block: int) -> Problem:
        """A copy holding only the observations of blocks ``[first_block, last_block)``."""
        first, last = int(self.edges[first_block]), int(self.edges[last_block])
        lo, hi = first - self.first_item, last - self.first_item
        part = object.__new__(type(self))
        part.__dict__.update(self.__dict__)
        # Copies, so the full arrays can be freed: memory per rank is O(T / N).
        part.times = self.times[lo:hi].copy()
        part.flux = self.flux[lo:hi].copy()
        part.sigma = self.sigma[lo:hi].copy()
        part.first_item, part.last_item = first, last
        return part
