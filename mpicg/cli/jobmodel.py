"""A job file's model: ``[model] name`` built with its options, and the names a job uses.

``name`` is a built-in model (:data:`BUILTIN_MODELS`) or ``"package.module:callable"``: a
:class:`~mpicg.ParameterizedModel` class, a model instance, or a factory annotated to return
one. Every parameter name the job file uses (``[fit] parameters``, ``[parameters]``,
``[steps]``, ``[scales]``, ``[priors]``) must be the model's, or its baseline's.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
import sys
import types
import typing

from ..fitting import ParameterizedModel
from ..models.baseline import baseline_parameter_names
from .jobfile import Job

__all__ = ["BUILTIN_MODELS", "check_names", "make_model"]

#: Names of the built-in models (``[model] name``) and where they live.
BUILTIN_MODELS = {
    # options = { proximity = true }: with ellipsoidal variation and reflection.
    "eclipsing_binary": "mpicg.models.proximity:eclipsing_binary",
    "transit": "mpicg.models.transit:TransitModel",
    "batman": "mpicg.models.batman_adapter:BatmanTransit",
}


def make_model(job: Job) -> ParameterizedModel:
    """Build the job's model and check the parameter names the job uses.

    Raises
    ------
    InputError
        An unknown built-in name, a module or callable that cannot be imported, a
        constructor that rejects the options, something that is not a model with named
        parameters, or a parameter name the model does not have.
    """
    spec = BUILTIN_MODELS.get(job.model, job.model)
    if ":" not in spec:
        raise job.error(f"{job.model!r} is not a built-in model {sorted(BUILTIN_MODELS)} "
                        "nor 'package.module:callable'", "model", "name")
    module_name, _, attribute = spec.partition(":")
    if job.search_path not in sys.path:
        sys.path.insert(0, job.search_path)
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise job.error(f"cannot import {module_name!r}: {e}", "model", "name") from None
    factory = getattr(module, attribute, None)
    if factory is None:
        raise job.error(f"module {module_name!r} has no {attribute!r}", "model", "name")
    if not isinstance(factory, ParameterizedModel) and not _makes_a_model(factory):
        raise job.error(f"{job.model!r} is a {type(factory).__name__}, not an "
                        "mpicg.ParameterizedModel class, a model instance, or a factory "
                        "annotated to return one (`def make(...) -> MyModel:`); it was not "
                        "called", "model", "name")
    if isinstance(factory, ParameterizedModel):
        if job.model_options:
            raise job.error(f"{job.model!r} is a model object, not a constructor: it takes "
                            "no options", "model", "options")
        model = factory
    else:
        try:
            model = factory(**job.model_options)
        except (TypeError, ValueError) as e:
            raise job.error(f"{job.model!r} rejects the options {job.model_options}: {e}",
                            "model", "options") from None
    if not isinstance(model, ParameterizedModel):
        raise job.error(f"{job.model!r} made a {type(model).__name__}, not an "
                        "mpicg.ParameterizedModel (a model with named parameters)",
                        "model", "name")
    # The baseline's names depend on the number of segments, known once the data are read:
    # here any of them may be used; the observation model is checked again once it exists.
    check_names(job, model.parameter_names, may_be_baseline=True)
    return model


def _makes_a_model(target) -> bool:
    """True for a ParameterizedModel class, or a callable annotated to return one.

    Decided without calling ``target``: a job file's model name may point anywhere.
    """
    if isinstance(target, functools.partial):
        return _makes_a_model(target.func)
    if inspect.isclass(target):
        return issubclass(target, ParameterizedModel)
    if not (inspect.isfunction(target) or inspect.ismethod(target)):
        return False
    try:
        returned = typing.get_type_hints(target).get("return")
    except Exception:  # an annotation that does not resolve: not a declared model factory
        return False
    kinds = typing.get_args(returned) if typing.get_origin(returned) in (
        typing.Union, types.UnionType) else (returned,)
    return all(inspect.isclass(k) and issubclass(k, ParameterizedModel) for k in kinds)


def _baseline_name(job: Job, name: str) -> bool:
    """Whether ``name`` could be a parameter of the job's baseline (see :class:`Baseline`)."""
    if job.baseline == "none":
        return False
    kinds = "level|slope" if job.baseline == "trend" else "level"
    return re.fullmatch(rf"(?:{kinds})(?:_[1-9][0-9]*)?", name) is not None


def check_names(job: Job, names, may_be_baseline: bool = False) -> None:
    """InputError for the first name in the job that is not one of the model's ``names``.

    With ``may_be_baseline``, names of the baseline's parameters (``level``, ``level_2``,
    ``slope``, ...) pass too, as far as the job's ``[model] baseline`` allows them.
    """
    known = list(names)
    uses = [("fit", "parameters", job.fit_parameters)]
    uses += [(table, None, list(given)) for table, given in
             (("parameters", job.values), ("steps", job.steps), ("scales", job.scales),
              ("priors", job.priors))]
    for table, key, used in uses:
        for name in used:
            if name not in known and not (may_be_baseline and _baseline_name(job, name)):
                where = (table, key) if key else (table, name)
                more = ""
                if may_be_baseline and job.baseline != "none":
                    added = baseline_parameter_names(1, job.baseline == "trend")
                    more = f", and the baseline's {added} (numbered _1, _2, ... per segment)"
                raise job.error(f"{name!r} is not a parameter of the model; it has "
                                f"{known}{more}", *where)
