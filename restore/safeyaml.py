"""YAML from users, read with limits, and values quoted in messages without echoing them whole.

Pipeline and job files come from anywhere. ``yaml.safe_load`` runs no code, but it still
accepts an *alias bomb* (a few lines whose anchors expand to billions of values: PyYAML
builds them as shared objects, and the first ``repr``, ``json.dumps`` or
``dataclasses.asdict`` of one walks all of them until memory runs out) and nesting deep
enough to overflow Python's stack. ``load`` refuses both before anything else looks at
the data; ``brief`` quotes a value in an error message in a bounded number of characters.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 4 << 20          # a pipeline is a few hundred bytes, a job file listing thousands of inputs < 1 MiB
MAX_VALUES = 200_000         # every value counted each time an alias repeats it
MAX_DEPTH = 40               # no pipeline or job file nests deeper than 4


class YamlLimitError(ValueError):
    """The text is not YAML we accept; the message is one line, without the offending value."""


def load(text: str) -> Any:
    """``yaml.safe_load`` with limits on size, nesting and expanded values (aliases counted each time)."""
    if len(text) > MAX_BYTES:
        raise YamlLimitError(f"file is {len(text)} bytes, more than the {MAX_BYTES} accepted")
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise YamlLimitError(f"nesting too deep (more than {MAX_DEPTH} levels)") from None
    except yaml.YAMLError:
        raise
    except ValueError as exc:
        # PyYAML's constructors let some errors through: an integer of more than 4300 digits
        raise YamlLimitError(f"a value cannot be read ({brief(str(exc), 80)})") from None
    _check_size(data)
    return data


def _check_size(data: Any) -> None:
    # iterative walk: recursion here would fail on exactly the inputs it must refuse
    count = 0
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise YamlLimitError(f"expands to more than {MAX_VALUES} values (YAML aliases repeating "
                                 "anchors: an alias bomb?)")
        if depth > MAX_DEPTH:
            raise YamlLimitError(f"nesting too deep (more than {MAX_DEPTH} levels, or an alias that "
                                 "contains itself)")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
            stack.extend((k, depth + 1) for k in value)
        elif isinstance(value, (list, tuple)):
            stack.extend((v, depth + 1) for v in value)


def brief(value: Any, limit: int = 60) -> str:
    """A value as an error message may quote it: at most about ``limit`` characters, never walking
    a container (an alias bomb is a small graph but an astronomically long ``repr``)."""
    if isinstance(value, dict):
        return f"a mapping of {len(value)} keys"
    if isinstance(value, (list, tuple, set)):
        return f"a list of {len(value)} items"
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        # int.__repr__ refuses beyond 4300 digits (and is slow well before)
        return repr(value) if value.bit_length() <= 200 else f"an integer of {value.bit_length()} bits"
    if isinstance(value, (str, bytes)):
        if len(value) <= limit:
            return repr(value)
        return repr(value[:limit]) + f"… ({len(value)} characters)"
    text = object.__repr__(value)
    return f"a {type(value).__name__}" if len(text) > limit else text
