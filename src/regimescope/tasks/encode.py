"""Examples as token ids: ``[BOS] prompt target [EOS]`` with a completion mask.

Prompt and target are tokenized separately and concatenated, so the boundary is exact
for any tokenizer (for a char-level organism this equals tokenizing the joined text).
The BOS token is prepended when the tokenizer has one.
"""

from __future__ import annotations

from dataclasses import dataclass

from regimescope.tasks.base import TOKEN_CLASSES, Example, token_classes


def encode_prompt(tokenizer, prompt: str) -> list[int]:
    """Token ids of a prompt, with BOS first when the tokenizer defines one."""
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    bos = tokenizer.bos_token_id
    return ([bos] if bos is not None else []) + list(ids)


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]  # BOS + prompt + target + EOS
    completion_mask: list[int]  # 1 on target and EOS tokens (the ones a loss is taken on)
    class_ids: list[int]  # index into TOKEN_CLASSES per token; -1 on prompt tokens


def encode_example(tokenizer, example: Example) -> Encoded:
    """The training sequence of an example, with the completion mask and token classes."""
    prompt_ids = encode_prompt(tokenizer, example.prompt)
    target_ids = list(tokenizer(example.target, add_special_tokens=False)["input_ids"])
    classes = token_classes(tokenizer, example.target, example.target_classes)
    class_ids = [TOKEN_CLASSES.index(c) for c in classes] + [TOKEN_CLASSES.index("format")]
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    completion = target_ids + eos
    return Encoded(
        input_ids=prompt_ids + completion,
        completion_mask=[0] * len(prompt_ids) + [1] * len(completion),
        class_ids=[-1] * len(prompt_ids) + class_ids[: len(completion)],
    )
