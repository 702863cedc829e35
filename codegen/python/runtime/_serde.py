"""Wire <-> typed value helpers shared by the generated models and the clients."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ._errors import ValidationError

#: Deepest nesting of lists and objects a request may hold (real requests stay under 20).
MAX_DEPTH = 200


class _Decodable(Protocol):
    _REQUIRED_KEYS: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any: ...


_SCALARS = frozenset((str, int, float, bool, type(None)))


def encode(value: Any, name: str = "value") -> Any:
    """A typed value (model instances, lists of them, dicts holding them) as plain JSON data.

    A structure that contains itself, or is nested more than `MAX_DEPTH` levels deep, raises
    `ValidationError` naming the path under `name` (the argument it came from).
    """
    if value.__class__ in _SCALARS:
        return value  # the common leaf: no `to_dict` lookup (a failed getattr is slow)
    try:
        return _encode(value, 0)
    except (_TooDeep, RecursionError):
        pass
    from ._options import find_unencodable

    problem = find_unencodable(value, name)
    if isinstance(problem, ValidationError):
        raise problem
    raise ValidationError(
        f"{name}: is nested more than {MAX_DEPTH} levels deep, or contains itself",
        param=name,
        value=None,
        rule="depth",
    )


class _TooDeep(Exception):
    pass


def _encode(value: Any, depth: int) -> Any:
    if value.__class__ in _SCALARS:
        return value
    if depth > MAX_DEPTH:
        raise _TooDeep
    to_dict = getattr(value, "to_dict", None)
    if to_dict is not None:
        return to_dict()
    if isinstance(value, (list, tuple)):
        return [_encode(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v, depth + 1) for k, v in value.items()}
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
