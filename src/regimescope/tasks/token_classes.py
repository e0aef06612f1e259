"""Token classes of *sampled* completions. A task labels each character of its gold target
(``plan``, ``exec``, ``format``, ``answer``); a sample has no labels of its own. They are
carried over by aligning the sample with the gold target's template: ``format`` runs of
the gold are literal anchors, every other run is a wildcard (digits for a numeric run,
else any text on one line), so ``plan 2*7+3\\n...`` inherits ``plan`` on ``2*7+3`` from a
gold ``plan 3*5+7\\n...``. A sample that does not follow the gold's template (another
format, a malformed line) stays unlabelled (class -1): it counts in overall statistics
but in no class, and HICRA does not amplify any of its tokens.

Shared by the regimes (HICRA's planning tokens, the recorder) and the instruments
(perplexity by token class); it lives with the tasks because it reads only their labels.
"""

from __future__ import annotations

import itertools
import re

from regimescope.tasks.base import TOKEN_CLASSES, Example


def template(example: Example) -> re.Pattern:
    """A regex matching completions that follow the gold target's template (see module doc)."""
    pairs = zip(example.target, example.target_classes, strict=True)
    runs = [
        ("".join(ch for ch, _ in group), cls)
        for cls, group in itertools.groupby(pairs, key=lambda x: x[1])
    ]
    parts = []
    for i, (text, cls) in enumerate(runs):
        if cls == "format":
            parts.append(re.escape(text))
        elif text.lstrip("-").isdigit():
            parts.append(r"(-?\d+)")
        else:
            parts.append(r"([^\n]+)" if i == len(runs) - 1 else r"([^\n]+?)")
    return re.compile("".join(parts))


def completion_classes(example: Example, completion: str) -> list[str | None]:
    """One class per character of ``completion`` by template alignment; None = unlabelled."""
    classes: list[str | None] = [None] * len(completion)
    match = template(example).match(completion)
    if match is None:
        return classes
    labelled = [cls for cls, _ in itertools.groupby(example.target_classes)]
    group = 0
    for cls in labelled:
        if cls == "format":
            continue
        group += 1
        for i in range(match.start(group), match.end(group)):
            classes[i] = cls
    for i in range(match.end()):
        classes[i] = classes[i] or "format"
    return classes


def token_class_ids(tokenizer, example: Example, completion) -> list[int]:
    """TOKEN_CLASSES index per generated token (-1 unlabelled), from ``completion_classes``.

    A token takes the class of its first character. Tokens are aligned with characters by
    re-tokenizing the text; when that does not give back the sampled ids (a non-canonical
    tokenization), every token is unlabelled.
    """
    n = len(completion.token_ids)
    chars = completion_classes(example, completion.text)
    if n == 0 or all(c is None for c in chars):
        return [-1] * n
    encoding = tokenizer(completion.text, add_special_tokens=False, return_offsets_mapping=True)
    if list(encoding["input_ids"]) != list(completion.token_ids):
        return [-1] * n
    ids = []
    for start, end in encoding["offset_mapping"]:
        cls = chars[start] if end > start else "format"
        ids.append(-1 if cls is None else TOKEN_CLASSES.index(cls))
    return ids
