"""What every generated resource module shares: the lazily imported types, extra parameters."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._serde import encode

if TYPE_CHECKING:
    from ._checks import Problem


@functools.cache
def types_module() -> Any:
    """`modelstudio.types`, imported on first use: defining the model classes is most of the
    cost of importing the package, and a client that is only constructed never needs them."""
    return importlib.import_module(".types", __package__)


class LazyValidator:
    """`modelstudio._validation.<name>`, imported on the first call: the generated validators
    are a large part of the package's import time, and a program pays for them only once it
    sends a request."""

    __slots__ = ("_function", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._function: Callable[[Mapping[str, Any], bool], list[Problem]] | None = None

    def __call__(self, body: Mapping[str, Any], stream: bool) -> list[Problem]:
        function = self._function
        if function is None:
            module = importlib.import_module("._validation", __package__)
            function = self._function = getattr(module, self._name)
        return function(body, stream)

    def __repr__(self) -> str:
        return f"LazyValidator({self._name!r})"


def merge_extra(params: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """Add parameters this spec does not name; a name it does must use its own argument."""
    for key, value in extra.items():
        if key in params:
            raise ValueError(
                f"extra_parameters[{key!r}] repeats a keyword argument: pass {key}= instead"
            )
        params[key] = encode(value)
