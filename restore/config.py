"""One typed mechanism for every file a user writes: pipelines, job files, training configs.

A config section is a dataclass (or a ``TypedDict`` when it must stay a plain mapping, or
``Overrides(cls)`` for "some fields of ``cls``"); ``parse`` turns YAML data into it or raises
``ConfigError`` naming the offending key, always as the one line

    file: section.key: what is wrong (expected …)

so a typo in any file is refused the same way, before any work starts, with exit code 2.
Ranges come from field metadata (``field(default=.., metadata={"min": 0, "max": 1})``) or from
``Annotated[float, Range(gt=0)]``; ``json_schema`` turns the same declarations into a JSON Schema
(``restore schema`` writes them to docs/schema/ for editors).

No library: the stage parameters were already dataclasses checked this way
(restore.pipeline.params); pydantic, msgspec or cattrs would add a compiled dependency to
do what these ~250 lines do, and re-word every error.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from restore.errors import UserError
from restore.safeyaml import brief


class ConfigError(UserError, ValueError):
    """One key of a config is wrong: ``source: key: problem`` (source and key when known)."""

    def __init__(self, key: str, problem: str, source: str | Path | None = None):
        self.key, self.problem, self.source = key, problem, source
        super().__init__(": ".join(str(p) for p in (source, key, problem) if p not in (None, "")))

    def at(self, source: str | Path, prefix: str = "") -> "ConfigError":
        """The same error, naming the file (and the section the data came from)."""
        key = f"{prefix}.{self.key}" if prefix and self.key else (prefix or self.key)
        return ConfigError(key, self.problem, source)


@dataclass(frozen=True)
class Range:
    """Bounds of a number, for ``Annotated[int, Range(min=1)]``; ``gt``: strictly greater."""

    min: float | None = None
    max: float | None = None
    gt: float | None = None


@dataclass(frozen=True)
class Overrides:
    """``Annotated[dict, Overrides(cls)]``: a mapping of some fields of the dataclass ``cls``, each
    checked against its type, and kept as given (it may be hashed as written)."""

    cls: type


# --- WxH ------------------------------------------------------------------------------------------

_SIZE = re.compile(r"(\d+)[xX](\d+)")


def parse_size(text: Any) -> tuple[int, int]:
    """``"1440x1080"`` → ``(1440, 1080)``: the one WIDTHxHEIGHT parser (CLI, pipelines, job files).

    Raises ``ValueError`` with a message ending in ``(expected WIDTHxHEIGHT, e.g. 1440x1080)``."""
    match = _SIZE.fullmatch(text.strip()) if isinstance(text, str) else None
    if not match or int(match[1]) < 2 or int(match[2]) < 2:
        raise ValueError(f"got {brief(text)} (expected WIDTHxHEIGHT, e.g. 1440x1080)")
    return int(match[1]), int(match[2])


# --- parsing --------------------------------------------------------------------------------------

def _key(key: Any) -> str:
    return key if isinstance(key, str) and len(key) <= 60 else brief(key)


def _join(prefix: str, key: Any) -> str:
    return f"{prefix}.{_key(key)}" if prefix else _key(key)


def _describe(hint: Any) -> str:
    """What a value of this type looks like, for ``(expected …)``."""
    hint, _ = _unannotate(hint)
    origin = get_origin(hint)
    if hint is Any:
        return "any value"
    if origin is Literal:
        return "one of: " + ", ".join(map(repr, get_args(hint)))
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        text = " or ".join(_describe(a) for a in options)
        return text + (" or null" if len(options) < len(get_args(hint)) else "")
    if origin in (list, tuple) or hint in (list, tuple):
        args = [a for a in get_args(hint) if a is not Ellipsis]
        if origin is tuple and args and Ellipsis not in get_args(hint):
            return f"a list of {len(args)} {_plural(args[0])}"
        return f"a list of {_plural(args[0])}" if args else "a list"
    if hint is bool:
        return "true or false"
    if hint is int:
        return "an integer"
    if hint is float:
        return "a number"
    if hint is str:
        return "a string"
    if hint is Path:
        return "a path"
    return "a mapping"


def _plural(hint: Any) -> str:
    text = _describe(hint)
    for article in ("an ", "a "):
        if text.startswith(article):
            return text[len(article):] + "s"
    return text


def _unannotate(hint: Any) -> tuple[Any, list]:
    if get_origin(hint) is Annotated:
        base, *extras = get_args(hint)
        return base, list(extras)
    return hint, []


def _is_typeddict(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, dict) and hasattr(hint, "__required_keys__")


def _wrong(value: Any, hint: Any, key: str) -> ConfigError:
    return ConfigError(key, f"got {brief(value)} ({'expected ' + _describe(hint)})")


def _check_range(value: Any, lo: Any, hi: Any, gt: Any, key: str, written: Any = None) -> None:
    """Bounds of a number; the message quotes the value as written (``2``, not the ``2.0`` it became)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    shown = brief(value if written is None else written)
    if lo is not None and hi is not None and not lo <= value <= hi:
        raise ConfigError(key, f"{shown} is out of range (expected {lo}..{hi})")
    if lo is not None and value < lo:
        raise ConfigError(key, f"{shown} is out of range (expected >= {lo})")
    if hi is not None and value > hi:
        raise ConfigError(key, f"{shown} is out of range (expected <= {hi})")
    if gt is not None and not value > gt:
        raise ConfigError(key, f"{shown} is out of range (expected > {gt})")


def check(value: Any, hint: Any, key: str = "") -> Any:
    """``value`` checked against the type ``hint``: the value to keep, or ``ConfigError`` at ``key``."""
    hint, extras = _unannotate(hint)
    overrides = next((e for e in extras if isinstance(e, Overrides)), None)
    checked = _overrides(overrides.cls, value, key) if overrides else _check(value, hint, key)
    for extra in extras:
        if isinstance(extra, Range):
            _check_range(checked, extra.min, extra.max, extra.gt, key, value)
    return checked


def _check(value: Any, hint: Any, key: str) -> Any:
    origin = get_origin(hint)
    if hint is Any:
        return value
    if origin is Literal:
        if not any(value == c and type(value) is type(c) for c in get_args(hint)):
            raise _wrong(value, hint, key)
        return value
    if origin in (typing.Union, types.UnionType):
        options = get_args(hint)
        if value is None:
            if type(None) in options:
                return None
            raise _wrong(value, hint, key)
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return check(value, option, key)
            except ConfigError as exc:
                errors.append(exc)
        # a value of the right kind but out of range says so; otherwise: which types were expected
        if len(errors) == 1 or any(e.key != key or "out of range" in e.problem for e in errors):
            raise next((e for e in errors if e.key != key or "out of range" in e.problem), errors[0])
        raise _wrong(value, hint, key)
    if hint is list or hint is tuple or origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _wrong(value, hint, key)
        args = get_args(hint)
        if origin is tuple and args and Ellipsis not in args:
            if len(value) != len(args):
                raise _wrong(value, hint, key)
            return tuple(check(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else Any
        return tuple(check(v, item, f"{key}[{i}]") for i, v in enumerate(value))
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            raise _wrong(value, hint, key)
        args = get_args(hint)
        if not args:
            return value
        return {check(k, args[0], key): check(v, args[1], _join(key, k)) for k, v in value.items()}
    if hint is bool:
        if not isinstance(value, bool):
            raise _wrong(value, hint, key)
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise _wrong(value, hint, key)
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _wrong(value, hint, key)
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise _wrong(value, hint, key)
        return value
    if hint is Path:
        if isinstance(value, Path):
            return value
        if not isinstance(value, str) or not value:
            raise _wrong(value, hint, key)
        return Path(value)
    if _is_typeddict(hint):
        return _typeddict(hint, value, key)
    if dataclasses.is_dataclass(hint):
        return parse(hint, value, key)
    raise TypeError(f"unsupported config type {hint!r} for {key}")


def _unknown(data: dict, known: typing.Iterable[str], where: str) -> None:
    known = list(known)
    unknown = sorted((k for k in data if k not in known), key=str)
    if unknown:
        raise ConfigError(_join(where, unknown[0]), f"unknown key (expected one of: {', '.join(known)})")


def _mapping(data: Any, hint: Any, where: str) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(where, f"got {brief(data)} (expected a mapping)")
    return data


def parse(cls: type, data: Any, where: str = "") -> Any:
    """Build the dataclass ``cls`` from a mapping, rejecting unknown keys, wrong types and
    out-of-range values (``ConfigError`` at ``where.key``). Nested dataclasses are sections."""
    data = _mapping(data, cls, where)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and not f.metadata.get("internal")}
    hints = typing.get_type_hints(cls, include_extras=True)
    _unknown(data, fields, where)
    values = {}
    for name, f in fields.items():
        key = _join(where, name)
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(key, f"required key is missing (expected {_describe(hints[name])})")
            continue
        value = check(data[name], hints[name], key)
        _check_range(value, f.metadata.get("min"), f.metadata.get("max"), f.metadata.get("gt"), key, data[name])
        if "min_items" in f.metadata and isinstance(value, (list, tuple)) and len(value) < f.metadata["min_items"]:
            raise ConfigError(key, f"{len(value)} items (expected at least {f.metadata['min_items']})")
        values[name] = value
    return cls(**values)


def _typeddict(cls: type, data: Any, where: str) -> dict:
    """A checked ``TypedDict``: the values as given (the mapping may be hashed as written)."""
    data = _mapping(data, cls, where)
    hints = typing.get_type_hints(cls, include_extras=True)
    _unknown(data, hints, where)
    for name in sorted(cls.__required_keys__):
        if name not in data:
            raise ConfigError(_join(where, name), f"required key is missing (expected {_describe(hints[name])})")
    for name, value in data.items():
        check(value, hints[name], _join(where, name))
    return dict(data)


def _overrides(cls: type, data: Any, where: str) -> dict:
    data = _mapping(data, cls, where)
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _unknown(data, fields, where)
    for name, value in data.items():
        checked = check(value, hints[name], _join(where, name))
        f = fields[name]
        _check_range(checked, f.metadata.get("min"), f.metadata.get("max"), f.metadata.get("gt"), _join(where, name),
                     value)
    return dict(data)


# --- JSON Schema ------------------------------------------------------------------------------------

def json_schema(hint: Any, *, title: str | None = None, extra: dict | None = None) -> dict:
    """A JSON Schema (draft 2020-12) of what ``parse``/``check`` accept for ``hint``."""
    schema = _schema(hint)
    if extra:
        schema.setdefault("properties", {}).update(extra)
    if title:
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title, **schema}
    return schema


def _range_schema(schema: dict, lo: Any, hi: Any, gt: Any) -> dict:
    if lo is not None:
        schema["minimum"] = lo
    if hi is not None:
        schema["maximum"] = hi
    if gt is not None:
        schema["exclusiveMinimum"] = gt
    return schema


def _schema(hint: Any) -> dict:
    hint, extras = _unannotate(hint)
    overrides = next((e for e in extras if isinstance(e, Overrides)), None)
    schema = _schema_of(overrides or hint)
    for extra in extras:
        if isinstance(extra, Range):
            _range_schema(schema, extra.min, extra.max, extra.gt)
    return schema


def _schema_of(hint: Any) -> dict:
    origin = get_origin(hint)
    if hint is Any:
        return {}
    if origin is Literal:
        return {"enum": list(get_args(hint))}
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [{"type": "null"} if a is type(None) else _schema(a) for a in get_args(hint)]}
    if hint in (list, tuple) or origin in (list, tuple):
        args = get_args(hint)
        if origin is tuple and args and Ellipsis not in args:
            return {"type": "array", "prefixItems": [_schema(a) for a in args], "items": False,
                    "minItems": len(args)}
        return {"type": "array", **({"items": _schema(args[0])} if args else {})}
    if hint is dict or origin is dict:
        args = get_args(hint)
        return {"type": "object", **({"additionalProperties": _schema(args[1])} if args else {})}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if hint in (str, Path):
        return {"type": "string"}
    if isinstance(hint, Overrides):
        inner = _schema_of(hint.cls)
        inner.pop("required", None)
        return inner
    if _is_typeddict(hint):
        hints = typing.get_type_hints(hint, include_extras=True)
        schema = {"type": "object", "properties": {k: _schema(v) for k, v in hints.items()},
                  "additionalProperties": False}
        if hint.__required_keys__:
            schema["required"] = sorted(hint.__required_keys__)
        return schema
    if dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint, include_extras=True)
        props, required = {}, []
        for f in dataclasses.fields(hint):
            if not f.init or f.metadata.get("internal"):
                continue
            prop = _range_schema(_schema(hints[f.name]), f.metadata.get("min"), f.metadata.get("max"),
                                 f.metadata.get("gt"))
            if "min_items" in f.metadata:
                for option in prop.get("anyOf", [prop]):
                    if option.get("type") == "array":
                        option["minItems"] = f.metadata["min_items"]
            if f.metadata.get("help"):
                prop["description"] = f.metadata["help"]
            if f.default is not dataclasses.MISSING and _jsonable(f.default):
                prop["default"] = f.default
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                required.append(f.name)
            props[f.name] = prop
        schema = {"type": "object", "properties": props, "additionalProperties": False}
        if hint.__doc__ and not hint.__doc__.startswith(hint.__name__ + "("):
            schema["description"] = " ".join(hint.__doc__.split())
        if required:
            schema["required"] = required
        return schema
    raise TypeError(f"no JSON Schema for {hint!r}")


def _jsonable(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str)) or (
        isinstance(value, tuple) and all(_jsonable(v) for v in value))
