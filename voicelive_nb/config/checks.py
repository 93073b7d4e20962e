"""The config's checks: every bad value raises ValueError naming the field, the value and what is allowed.

Shared by the settings dataclasses (:mod:`~voicelive_nb.config.voice`,
:mod:`~voicelive_nb.config.turn_detection`, :mod:`~voicelive_nb.config.session_config`),
which run them in ``__post_init__``, so a config that exists is a valid one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

__all__ = ["check_bool", "check_choice", "check_names", "check_range", "fail", "from_mapping"]

T = TypeVar("T")


def fail(field_name: str, value: Any, allowed: str) -> ValueError:
    """The ValueError for ``field_name=value`` (to raise), saying what is ``allowed``."""
    return ValueError(f"{field_name}={value!r} is not valid: {allowed}")


def check_range(name: str, value: Any, low: float, high: float, *, integer: bool, high_open: bool = False) -> None:
    """``value`` is a number (an int if ``integer``, never a bool), ``low <= value <= high``
    (``< high`` if ``high_open``)."""
    kinds = (int,) if integer else (int, float)
    ok_type = isinstance(value, kinds) and not isinstance(value, bool)
    right = "<" if high_open else "<="
    what = "an integer" if integer else "a number"
    if not ok_type or not (low <= value and (value < high if high_open else value <= high)):
        raise fail(name, value, f"expected {what} with {low} <= {name} {right} {high}")


def check_choice(name: str, value: Any, choices: tuple[Any, ...] | frozenset[Any]) -> None:
    """``value`` is one of ``choices``."""
    if value not in choices:
        raise fail(name, value, f"expected one of {', '.join(map(repr, sorted(choices, key=str)))}")


def check_bool(name: str, value: Any) -> None:
    """``value`` is True or False."""
    if not isinstance(value, bool):
        raise fail(name, value, "expected True or False")


def check_names(cls: type, changes: Mapping[str, Any], what: str) -> None:
    """Every key of ``changes`` is a field of the dataclass ``cls``."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(map(str, set(changes) - known))
    if unknown:
        raise ValueError(f"unknown {what} field(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}")


def from_mapping(cls: type[T], data: Mapping[str, Any], what: str) -> T:
    """A ``cls`` from a dict of its fields (unknown or missing ones raise ValueError naming them)."""
    check_names(cls, data, what)
    required = [
        f.name
        for f in fields(cls)  # type: ignore[arg-type]
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [name for name in required if name not in data]
    if missing:
        raise ValueError(f"{what} is missing {', '.join(missing)}: got {dict(data)!r}")
    return cls(**data)
