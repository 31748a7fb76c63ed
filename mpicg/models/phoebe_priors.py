"""PHOEBE distributions (distl) as mpicg priors, with the meanings PHOEBE's solvers give them."""

from __future__ import annotations

from ..errors import InputError
from ..fitting.priors import Distribution, Gaussian, Uniform, combine

__all__ = ["bundle_priors", "prior_from_distl"]

_SKIP = {"check_default": False, "check_visible": False}


def prior_from_distl(dist, unit, face_value: float | None = None) -> Distribution:
    """An mpicg prior equal to a PHOEBE (distl) distribution, in ``unit``.

    Parameters
    ----------
    dist : distl distribution
        ``Gaussian``, ``Uniform`` (``boxcar`` too), ``Gaussian_Around``, ``Uniform_Around``
        (centred on ``face_value``, as PHOEBE's solvers centre them on the bundle's face
        value), or a ``Composite`` of those by ``&`` (product) or ``|`` (union).
    unit : astropy unit
        The fitted parameter's default unit (the distribution is converted to it).
    face_value : float, optional
        The parameter's face value in ``unit`` (for the ``_Around`` kinds).

    Returns
    -------
    Distribution
        :class:`~mpicg.priors.Gaussian`, :class:`~mpicg.priors.Uniform`, or a
        :class:`~mpicg.priors.Combined` of them.

    Raises
    ------
    InputError
        For any other kind (delta, histogram, samples, function, multivariate, other
        arithmetic), naming it.
    """
    kind = type(dist).__name__
    if kind in ("Gaussian_Around", "Uniform_Around"):
        if face_value is None:
            raise InputError(f"a {kind} prior needs the parameter's face value")
        # PHOEBE resolves these at the face value, in the distribution's own unit.
        own = dist.unit if dist.unit is not None else unit
        center = (face_value * unit).to(own).value if dist.unit is not None else face_value
        dist = dist(center)
        kind = type(dist).__name__
    if kind == "Composite" and dist.math in ("__and__", "__or__"):
        how = "and" if dist.math == "__and__" else "or"
        return combine([prior_from_distl(d, unit, face_value) for d in dist.dists], how)
    if dist.unit is not None and unit is not None and dist.unit != unit:
        dist = dist.to(unit)
    if kind == "Gaussian":
        return Gaussian(float(dist.loc), float(dist.scale))
    if kind == "Uniform":
        return Uniform(float(dist.low), float(dist.high))
    detail = f" ({dist.math})" if kind == "Composite" else ""
    raise InputError(f"PHOEBE distribution {kind}{detail} cannot be an mpicg prior; mpicg "
                     "reads gaussian, uniform/boxcar, gaussian_around, uniform_around and "
                     "their & and | combinations")


def bundle_priors(b, labels: list[str], uniqueids: list[str], names: list[str]):
    """The priors a solver's ``priors`` labels put on the fitted parameters, and the others.

    Parameters
    ----------
    b : phoebe.Bundle
        The bundle.
    labels : list of str
        The distribution labels (the solver's ``priors``).
    uniqueids, names : list of str
        The fitted parameters' uniqueids and the names the fit gives them.

    Returns
    -------
    priors : list of (str, Distribution)
        On the fitted parameters, by name, in PHOEBE's order.
    constant : dict
        Full twig -> list of (Distribution, face value) for the parameters that are neither
        fitted nor constrained (their priors only shift ln p).

    Raises
    ------
    InputError
        A label that is not in the bundle, a distribution mpicg cannot read, or a prior on a
        constrained parameter, naming the distribution and the parameter.
    """
    priors: list[tuple[str, Distribution]] = []
    constant: dict[str, list[Distribution]] = {}
    for label in labels:
        if label not in b.distributions:
            raise InputError(f"the solver's priors name the distribution {label!r}, which is "
                             f"not in the bundle; it has {list(b.distributions)}")
        for param in b.filter(context="distribution", distribution=label, **_SKIP).to_list():
            target = param.get_referenced_parameter()
            unit = target.get_default_unit()
            where = f"distribution {label!r} on {target.twig}"
            try:
                prior = prior_from_distl(param.get_value(), unit, float(target.get_value()))
            except InputError as e:
                raise InputError(f"{where}: {e}") from None
            if target.uniqueid in uniqueids:
                priors.append((names[uniqueids.index(target.uniqueid)], prior))
            elif target.is_constraint is not None:
                raise InputError(f"{where}: a prior on a constrained parameter (PHOEBE "
                                 "evaluates it at the value its constraint gives) is not "
                                 "supported by mpicg; fit that parameter instead (flip the "
                                 "constraint) or remove the distribution from the priors")
            else:
                constant.setdefault(target.twig, []).append((prior, float(target.get_value())))
    return priors, constant
