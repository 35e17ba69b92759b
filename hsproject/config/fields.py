"""Small validators that turn raw YAML values into typed values or raise ConfigError naming the key.

Every section of `sections.py` is built from these, so that every message an admin sees has the same
shape: the dotted key, then what was wrong with it.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable

from .errors import ConfigError

_MISSING = object()
MAX_PORT = 65535


class Reader:
    """Reads one mapping of the YAML, remembering its dotted prefix and which keys were consumed."""

    def __init__(self, raw: Any, prefix: str = ""):
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(prefix or "<top level>", f"must be a mapping, not {type(raw).__name__}")
        self.raw = raw
        self.prefix = prefix
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def _get(self, name: str, default: Any) -> Any:
        self.seen.add(name)
        value = self.raw.get(name, _MISSING)
        if value is _MISSING or value is None:
            return default
        return value

    def str(self, name: str, default: str | None = None, *, choices: Iterable[str] | None = None,
            pattern: str | None = None) -> str | None:
        value = self._get(name, default)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ConfigError(self.key(name), f"must be a string, not {type(value).__name__}")
        if choices is not None and value not in choices:
            raise ConfigError(self.key(name), f"must be one of {', '.join(_ordered(choices))}; got {value!r}")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise ConfigError(self.key(name), f"{value!r} is not valid")
        return value

    def bool(self, name: str, default: bool) -> bool:
        value = self._get(name, default)
        if not isinstance(value, bool):
            raise ConfigError(self.key(name), f"must be true or false, not {value!r}")
        return value

    def int(self, name: str, default: int | None, *, minimum: int | None = None,
            maximum: int | None = None) -> int | None:
        value = self._get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(self.key(name), f"must be an integer, not {value!r}")
        if minimum is not None and value < minimum:
            raise ConfigError(self.key(name), f"must be at least {minimum}; got {value}")
        if maximum is not None and value > maximum:
            raise ConfigError(self.key(name), f"must be at most {maximum}; got {value}")
        return value

    def port(self, name: str, default: int | None, *, minimum: int = 1) -> int | None:
        """A TCP port number (1-65535; a listener may use 0 to let the OS choose)."""
        return self.int(name, default, minimum=minimum, maximum=MAX_PORT)

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        value = self._get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(self.key(name), f"must be a number, not {value!r}")
        if value < minimum:
            raise ConfigError(self.key(name), f"must be at least {minimum}; got {value}")
        return float(value)

    def size(self, name: str, default: str | int) -> int:
        """A byte size: an integer or a string like '50M', '10K', '1G' (Synapse's notation)."""
        value = self._get(name, default)
        return parse_size(self.key(name), value)

    def duration_ms(self, name: str, default: str | int | None) -> int | None:
        """A duration: milliseconds as an integer, or '30s', '5m', '1h', '7d', '1w', '1y'."""
        value = self._get(name, default)
        if value is None:
            return None
        return parse_duration_ms(self.key(name), value)

    def str_list(self, name: str, default: list[str] | None = None) -> list[str]:
        value = self._get(name, default if default is not None else [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(self.key(name), "must be a list of strings")
        return list(value)

    def section(self, name: str) -> "Reader":
        return Reader(self._get(name, {}), self.key(name))

    def raw_value(self, name: str, default: Any = None) -> Any:
        return self._get(name, default)

    def finish(self, allowed_extra: Iterable[str] = ()) -> None:
        """Reject every key that no reader asked for: a typo must not be silently ignored."""
        unknown = set(self.raw) - self.seen - set(allowed_extra)
        if unknown:
            name = sorted(unknown)[0]
            raise ConfigError(self.key(name), "unknown key (check the spelling; see docs/configuration.md)")


_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_DURATION_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000,
                   "w": 7 * 86_400_000, "y": 365 * 86_400_000}


def _ordered(choices: Iterable[str]) -> list[str]:
    return list(choices) if isinstance(choices, (list, tuple)) else sorted(choices)


def parse_size(key: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)B?\s*", value.upper())
        if m:
            return int(m.group(1)) * _SIZE_UNITS[m.group(2)]
    raise ConfigError(key, f"must be a size such as 50M or 1048576, not {value!r}")


def parse_duration_ms(key: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+)\s*(ms|s|m|h|d|w|y)?\s*", value)
        if m:
            return int(m.group(1)) * _DURATION_UNITS[m.group(2) or "ms"]
    raise ConfigError(key, f"must be a duration such as 30s, 5m, 1h, 7d or milliseconds, not {value!r}")


def check_each(key: str, values: list, check: Callable[[str, Any], Any]) -> list:
    return [check(f"{key}[{i}]", v) for i, v in enumerate(values)]
