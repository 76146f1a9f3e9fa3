"""Typed stage parameters, validated from YAML.

Each stage declares a frozen dataclass of its parameters; ``parse_params`` turns a
YAML mapping into it or raises ``ParamError`` naming the offending key, so a typo
in a pipeline file is one clear line, not a silent default. The mechanism is
restore.config's, the one every config file of restore goes through.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from restore.config import ConfigError, parse

ParamError = ConfigError          # the name stages and tests know


def parse_params(cls: type, data: dict[str, Any] | None, where: str = "") -> Any:
    """Build the params dataclass ``cls`` from a mapping, rejecting unknown keys and wrong types.

    Range limits come from field metadata: ``field(default=.., metadata={"min": 0, "max": 1})``.
    """
    return parse(cls, data, where)


def params_to_dict(params: Any) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(params).items()}
