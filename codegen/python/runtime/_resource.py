"""What every generated resource module shares: the lazily imported types, extra parameters."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._errors import APIResponseValidationError
from ._serde import encode, wrong_shape

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
    if not isinstance(extra, Mapping):
        raise TypeError(f"extra_parameters must be a mapping, not {type(extra).__name__}")
    for key, value in extra.items():
        if not isinstance(key, str):
            raise TypeError(f"extra_parameters: names must be str, not {type(key).__name__}")
        if key in params:
            raise ValueError(
                f"extra_parameters[{key!r}] repeats a keyword argument: pass {key}= instead"
            )
        params[key] = encode(value, f"extra_parameters[{key!r}]")


def shape_error(cls: Any, data: Any, error: Exception) -> Exception:
    """The error for an answer `cls.from_dict` could not decode: an APIResponseValidationError
    naming the field that is out of shape, else `error` itself (a bug, not the answer's)."""
    where = wrong_shape(cls, data)
    if where is None:
        return error
    path, what = where
    request_id = data.get("request_id") if isinstance(data, Mapping) else None
    return APIResponseValidationError(
        f"The answer does not have the documented shape of {cls.__name__}: `{path}` is {what}",
        path=path,
        request_id=request_id if isinstance(request_id, str) else None,
    )
