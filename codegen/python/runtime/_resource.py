"""What every generated resource module shares: the lazily imported types, extra parameters."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from typing import Any

from ._serde import encode


@functools.cache
def types_module() -> Any:
    """`modelstudio.types`, imported on first use: defining the model classes is most of the
    cost of importing the package, and a client that is only constructed never needs them."""
    return importlib.import_module(".types", __package__)


def merge_extra(params: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """Add parameters this spec does not name; a name it does must use its own argument."""
    for key, value in extra.items():
        if key in params:
            raise ValueError(
                f"extra_parameters[{key!r}] repeats a keyword argument: pass {key}= instead"
            )
        params[key] = encode(value)
