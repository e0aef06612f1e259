"""Helpers for configs, which are frozen dataclasses with a comment on each field.

A resolved config is turned into plain JSON (``to_dict``), hashed into a run id
(``config_hash``) and overridden by field name from the CLI (``override``).
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


def config_hash(config: Any, length: int = 12) -> str:
    """sha256 of the config's canonical JSON (sorted keys), cut to ``length`` hex digits."""
    canonical = json.dumps(to_dict(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:length]


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
