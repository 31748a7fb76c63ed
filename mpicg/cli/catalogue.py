"""``mpicg models``: the built-in models of job files, with their parameters.

For each ``[model] name`` it lists the model's settings (``options``), each parameter's name,
default, unit, domain and meaning, and which ones a report folds on; then the parameters
that every job adds (the baseline) and the ``[model]`` keys that work with any model.
"""

from __future__ import annotations

import dataclasses
import importlib
import re

from ..models.baseline import baseline_parameter_names
from .jobmodel import BUILTIN_MODELS

__all__ = ["describe_models"]


def _model_class(spec: str):
    module, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _variants(name: str):
    """(label, model) for each form of a built-in model (the binary's two)."""
    factory = _model_class(BUILTIN_MODELS[name])
    if name == "eclipsing_binary":
        return [("", factory()), ("options = { proximity = true }", factory(proximity=True))]
    return [("", factory())]


def _settings(model) -> str:
    if not dataclasses.is_dataclass(model):
        return ""
    fields = [f for f in dataclasses.fields(model) if f.init]
    return ", ".join(f"{f.name} = {getattr(model, f.name)!r}" for f in fields)


def describe_models() -> str:
    """The text ``mpicg models`` prints."""
    lines = []
    for name in BUILTIN_MODELS:
        for label, model in _variants(name):
            cls = type(model)
            summary = (cls.__doc__ or "").strip().splitlines()[0]
            summary = re.sub(r":\w+:`([^`]+)`", r"\1", summary).replace("``", "")
            lines.append(f'[model] name = "{name}"' + (f", {label}" if label else ""))
            lines.append(f"  {cls.__module__}.{cls.__name__}: {summary}")
            settings = _settings(model)
            if settings:
                lines.append(f"  options (defaults): {settings}")
            if model.period_parameter:
                lines.append(f"  reports fold on: period = {model.period_parameter}, "
                             f"epoch = {model.epoch_parameter}")
            elif getattr(model, "period", None):
                lines.append(f"  reports fold on: period = the option period, epoch = "
                             f"{model.epoch_parameter}")
            width = max(len("parameter"), *(len(p.name) for p in model.parameters))
            lines.append(f"  {'parameter':<{width}}  {'default':>10}  {'unit':<4}  "
                         f"{'domain':<12}  meaning")
            for p in model.parameters:
                lines.append(f"  {p.name:<{width}}  {p.default:>10.6g}  {p.unit or '-':<4}  "
                             f"{p.domain!s:<12}  {p.description}")
            lines.append("")
    added = ", ".join(baseline_parameter_names(1, True))
    lines += [
        "Every model, built-in or 'package.module:callable', also takes in [model]:",
        "  supersample = N        average each exposure over N instants (exposure time: "
        "[data] exposure_time, or a Kepler/K2/TESS file's cadence)",
        '  baseline = "level"     multiply by a flux level per segment of the data '
        '(default); "trend": a level and a slope; "none"',
        f"  baseline parameters: {added} (one segment; level_1, level_2, ... with several), "
        "default 1 and 0, unit - and 1/d, domain (0, inf) and (-inf, inf)",
    ]
    return "\n".join(lines)
