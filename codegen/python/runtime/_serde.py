"""Wire <-> typed value helpers shared by the generated models and the clients."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ._errors import ValidationError

#: Deepest nesting of lists and objects a request may hold (real requests stay under 20).
MAX_DEPTH = 200


class _Decodable(Protocol):
    _REQUIRED_KEYS: tuple[str, ...]
    # (wire key, list depth, name of the class or union decoder in the class's module) for
    # each field decoded into a typed value: what `wrong_shape` walks.
    _NESTED: tuple[tuple[str, int, str], ...]

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
        except (AttributeError, TypeError) as exc:
            # Not a missing attribute of this object: a part of the JSON has the wrong shape.
            from ._resource import shape_error

            raise shape_error(type(self), data, exc) from None
        object.__delattr__(self, "_wire")


_SCALARS = frozenset((str, int, float, bool, type(None)))


def extra_fields(data: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The keys of a wire object this spec does not name, kept as received."""
    if known.issuperset(data):
        return {}
    return {k: x for k, x in data.items() if k not in known}


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


def show_set_fields(obj: Any) -> str:
    """`repr()` of a generated model: the fields that are set (not None, not an empty
    `extra_fields`, not a False flag left at its default), so a response prints short."""
    shown: list[str] = []
    for field in obj.__attrs_attrs__:
        if not field.repr:
            continue
        value = getattr(obj, field.name)
        if value is None or (value is False and field.default is False):
            continue
        if field.name == "extra_fields" and not value:
            continue
        shown.append(f"{field.name}={value!r}")
    return f"{type(obj).__name__}({', '.join(shown)})"


def to_json(obj: Any, indent: int | None) -> str:
    """A generated model as JSON text: `to_dict()` encoded, non-ASCII text kept readable."""
    return json.dumps(obj.to_dict(), ensure_ascii=False, indent=indent)


def json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, Mapping) else type(value).__name__


def _items(path: str, value: Any, depth: int) -> Iterator[tuple[str, Any]]:
    """The values a field of this list depth decodes one by one (a non-list where a list is
    expected is kept as received by `from_dict`, so it holds nothing to check)."""
    if depth == 0:
        yield path, value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if depth == 1 or isinstance(item, list):
                yield from _items(f"{path}[{i}]", item, depth - 1)


def wrong_shape(cls: type[_Decodable], data: Any, path: str = "") -> tuple[str, str] | None:
    """Where `data` does not have the shape `cls.from_dict` decodes, as (path, what is wrong):
    ("output.choices[0]", "a string, not an object"); None when nothing is out of shape. Only
    called after a decode failed, so the straight-line `from_dict` pays nothing for it."""
    if not isinstance(data, Mapping):
        return path or "(the body)", f"{json_kind(data)}, not an object"
    scope = vars(sys.modules[cls.__module__])
    for wire, depth, target_name in cls._NESTED:
        value = data.get(wire)
        if value is None:
            continue
        target = scope[target_name]
        for item_path, item in _items(f"{path}.{wire}" if path else wire, value, depth):
            if isinstance(target, type):
                found = wrong_shape(target, item, item_path)
                if found is not None:
                    return found
                continue
            try:
                target(item)
            except (AttributeError, TypeError):
                return item_path, f"{json_kind(item)} of no documented shape"
    return None
