"""Helpers for configs, which are frozen dataclasses with a comment on each field.

A resolved config is turned into plain JSON (``to_dict``), hashed into a run id
(``config_hash``) and overridden by field name from the CLI (``override``; ``apply_sets``
reads ``--set name=value`` strings, dotted for nested configs: ``--set rl.lr=1e-4``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from regimescope.errors import BadInput


def to_dict(config: Any) -> dict[str, Any]:
    """A frozen dataclass (possibly nested) as a JSON-ready dict; tuples become lists."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


ADDED_LATER = {"hash": "unless_default"}  # metadata of a field added after runs were stored


def config_hash(config: Any, length: int = 12) -> str:
    """sha256 of the config's canonical JSON (sorted keys), cut to ``length`` hex digits.

    A field whose metadata is ``ADDED_LATER`` is left out while it holds its default: a
    field added with a default that keeps the old behaviour does not re-key the runs
    already stored, and any other value keys a new run."""
    canonical = json.dumps(hashed_view(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:length]


def hashed_view(config: Any) -> Any:
    """``to_dict`` of ``config`` without the ``ADDED_LATER`` fields at their defaults."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        view = {}
        for f in dataclasses.fields(config):
            value = getattr(config, f.name)
            if f.metadata.get("hash") == "unless_default" and value == default_of(f):
                continue
            view[f.name] = hashed_view(value)
        return view
    if isinstance(config, list | tuple):
        return [hashed_view(item) for item in config]
    if isinstance(config, dict):
        return {key: hashed_view(item) for key, item in config.items()}
    return config


def default_of(f: dataclasses.Field) -> Any:
    """The default value of dataclass field ``f`` (from its factory if it has one)."""
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]


def override(config: Any, **changes: Any) -> Any:
    """A copy of ``config`` with fields replaced by name; unknown names are BadInput.

    Dotted names reach into nested dataclasses: ``override(cfg, **{"model.width": 64})``.
    """
    names = {f.name for f in dataclasses.fields(config)}
    direct: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in changes.items():
        head, _, rest = key.partition(".")
        if head not in names:
            valid = ", ".join(sorted(names))
            raise BadInput(f"unknown config field {key!r}; choose from: {valid}")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            direct[head] = value
    for head, sub in nested.items():
        direct[head] = override(getattr(config, head), **sub)
    return dataclasses.replace(config, **direct)


def parse_value(current: Any, text: str, name: str) -> Any:
    """``text`` converted to the type of the field's current value (BadInput if it cannot be)."""
    try:
        if isinstance(current, bool):
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
        if isinstance(current, int):
            return int(text)
        if isinstance(current, float):
            return float(text)
        if isinstance(current, tuple):
            kind = type(current[0]) if current else float
            return tuple(kind(part) for part in text.split(",") if part)
    except ValueError as error:
        raise BadInput(f"--set {name}: cannot read {text!r} as {type(current).__name__}") from error
    return text


def field_value(config: Any, dotted: str) -> Any:
    """The current value of a (dotted) field; BadInput names the valid fields."""
    value = config
    for part in dotted.split("."):
        names = (
            [f.name for f in dataclasses.fields(value)] if dataclasses.is_dataclass(value) else []
        )
        if part not in names:
            raise BadInput(f"unknown config field {dotted!r}; choose from: {', '.join(names)}")
        value = getattr(value, part)
    return value


def apply_sets(config: Any, sets: list[str] | None) -> Any:
    """``config`` with each ``name=value`` of ``--set`` applied."""
    for item in sets or []:
        name, sep, text = item.partition("=")
        if not sep:
            raise BadInput(f"--set takes name=value, got {item!r}")
        value = parse_value(field_value(config, name), text, name)
        config = override(config, **{name: value})
    return config
