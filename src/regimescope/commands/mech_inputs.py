"""Inputs of ``regimescope probe`` and ``regimescope patch``: JSONL files today, a task later.

Each command reads its examples through one function (``probe_inputs``, ``patch_inputs``)
so that a ``--task`` source can plug in beside the file without touching the commands.

probe, one object per line::

    {"prompt": "ab", "label": 1, "type": "b", "position": -1}

``prompt`` (text) and ``label`` (integer or text; text labels are numbered in sorted order)
are required; ``type`` (text: the token value the variable is read from, for the control
task; default the prompt) and ``position`` (integer token index, negative from the end;
default -1) are optional.

patch, one object per line::

    {"clean": "ab", "corrupt": "ac", "target": "1", "foil": "0"}

``clean`` and ``corrupt`` must encode to the same number of tokens, and all pairs to the
same number (so that positions line up across pairs); ``target`` (the clean answer) and
``foil`` must each be one token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from regimescope.errors import BadInput
from regimescope.instruments.probes import ProbeData

PROBE_FIELDS = "'prompt' (text), 'label' (integer or text), optional 'type', 'position'"
PATCH_FIELDS = "'clean', 'corrupt', 'target', 'foil' (text; target and foil one token each)"


def read_jsonl(source: str | Path, fields: str) -> list[tuple[int, dict]]:
    """(line number, object) of each non-blank line; BadInput naming a bad line."""
    path = Path(source)
    if not path.is_file():
        raise BadInput(f"no file at {str(path)!r}; give a JSONL file with {fields}")
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise BadInput(f"{path} line {number} is not JSON; each line needs {fields}") from None
        if not isinstance(record, dict):
            raise BadInput(f"{path} line {number}: expected a JSON object with {fields}")
        rows.append((number, record))
    if not rows:
        raise BadInput(f"{str(path)!r} holds no examples; each line needs {fields}")
    return rows


def _text(record: dict, key: str, where: str, fields: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value:
        raise BadInput(f"{where}: {key!r} must be non-empty text; each line needs {fields}")
    return value


def probe_inputs(source: str | Path) -> tuple[ProbeData, list]:
    """(the examples, the label values in the order of their integer codes)."""
    prompts, raw, types, positions = [], [], [], []
    for number, record in read_jsonl(source, PROBE_FIELDS):
        where = f"{source} line {number}"
        prompts.append(_text(record, "prompt", where, PROBE_FIELDS))
        label, position = record.get("label"), record.get("position", -1)
        if isinstance(label, bool) or not isinstance(label, int | str):
            raise BadInput(
                f"{where}: 'label' must be an integer or text; lines need {PROBE_FIELDS}"
            )
        if isinstance(position, bool) or not isinstance(position, int):
            raise BadInput(f"{where}: 'position' must be an integer token index")
        raw.append(label)
        types.append(str(record.get("type", prompts[-1])))
        positions.append(position)
    if len({type(v) for v in raw}) > 1:
        raise BadInput(f"{source}: labels mix integers and text; use one kind")
    values = sorted(set(raw))
    if len(values) < 2:
        raise BadInput(f"{source}: every label is {values[0]!r}; a probe needs two or more")
    code = {v: i for i, v in enumerate(values)}
    data = ProbeData(tuple(prompts), tuple(code[v] for v in raw), tuple(types), tuple(positions))
    return data, values


@dataclass(frozen=True)
class PatchPairs:
    clean: torch.Tensor  # [N, T] token ids
    corrupt: torch.Tensor  # [N, T]
    target: torch.Tensor  # [N] the clean answer's id
    foil: torch.Tensor  # [N] the other answer's id
    tokens: list[str]  # the first clean prompt's tokens (labels of the position axis)


def patch_inputs(source: str | Path, tokenizer) -> PatchPairs:
    """The pairs of a JSONL file, encoded (BOS first where the model expects one)."""
    from regimescope.instruments.patching import single_token
    from regimescope.tasks.encode import encode_prompt

    clean, corrupt, target, foil = [], [], [], []
    for number, record in read_jsonl(source, PATCH_FIELDS):
        where = f"{source} line {number}"
        a, b = (
            encode_prompt(tokenizer, _text(record, k, where, PATCH_FIELDS))
            for k in ("clean", "corrupt")
        )
        if len(a) != len(b):
            raise BadInput(
                f"{where}: clean is {len(a)} tokens but corrupt is {len(b)}; "
                "a patching pair must have equal token lengths"
            )
        if clean and len(a) != len(clean[0]):
            raise BadInput(
                f"{where}: {len(a)} tokens where line 1's pair has {len(clean[0])}; "
                "all pairs need one length so positions line up"
            )
        try:
            ids = [
                single_token(tokenizer, _text(record, k, where, PATCH_FIELDS))
                for k in ("target", "foil")
            ]
        except BadInput as error:
            raise BadInput(f"{where}: {error}") from None
        clean.append(a), corrupt.append(b), target.append(ids[0]), foil.append(ids[1])
    return PatchPairs(
        clean=torch.tensor(clean),
        corrupt=torch.tensor(corrupt),
        target=torch.tensor(target),
        foil=torch.tensor(foil),
        tokens=tokenizer.convert_ids_to_tokens(clean[0]),
    )
