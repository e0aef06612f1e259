"""Bring-your-own problems: a JSONL file as a task (``--task path.jsonl``).

Each non-blank line is one JSON object::

    {"prompt": "What is 2+3? Answer with a number.", "answer": 5}
    {"prompt": "Simplify (x+1)^2 - 1.", "answer": "x^2 + 2x", "verifier": "math", "id": "alg-3"}

``prompt`` (text) and ``answer`` (text or number) are required; ``id`` (text or number,
default the line number) and ``verifier`` are optional: ``exact``, ``numeric``, ``regex``
or ``math`` (``tasks.answers``), by default ``numeric`` when the answer is a number and
``exact`` otherwise; ``tolerance`` (a number, for ``numeric``) is optional too. Other
fields are kept in the example's ``meta``. A completion is scored by extracting its
answer from free text (``answers.extract``: boxed, else the last explicit marker, else
the last number) and checking it with the line's verifier.

The task's version is a content hash of the file, so results are keyed by the problems.
It has one split, ``test``: a JSONL file holds problems with answers, not worked solutions
(an example's ``target`` is empty, so its samples carry no token classes), so it
evaluates (eval, passk, sample) and does not train. Malformed files (bad JSON, a missing
or mistyped field, an unknown verifier, a bad regex, a repeated prompt or id) raise one
BadInput line naming the line number and the valid choices.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from regimescope.errors import BadInput
from regimescope.tasks.answers import TOLERANCE, VERIFIERS, default_verifier, score
from regimescope.tasks.base import Example, Score

FIELDS = "'prompt' (text), 'answer' (text or number), optional 'id', 'verifier', 'tolerance'"


@dataclass(frozen=True)
class Problem:
    id: str  # the line's "id", else its line number
    prompt: str  # text the model is conditioned on
    answer: str  # gold answer (a JSON number is written as text)
    verifier: str  # one of answers.VERIFIERS
    tolerance: float  # numeric verifier: |x - gold| <= tolerance * max(1, |gold|)
    line: int  # 1-based line number in the file
    extra: dict  # the line's other fields, kept as the example's meta


def _field_text(value, name: str, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadInput(f"{where}: {name!r} must be text or a number; each line needs {FIELDS}")
    return value if isinstance(value, str) else json.dumps(value)


def parse_line(record, number: int, path: str) -> Problem:
    """One line's problem; BadInput naming the line for a missing or mistyped field."""
    where = f"{path} line {number}"
    if not isinstance(record, dict):
        raise BadInput(f"{where}: expected a JSON object with {FIELDS}")
    missing = [key for key in ("prompt", "answer") if key not in record]
    if missing:
        raise BadInput(f"{where}: missing {' and '.join(map(repr, missing))}; need {FIELDS}")
    if not isinstance(record["prompt"], str) or not record["prompt"].strip():
        raise BadInput(f"{where}: 'prompt' must be non-empty text")
    answer = _field_text(record["answer"], "answer", where)
    verifier = record.get("verifier", default_verifier(answer))
    if verifier not in VERIFIERS:
        raise BadInput(
            f"{where}: unknown verifier {verifier!r}; choose from: {', '.join(VERIFIERS)}"
        )
    tolerance = record.get("tolerance", TOLERANCE)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or tolerance < 0:
        raise BadInput(f"{where}: 'tolerance' must be a number >= 0, got {tolerance!r}")
    if verifier == "regex":
        try:
            re.compile(answer)
        except re.error as error:
            raise BadInput(f"{where}: 'answer' is not a valid regex ({error})") from None
    known = ("prompt", "answer", "id", "verifier", "tolerance")
    return Problem(
        id=_field_text(record.get("id", number), "id", where),
        prompt=record["prompt"],
        answer=answer,
        verifier=verifier,
        tolerance=float(tolerance),
        line=number,
        extra={k: v for k, v in record.items() if k not in known},
    )


def read_problems(path: Path, text: str) -> list[Problem]:
    """The problems of a JSONL file's text; BadInput with the line number on any fault."""
    problems, prompts, ids = [], {}, {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise BadInput(
                f"{path} line {number}: not valid JSON ({error.msg}); each line is one JSON "
                f"object with {FIELDS}"
            ) from None
        problem = parse_line(record, number, str(path))
        for seen, key, kind in ((prompts, problem.prompt, "prompt"), (ids, problem.id, "id")):
            if key in seen:
                raise BadInput(f"{path} line {number}: repeats the {kind} of line {seen[key]}")
            seen[key] = number
        problems.append(problem)
    if not problems:
        raise BadInput(f"{path} holds no problems; each line is one JSON object with {FIELDS}")
    return problems


class JsonlTask:
    """Problems and answers from a JSONL file, verified on free text; split ``test``."""

    splits = ("test",)
    formats: tuple[str, ...] = ()
    free_text = True  # verify() extracts answers from free text (chat.ChatTask keeps it)

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.name = str(path)
        if not self.path.is_file():
            raise BadInput(
                f"task file {self.name!r} does not exist; give a .jsonl file of problems"
            )
        data = self.path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise BadInput(f"task file {self.name!r} is not UTF-8 text") from None
        self.problems = read_problems(self.path, text)
        self.version = "jsonl-" + hashlib.sha256(data).hexdigest()[:16]
        self.size = len(self.problems)  # commands default to at most this many problems

    def example(self, index: int, split: str = "test", seed: int = 0) -> Example:
        """Problem ``index`` of the file (``seed`` plays no part: the file fixes the order)."""
        if split not in self.splits:
            raise BadInput(f"task {self.name!r} has no split {split!r}; choose from: test")
        if not 0 <= index < self.size:
            raise BadInput(
                f"task {self.name!r} holds {self.size} problems; ask for at most {self.size}"
            )
        p = self.problems[index]
        meta = {"id": p.id, "line": p.line, "verifier": p.verifier, **p.extra}
        return Example(
            task=self.name,
            split=split,
            index=index,
            prompt=p.prompt,
            target="",  # no gold completion: samples carry no token classes
            answer=p.answer,
            target_classes=(),
            meta=meta,
        )

    def verify(self, example: Example, completion: str) -> Score:
        """Reward 1 iff the answer extracted from free text passes the line's verifier."""
        p = self.problems[example.index]
        return score(completion, p.answer, p.verifier, p.tolerance)

    def classify_format(self, completion: str) -> str | None:
        return None
