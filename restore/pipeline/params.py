"""Typed stage parameters, validated from YAML.

Each stage declares a frozen dataclass of its parameters; ``parse_params`` turns a
YAML mapping into it or raises ``ParamError`` naming the offending key, so a typo
in a pipeline file is one clear line, not a silent default.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, get_args, get_origin

from restore.safeyaml import brief


class ParamError(ValueError):
    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"{key}: {message}")


def _check(value: Any, hint: Any, key: str) -> Any:
    origin = get_origin(hint)
    if hint is Any:
        return value
    if origin is Literal:
        choices = get_args(hint)
        if value not in choices:
            raise ParamError(key, f"must be one of {', '.join(map(repr, choices))}, got {brief(value)}")
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in get_args(hint):
            if option is type(None):
                if value is None:
                    return None
                continue
            try:
                return _check(value, option, key)
            except ParamError as exc:
                errors.append(str(exc))
        raise ParamError(key, f"wrong type {type(value).__name__} ({'; '.join(errors)})")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ParamError(key, f"must be a list, got {type(value).__name__}")
        (item,) = get_args(hint)[:1] or (Any,)
        return tuple(_check(v, item, f"{key}[{i}]") for i, v in enumerate(value))
    if hint is bool:
        if not isinstance(value, bool):
            raise ParamError(key, f"must be true or false, got {brief(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamError(key, f"must be an integer, got {brief(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamError(key, f"must be a number, got {brief(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ParamError(key, f"must be a string, got {brief(value)}")
        return value
    raise TypeError(f"unsupported parameter type {hint!r} for {key}")


def parse_params(cls: type, data: dict[str, Any] | None, where: str = "") -> Any:
    """Build the params dataclass ``cls`` from a mapping, rejecting unknown keys and wrong types.

    Range limits come from field metadata: ``field(default=.., metadata={"min": 0, "max": 1})``.
    """
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    prefix = f"{where}." if where else ""
    unknown = sorted((k for k in data if k not in fields), key=str)
    if unknown:
        key = unknown[0] if isinstance(unknown[0], str) and len(unknown[0]) <= 60 else brief(unknown[0])
        raise ParamError(prefix + key, f"unknown key (expected one of: {', '.join(fields)})")
    values = {}
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ParamError(prefix + name, "required key is missing")
            continue
        value = _check(data[name], hints[name], prefix + name)
        lo, hi = f.metadata.get("min"), f.metadata.get("max")
        if lo is not None and value is not None and value < lo:
            raise ParamError(prefix + name, f"must be >= {lo}, got {value}")
        if hi is not None and value is not None and value > hi:
            raise ParamError(prefix + name, f"must be <= {hi}, got {value}")
        values[name] = value
    return cls(**values)


def params_to_dict(params: Any) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(params).items()}
