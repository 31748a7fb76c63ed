"""``batman``'s analytic transit (Mandel & Agol, quadratic limb darkening) as an mpicg model.

``batman`` (Kreidberg 2015, PyPI package ``batman-package``) is imported on the first call,
not when mpicg is imported, so mpicg never requires it; install it with
``pip install 'mpicg[batman]'`` to use this model.

batman computes each time from that time and the parameters alone (sky separation by its own
Kepler solver, then the analytic flux), so any chunk of the times can be evaluated on its own,
the contract mpicg needs to split a light curve over ranks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..fitting.parameters import Parameter, ParameterizedModel
from ._domains import (
    ECCENTRICITY,
    INCLINATION,
    LIMB_DARKENING_U1,
    LIMB_DARKENING_U2,
    POSITIVE,
    SEMI_MAJOR_AXIS,
)

__all__ = ["BatmanTransit"]


def _import_batman():
    """The ``batman`` module, or ImportError saying how to install it."""
    try:
        import batman
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("BatmanTransit needs batman: pip install batman-package "
                          "(or mpicg[batman])") from e
    return batman


@dataclass(frozen=True)
class BatmanTransit(ParameterizedModel):
    """Relative flux of a star transited by a dark planet, computed by ``batman``.

    The parameters ``values`` are, in order, ``batman.TransitParams``' own:

    ``t0``
        time of inferior conjunction (mid-transit; d).
    ``per``
        orbital period (d).
    ``rp``
        planet radius / stellar radius.
    ``a``
        semi-major axis / stellar radius.
    ``inc``
        orbital inclination (deg).
    ``ecc``
        eccentricity.
    ``w``
        argument of periastron of the planet's orbit (deg).
    ``u1``, ``u2``
        quadratic limb-darkening coefficients, ``I(mu) = 1 - u1 (1 - mu) - u2 (1 - mu)^2``.

    It has no settings: the limb-darkening law is quadratic. For exposure-time integration
    wrap it in :class:`~mpicg.models.Integrated` (a job file's ``[model] supersample``),
    which averages any model over each exposure time by time; batman's own
    ``supersample_factor`` is not used.
    """

    parameters = (
        Parameter("t0", 0.0, "d", "time of inferior conjunction (mid-transit)"),
        Parameter("per", 3.0, "d", "orbital period", POSITIVE),
        Parameter("rp", 0.1, "", "planet radius / stellar radius", POSITIVE),
        Parameter("a", 10.0, "", "semi-major axis / stellar radius", SEMI_MAJOR_AXIS),
        Parameter("inc", 89.0, "deg", "orbital inclination", INCLINATION),
        Parameter("ecc", 0.0, "", "eccentricity", ECCENTRICITY),
        Parameter("w", 90.0, "deg", "argument of periastron"),
        Parameter("u1", 0.4, "", "quadratic limb darkening, linear coefficient",
                  LIMB_DARKENING_U1),
        Parameter("u2", 0.25, "", "quadratic limb darkening, quadratic coefficient",
                  LIMB_DARKENING_U2),
    )
    period_parameter = "per"
    epoch_parameter = "t0"

    def __call__(self, values, times) -> np.ndarray:
        """Relative flux (1 out of transit) at ``times`` for the parameters ``values``.

        Parameters
        ----------
        values : array_like
            ``t0, per, rp, a, inc, ecc, w, u1, u2``, in that order.
        times : array_like
            Times (d), any chunk of the light curve.

        Returns
        -------
        ndarray
            Flux, the same shape as ``times``.

        Raises
        ------
        ValueError
            If ``values`` does not hold the nine parameters.
        """
        batman = _import_batman()
        values = self.check_values(values)
        t0, per, rp, a, inc, ecc, w, u1, u2 = (float(v) for v in values)
        times = np.asarray(times, dtype=float)
        shape = times.shape
        # batman's C code reads the buffer directly: give it a fresh contiguous float64 copy.
        t = np.ascontiguousarray(times.ravel(), dtype=float)
        if t.size == 0:
            return np.ones(shape)
        params = batman.TransitParams()
        params.t0, params.per, params.rp, params.a = t0, per, rp, a
        params.inc, params.ecc, params.w = inc, ecc, w
        params.u = [u1, u2]
        params.limb_dark = "quadratic"
        # A new TransitModel per call: batman caches the sky separations of the times it was
        # built with, and a chunk is a different array each call. Built for the quadratic
        # law it computes nothing else up front, so this is cheap and always correct.
        flux = batman.TransitModel(params, t).light_curve(params)
        return np.asarray(flux, dtype=float).reshape(shape)
