"""Small record classes for the runtime's import path, without attrs.

`import modelstudio` and `ModelStudio()` define a few option and request records; attrs builds
each class at import time (several milliseconds for attrs itself, then per class), so these are
plain classes with `__slots__`: equality and repr by field, in `__slots__` order, fields named in
`_hidden` shown as `...` in the repr (a key must never reach a log line); a `Record` is
unhashable, as an `attrs.define` class is. `FrozenRecord` refuses
assignment and hashes by its fields, as an `attrs.frozen` class does. The generated types keep
attrs: they load with the first decoded answer.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Record:
    __slots__: ClassVar[tuple[str, ...]] = ()
    _hidden: ClassVar[frozenset[str]] = frozenset()

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}=..." if name in self._hidden else f"{name}={getattr(self, name)!r}"
            for name in self.__slots__
        )
        return f"{type(self).__name__}({shown})"


class FrozenRecord(Record):
    __slots__ = ()

    def _set(self, **values: Any) -> None:
        """Set the fields (only `__init__` calls this)."""
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: cannot delete {name!r}")

    def __hash__(self) -> int:
        return hash(self._fields())
