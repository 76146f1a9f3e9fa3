"""One small registry shape for everything a user or a file names: stages, architectures, degradations.

A ``Registry[T]`` maps names to things of type ``T``. An entry is registered either as the
object itself (``register(name, obj)``, or ``@register(name)`` on a class or function) or
lazily, as ``"module:attribute"`` (``register(name, lazy=...)``), imported on the first
``get``, so that listing names never pays for importing what they name (torch, basicsr).
A registry may also have a *finder*: called with a missing name (or with None before
``names()``), it imports the modules whose decorators register more entries, which is how
a new stage or architecture needs no line anywhere but its own module.

``get`` of an unknown name raises ``UnknownNameError``, a one-line ``UserError`` (and a
``KeyError``) listing the known names.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, Mapping, TypeVar, overload

from restore.errors import UserError

T = TypeVar("T")


class UnknownNameError(UserError, KeyError):
    """A name no entry of the registry has; the message lists the known ones."""

    def __init__(self, kind: str, name: object, known: list[str]):
        self.kind, self.name, self.known = kind, name, known
        super().__init__(f"unknown {kind} {name!r} (known: {', '.join(known) or 'none'})")

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


@dataclass
class _Entry(Generic[T]):
    lazy: str | None = None          # "module:attribute", imported on first use
    obj: T | None = None
    loaded: bool = False
    info: Mapping[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Names → objects of type ``T``, registered eagerly, lazily or by decorator."""

    def __init__(self, kind: str, *, finder: Callable[[str | None], None] | None = None,
                 before_import: Callable[[str], None] | None = None):
        self.kind = kind                    # "stage", "architecture": for messages
        self._entries: dict[str, _Entry[T]] = {}
        self._finder = finder
        self._found_all = False
        self._before_import = before_import  # e.g. a compatibility shim run before a lazy import

    # --- registering ---------------------------------------------------------------
    @overload
    def register(self, name: str, obj: T, *, info: Mapping[str, Any] | None = None) -> T: ...

    @overload
    def register(self, name: str, *, lazy: str, info: Mapping[str, Any] | None = None) -> None: ...

    @overload
    def register(self, name: str, *, info: Mapping[str, Any] | None = None) -> Callable[[T], T]: ...

    def register(self, name: str, obj: T | None = None, *, lazy: str | None = None,
                 info: Mapping[str, Any] | None = None) -> T | None | Callable[[T], T]:
        """``register(name, obj)``, ``register(name, lazy="module:attr")`` or ``@register(name)``.

        Registering a second, different object under a name already taken is an error
        (two modules claiming one name); the same object again is not (a module re-imported).
        """
        if lazy is not None:
            if obj is not None:
                raise TypeError("register: give an object or lazy='module:attribute', not both")
            if ":" not in lazy:
                raise ValueError(f"register: lazy target must be 'module:attribute', got {lazy!r}")
            self._claim(name, _Entry(lazy=lazy, info=dict(info or {})))
            return None
        if obj is None:
            def decorator(target: T) -> T:
                self._claim(name, _Entry(obj=target, loaded=True, info=dict(info or {})))
                return target
            return decorator
        self._claim(name, _Entry(obj=obj, loaded=True, info=dict(info or {})))
        return obj

    def _claim(self, name: str, entry: _Entry[T]) -> None:
        old = self._entries.get(name)
        if old is not None and (old.lazy != entry.lazy or old.obj is not entry.obj):
            raise ValueError(f"{self.kind} name {name!r} registered twice")
        self._entries[name] = entry

    # --- looking up ------------------------------------------------------------------
    def get(self, name: str) -> T:
        """The object called ``name`` (imported now if registered lazily)."""
        entry = self._entries.get(name)
        if entry is None and self._finder is not None:
            self._finder(name)
            entry = self._entries.get(name)
            if entry is None:
                self._find_all()
                entry = self._entries.get(name)
        if entry is None:
            raise UnknownNameError(self.kind, name, self.names())
        if not entry.loaded:
            assert entry.lazy is not None
            module_name, _, attr = entry.lazy.partition(":")
            if self._before_import is not None:
                self._before_import(module_name)
            entry.obj = getattr(importlib.import_module(module_name), attr)
            entry.loaded = True
        return entry.obj  # type: ignore[return-value]  # loaded entries hold their object

    def info(self, name: str) -> Mapping[str, Any]:
        """What was registered with the name besides the object (e.g. an architecture's example)."""
        if name not in self:
            self.get(name)
        return self._entries[name].info

    def names(self) -> list[str]:
        """Every registered name, sorted (the finder, if any, imports what registers itself)."""
        self._find_all()
        return sorted(self._entries)

    def _find_all(self) -> None:
        if self._finder is not None and not self._found_all:
            self._found_all = True
            self._finder(None)

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str) and name not in self._entries and self._finder is not None:
            self._finder(name)
            if name not in self._entries:
                self._find_all()
        return name in self._entries

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} entries)"

