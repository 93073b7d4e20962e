"""Lazy re-exports for the package faces (``voicelive_nb``, ``voicelive_nb.session`` ...).

A face names what users import; the module behind a name is imported on first use, so
``import voicelive_nb.<part>`` stays cheap and works without the optional pieces.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any


def lazy_exports(
    namespace: MutableMapping[str, Any], names: Mapping[str, str], public: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for a package: ``names`` maps each public name to its module.

    ``namespace`` is the package's ``globals()``: a name, once imported, is stored there so
    later lookups are plain attribute reads.
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return list(public)

    return __getattr__, __dir__
