"""Wire <-> typed value helpers shared by the generated models and the clients."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol


class _Decodable(Protocol):
    _REQUIRED_KEYS: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any: ...


# Attributes `_fill` never sets: assigning them needs no decoding first.
_NOT_FROM_WIRE = frozenset(("_wire", "delta", "partial"))


class LazyDecoded:
    """Base of the response and stream-chunk classes: an instance made by `_lazy(data)` keeps
    the wire JSON and decodes its typed fields on first access, so a stream whose user reads
    only `chunk.delta` never builds the objects. Reading or assigning any field decodes them
    all at once (assigned values are never overwritten later); `from_dict` decodes at once.
    Type checkers see the plain attrs class: these hooks exist only at run time."""

    __slots__ = ("_wire",)

    def _fill(self, data: Mapping[str, Any]) -> None:
        raise NotImplementedError

    if not TYPE_CHECKING:

        def __getattr__(self, name):
            # Only called for a slot that is not set: an undecoded field, or a missing name.
            if name == "_wire":
                raise AttributeError(name)
            try:
                data = self._wire
            except AttributeError:
                raise AttributeError(
                    f"{type(self).__name__!r} object has no attribute {name!r}", name=name, obj=self
                ) from None
            self._decode_now(data)
            return object.__getattribute__(self, name)

        def __setattr__(self, name, value):
            if name not in _NOT_FROM_WIRE:
                try:
                    data = object.__getattribute__(self, "_wire")
                except AttributeError:
                    pass
                else:
                    self._decode_now(data)
            object.__setattr__(self, name, value)

    def _decode_now(self, data: Any) -> None:
        try:
            self._fill(data)
        except AttributeError as exc:
            # Not a missing attribute of this object: a part of the JSON has the wrong shape.
            raise TypeError(f"cannot decode {type(self).__name__}: {exc}") from exc
        object.__delattr__(self, "_wire")


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
