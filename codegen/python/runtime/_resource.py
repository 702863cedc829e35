"""What every generated resource module shares: the lazily imported types, extra parameters."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from typing import Any

from ._errors import APIResponseValidationError
from ._serde import encode, wrong_shape


@functools.cache
def types_module() -> Any:
    """`modelstudio.types`, imported on first use: defining the model classes is most of the
    cost of importing the package, and a client that is only constructed never needs them."""
    return importlib.import_module(".types", __package__)


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
