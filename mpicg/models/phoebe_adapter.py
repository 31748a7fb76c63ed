"""PHOEBE 2 eclipsing-binary light curves as an mpicg model.

:class:`PhoebeLightCurve` fits named PHOEBE parameters (twigs such as ``'incl@binary'`` or
``'requiv@secondary'``) of one ``lc`` dataset of a PHOEBE bundle. It is built from a *bundle
factory*, a picklable (module-level) function that returns a configured
``phoebe.Bundle``; each process calls the factory once and keeps the bundle, so the model
object itself pickles in a few hundred bytes and every MPI rank builds its own bundle. A
call sets the twigs' values, sets the dataset's ``compute_times`` to the requested times
(mpicg passes each rank its own chunk) and returns PHOEBE's fluxes at exactly those times.

PHOEBE and MPI
--------------
mpicg owns MPI: every rank runs PHOEBE serially on its own chunk of the times, and PHOEBE
must never use MPI itself; :func:`.phoebe_import.import_phoebe` (which this module uses for
every import of PHOEBE) sees to it, and keeps the import offline.

Chunks of times
---------------
mpicg calls a model on contiguous chunks of the times and needs each time computed
independently of the others. Two things in PHOEBE 2.5 stand in the way, and the model deals
with both:

* PHOEBE builds a star's mesh at the *first* time a ``run_compute`` computes and keeps it for
  the other times whenever the star need not be remeshed (circular, synchronous orbits, such
  as the default binary). The mesh's triangulation depends on the orbital phase of that
  first time (measured here: the secondary's mesh of the default binary differs between a
  first time near phase 0 and one near phase 0.5, and the flux at a given time moved by
  1e-4 of the flux with 300 triangles per star; and by the last bits between other first
  times), so a chunk starting at another time would get other fluxes. Every call therefore
  computes ``reference_time`` first (prepended to the times unless they start with it) and
  drops it: one extra time per call, against PHOEBE's fixed cost of about 0.3 s per
  ``run_compute``. PHOEBE computes times in increasing order, so ``reference_time`` must not
  be later than any time the model is called with.
* ``pblum_mode='dataset-scaled'`` scales the model to the observations as a whole; that mode
  is refused.

With that, measured with PHOEBE 2.5.4, the fluxes of a chunk are bitwise equal to the same
times of one call on all the times, and to PHOEBE's own ``run_compute`` on the times with
``reference_time`` first (tests/test_phoebe_adapter.py). PHOEBE computes sorted, unique times
(``np.unique``); the model accepts any order and repeats and returns the fluxes in the
order asked.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import InputError
from ..fitting.domain import Domain, as_domain
from ..fitting.parameters import Parameter, ParameterizedModel
from .phoebe_import import import_phoebe

__all__ = ["FIT_CONTEXTS", "PhoebeLightCurve", "blackbody_binary", "import_phoebe"]

# The model label run_compute writes to (overwritten by every call).
_MODEL_LABEL = "mpicg"

# Contexts a fitted parameter may live in: those PHOEBE's own optimizers accept.
FIT_CONTEXTS = ["component", "dataset", "feature", "system"]


def blackbody_binary(*, ld_func: str = "logarithmic",
                     ld_coeffs: Sequence[float] = (0.7, 0.2),
                     ntriangles: int | None = None, dataset: str = "lc01"):
    """PHOEBE's default detached binary with one ``lc`` dataset, computable offline.

    Both stars get blackbody atmospheres and manual limb darkening (passband and
    bolometric), and irradiation is off, so no atmosphere or limb-darkening tables are
    needed. Being a module-level function, it (or a ``functools.partial`` of it) is a
    picklable bundle factory for :class:`PhoebeLightCurve`.

    Parameters
    ----------
    ld_func : str, optional
        PHOEBE limb-darkening law (``'logarithmic'``, ``'linear'``, ``'quadratic'``, ...).
    ld_coeffs : sequence of float, optional
        Its coefficients, the same for both stars (the default: roughly the logarithmic
        coefficients of a Sun-like star in the V band).
    ntriangles : int, optional
        Mesh triangles per star (PHOEBE's default, 1500, when None): fewer for fast tests.
    dataset : str, optional
        Label of the ``lc`` dataset (no times or observations are attached).

    Returns
    -------
    phoebe.Bundle
        The configured bundle.
    """
    phoebe = import_phoebe()
    b = phoebe.default_binary()
    b.add_dataset("lc", dataset=dataset)
    b.set_value_all(qualifier="atm", value="blackbody")
    # ld_mode first: ld_func and ld_coeffs are visible (settable) only in manual mode.
    for suffix in ("", "_bol"):
        b.set_value_all(qualifier=f"ld_mode{suffix}", value="manual")
        b.set_value_all(qualifier=f"ld_func{suffix}", value=ld_func)
        b.set_value_all(qualifier=f"ld_coeffs{suffix}", value=list(ld_coeffs))
    b.set_value_all(qualifier="irrad_method", value="none")
    if ntriangles is not None:
        b.set_value_all(qualifier="ntriangles", value=int(ntriangles))
    return b


def _limits_domain(param) -> Domain:
    """The closed interval of PHOEBE's ``limits`` of a parameter, in its default unit.

    PHOEBE refuses values outside these limits (``set_value`` raises), so they are the
    domain a fit must stay in; ``None`` ends are unbounded.
    """
    unit = param.get_default_unit()
    ends = []
    for end in getattr(param, "limits", None) or (None, None):
        if end is None:
            ends.append(None)
        else:
            ends.append(float(end.to(unit).value) if hasattr(end, "to") else float(end))
    return as_domain(tuple(ends), f"limits of {param.twig}")


def _single_label(labels: list[str], given: str | None, what: str) -> str:
    """``given`` if it is one of ``labels``, else the only label; InputError otherwise."""
    if given is not None:
        if given not in labels:
            raise InputError(f"`{what}` {given!r} is not in the bundle; it has {labels}")
        return given
    if len(labels) != 1:
        raise InputError(f"the bundle has {len(labels)} {what}s {labels}: pass `{what}` to "
                         "choose one")
    return labels[0]


class PhoebeLightCurve(ParameterizedModel):
    """The fluxes of a PHOEBE ``lc`` dataset as a function of named PHOEBE parameters.

    ``model(values, times)`` sets each twig to its value (in the parameter's default PHOEBE
    unit), sets the dataset's ``compute_times`` to ``times`` (days, PHOEBE's time unit)
    preceded by ``reference_time``, runs ``run_compute`` on that dataset and returns its
    ``fluxes`` (W/m², PHOEBE's normalization) at exactly ``times``. Each process builds its
    bundle once, with the factory, and keeps it: the constructing process at construction
    (the defaults, units and checks come from it), a copy made by pickling (another MPI
    rank's) on its first call. The object pickles without the bundle.

    Parameters
    ----------
    bundle_factory : callable
        ``bundle_factory() -> phoebe.Bundle``, with the lc dataset and compute options
        configured (atmospheres, limb darkening, mesh, ...). It must be picklable (a
        module-level function or a ``functools.partial`` of one) when mpicg sends the model
        to other ranks, and it should import PHOEBE with :func:`import_phoebe`. Each
        process calls it once.
    twigs : str or sequence of str
        The PHOEBE parameters to fit, in the order of ``values``: twigs that match exactly
        one free (unconstrained) float parameter in the component, dataset, feature or
        system context, e.g. ``'incl@binary'``, ``'requiv@secondary'``. A constrained
        parameter must be freed in the factory (``b.flip_constraint``).
    dataset : str, optional
        The lc dataset (default: the bundle's only one).
    compute : str, optional
        The compute options (default: the bundle's only ones).
    reference_time : float, optional
        The time PHOEBE computes first in every call (days), which fixes the meshes PHOEBE
        builds once per run (see the module documentation). It must not be later than any
        time the model is called with: pass the earliest observation time, or earlier.
        Default: the bundle's ``t0@system``.
    invalid : {'raise', 'inf'}, optional
        What a point PHOEBE rejects gives (a value outside a parameter's limits, a system
        that fails PHOEBE's checks, such as an overflowing star): ``'raise'`` (default) a
        ``ValueError`` naming the values, which ends an mpicg fit with
        :class:`mpicg.RemoteEvaluationError`; ``'inf'`` fluxes of ``+inf``, so that -ln L
        is ``+inf`` there and the line search backs off, as PHOEBE's own optimizers do with
        their ``-inf`` log-probability. A fit's first point must be valid either way.
    run_compute_kwargs : dict, optional
        Further keyword arguments for ``run_compute`` (e.g. ``{'skip_checks': True}``).

    Attributes
    ----------
    parameters : tuple of Parameter
        One per twig: the twig as given, its value in the factory's bundle as the default,
        its PHOEBE default unit, its description and full twig.

    reference_time : float
        As given, or the bundle's ``t0@system``.

    Raises
    ------
    InputError
        A twig that matches no parameter, several, a constrained or a non-float one (the
        message names the twig); no or several lc datasets or compute options without
        ``dataset``/``compute``; ``pblum_mode='dataset-scaled'``, which makes each time's
        flux depend on all the others.

    Examples
    --------
    >>> from mpicg.models.phoebe_adapter import PhoebeLightCurve, blackbody_binary
    >>> model = PhoebeLightCurve(blackbody_binary, ["incl@binary", "requiv@secondary"])
    >>> model.defaults  # doctest: +SKIP
    {'incl@binary': 90.0, 'requiv@secondary': 1.0}
    >>> flux = model([86.0, 1.0], times)  # doctest: +SKIP
    """

    #: PHOEBE's meshes make the fluxes jitter as the parameters move (the triangles another
    #: star covers change in jumps): finite differences must step well above that.
    noisy = True

    def __init__(self, bundle_factory: Callable[[], Any], twigs: str | Sequence[str], *,
                 dataset: str | None = None, compute: str | None = None,
                 reference_time: float | None = None, invalid: str = "raise",
                 run_compute_kwargs: dict | None = None):
        if not callable(bundle_factory):
            raise TypeError(f"`bundle_factory` must be callable; got "
                            f"{type(bundle_factory).__name__} {bundle_factory!r:.100}")
        twigs = [twigs] if isinstance(twigs, str) else list(twigs)
        if not twigs:
            raise InputError("`twigs` must name at least one PHOEBE parameter; got none")
        bad = [t for t in twigs if not isinstance(t, str)]
        if bad:
            raise InputError(f"`twigs` must be strings; got {bad}")
        duplicates = sorted({t for t in twigs if twigs.count(t) > 1})
        if duplicates:
            raise InputError(f"`twigs` names {duplicates} more than once")
        self.bundle_factory = bundle_factory
        self.twigs = tuple(twigs)
        if invalid not in ("raise", "inf"):
            raise InputError(f"`invalid` must be 'raise' or 'inf'; got {invalid!r}")
        self.invalid = invalid
        self.run_compute_kwargs = dict(run_compute_kwargs or {})
        self.dataset, self.compute = dataset, compute
        self._bundle = None
        # Build this process's bundle now: it gives the defaults and units, and checks the
        # twigs here, once, instead of on every rank in the middle of a fit.
        self._get_bundle()
        self.dataset, self.compute = self._labels
        self.parameters = tuple(
            Parameter(twig, float(p.get_value()), p.get_default_unit().to_string(),
                      f"{p.description} ({p.twig})", _limits_domain(p))
            for twig, p in zip(self.twigs, self._fit_params, strict=True))
        if reference_time is None:
            reference_time = self._bundle.get_value(qualifier="t0", context="system", unit="d")
        self.reference_time = float(reference_time)
        if not np.isfinite(self.reference_time):
            raise InputError(f"`reference_time` must be finite; got {reference_time!r}")

    # -- per-process state: the bundle and the PHOEBE parameter objects in it -------------

    def _get_bundle(self):
        """The bundle of this process, built with the factory on first use."""
        if self._bundle is None:
            import_phoebe()  # before the factory: PHOEBE must start serial (module doc)
            bundle = self.bundle_factory()
            self._labels = self._check_bundle(bundle)
            self._fit_params = [self._resolve(bundle, twig) for twig in self.twigs]
            self._times_param = bundle.get_parameter(qualifier="compute_times",
                                                     dataset=self._labels[0],
                                                     context="dataset")
            if self._times_param.is_constraint is not None:
                raise InputError(f"`compute_times` of dataset {self._labels[0]!r} is "
                                 "constrained (by compute_phases): flip the constraint in "
                                 "the bundle factory")
            self._bundle = bundle
        return self._bundle

    def _check_bundle(self, bundle) -> tuple[str, str]:
        """(dataset, compute) labels to use; InputError if the bundle does not fit the contract."""
        if not hasattr(bundle, "run_compute"):
            raise InputError(f"`bundle_factory` must return a phoebe Bundle; it returned "
                             f"{type(bundle).__name__}")
        lc_datasets = list(bundle.filter(kind="lc", context="dataset").datasets)
        dataset = _single_label(lc_datasets, self.dataset, "dataset")
        compute = _single_label(list(bundle.computes), self.compute, "compute")
        pblum_mode = bundle.get_value(qualifier="pblum_mode", dataset=dataset,
                                      context="dataset")
        if pblum_mode == "dataset-scaled":
            raise InputError(f"dataset {dataset!r} has pblum_mode='dataset-scaled', which "
                             "scales the model to all the observations at once, so that a "
                             "chunk of times does not get the fluxes it gets in the whole; "
                             "use 'component-coupled' (PHOEBE's default) or fit the "
                             "luminosity")
        return dataset, compute

    @staticmethod
    def _resolve(bundle, twig: str):
        """The one free float parameter ``twig`` names; InputError naming the twig if not."""
        found = bundle.filter(twig=twig, context=FIT_CONTEXTS, check_visible=False)
        if len(found) == 0:
            raise InputError(f"unknown twig {twig!r}: no parameter of the bundle matches it "
                             "(in the component, dataset, feature or system context)")
        if len(found) > 1:
            raise InputError(f"ambiguous twig {twig!r}: it matches {len(found)} parameters "
                             f"{found.twigs}; add labels (e.g. '@binary', '@secondary')")
        param = found.to_list()[0]
        if type(param).__name__ != "FloatParameter":
            raise InputError(f"twig {twig!r} names {param.twig}, a "
                             f"{type(param).__name__}; only float parameters can be fitted")
        if param.is_constraint is not None:
            raise InputError(f"twig {twig!r} names {param.twig}, which is constrained "
                             f"({param.is_constraint.twig}); free it in the bundle factory "
                             "with b.flip_constraint(...) or fit the parameter that "
                             "constrains it")
        return param

    def __getstate__(self) -> dict:
        """Everything but the bundle and its parameter objects (rebuilt per process)."""
        try:
            pickle.dumps(self.bundle_factory)
        except Exception as e:
            raise TypeError(
                f"the bundle factory {self.bundle_factory!r:.100} does not pickle ({e}); "
                "under MPI use a module-level function (or a functools.partial of one)"
            ) from e
        state = self.__dict__.copy()
        for name in ("_bundle", "_fit_params", "_times_param", "_labels"):
            state.pop(name, None)
        state["_bundle"] = None
        return state

    @property
    def bundle(self):
        """The PHOEBE bundle of this process (built on first use; holds the last model)."""
        return self._get_bundle()

    def __repr__(self) -> str:
        factory = getattr(self.bundle_factory, "__qualname__", repr(self.bundle_factory))
        return (f"PhoebeLightCurve({factory}, {list(self.twigs)}, dataset={self.dataset!r}, "
                f"compute={self.compute!r}, reference_time={self.reference_time!r})")

    def ephemeris(self, values: dict[str, float]) -> tuple[float, float] | None:
        """The top orbit's period and ``t0_supconj`` (d): fitted values where fitted.

        PHOEBE's mid-eclipse reference is ``t0_supconj`` (superior conjunction of the
        primary: the primary eclipse). None when the bundle has no orbit.
        """
        bundle = self._get_bundle()
        try:
            orbit = bundle.hierarchy.get_top()
            found = {}
            for qualifier in ("period", "t0_supconj"):
                param = bundle.get_parameter(qualifier=qualifier, component=orbit,
                                             context="component")
                found[qualifier] = param.get_value(unit="d")
                for twig, fitted in zip(self.twigs, self._fit_params, strict=True):
                    if fitted.uniquetwig == param.uniquetwig:
                        found[qualifier] = float(values[twig])
        except (ValueError, AttributeError, KeyError):  # no orbit (a single star)
            return None
        period = float(found["period"])
        return (period, float(found["t0_supconj"])) if period > 0 else None

    # -- the model ------------------------------------------------------------------------

    def __call__(self, values, times) -> np.ndarray:
        """PHOEBE's fluxes of the dataset at ``times`` for the twigs set to ``values``.

        Parameters
        ----------
        values : array_like
            One value per twig, in the order of :attr:`twigs`, in PHOEBE's default units.
        times : array_like
            Times (days), 1-D.

        Returns
        -------
        ndarray
            The fluxes at ``times``, in order.
        """
        values = np.asarray(values, dtype=float).ravel()
        times = np.asarray(times, dtype=float).ravel()
        if values.size != len(self.twigs):
            raise InputError(f"`values` must hold {len(self.twigs)} values, one per twig "
                             f"{list(self.twigs)}; got {values.size}")
        if times.size == 0:
            # With empty compute_times PHOEBE would compute at the dataset's `times` instead.
            return np.empty(0)
        unique, inverse = np.unique(times, return_inverse=True)
        if unique[0] < self.reference_time:
            raise InputError(f"time {float(unique[0])!r} precedes `reference_time` "
                             f"{self.reference_time!r}: PHOEBE computes the reference time "
                             "first only if it is the earliest; construct the model with "
                             "reference_time <= the earliest observation time")
        # The reference time first, always: it fixes the meshes PHOEBE builds once per run.
        compute_at = unique if unique[0] == self.reference_time else np.concatenate(
            ([self.reference_time], unique))
        bundle = self._get_bundle()
        dataset, compute = self._labels
        try:
            for param, value in zip(self._fit_params, values, strict=True):
                param.set_value(float(value))
            self._times_param.set_value(compute_at)
            bundle.run_compute(compute=compute, dataset=dataset, model=_MODEL_LABEL,
                               overwrite=True, progressbar=False, **self.run_compute_kwargs)
        except ValueError as e:
            # PHOEBE raises ValueError for values outside limits and failed system checks.
            if self.invalid == "inf":
                return np.full(times.shape, np.inf)
            at = ", ".join(f"{t} = {float(v)!r}" for t, v in zip(self.twigs, values,
                                                                   strict=True))
            raise ValueError(f"PHOEBE rejected {at}: {e}") from e
        result = bundle.filter(dataset=dataset, model=_MODEL_LABEL, context="model")
        model_times = np.asarray(result.get_value(qualifier="times"), dtype=float)
        fluxes = np.array(result.get_value(qualifier="fluxes"), dtype=float)
        if not np.array_equal(model_times, compute_at):
            raise RuntimeError(f"PHOEBE returned fluxes at {model_times.size} times that are "
                               f"not the {compute_at.size} requested")
        return fluxes[compute_at.size - unique.size:][inverse.ravel()]
