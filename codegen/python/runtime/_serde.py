"""Wire <-> typed value helpers shared by the generated models and the clients."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Protocol


class _Decodable(Protocol):
    _REQUIRED_KEYS: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any: ...


_SCALARS = frozenset((str, int, float, bool, type(None)))


def encode(value: Any) -> Any:
    """A typed value (model instances, lists of them, dicts holding them) as plain JSON data."""
    if value.__class__ in _SCALARS:
        return value  # the common leaf: no `to_dict` lookup (a failed getattr is slow)
    to_dict = getattr(value, "to_dict", None)
    if to_dict is not None:
        return to_dict()
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    return value


@functools.cache
def _first_of(classes: tuple[type[_Decodable], ...]) -> Callable[[Any], Any]:
    """A decoder for untagged unions: the first class whose required keys are all present."""

    def decode_union(value: Any) -> Any:
        if isinstance(value, dict):
            for cls in classes:
                if all(key in value for key in cls._REQUIRED_KEYS):
                    return cls.from_dict(value)
        return value

    return decode_union
