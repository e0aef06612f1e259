"""Examples as token ids: ``[BOS] prompt target [EOS]`` with a completion mask.

Prompt and target are tokenized separately and concatenated, so the boundary is exact
for any tokenizer (for a char-level organism this equals tokenizing the joined text).
Where a BOS goes is ``encode_prompt``'s rule (the organisms always get one).
"""

from __future__ import annotations

from dataclasses import dataclass

from regimescope.tasks.base import TOKEN_CLASSES, Example, token_classes


def encode_prompt(tokenizer, prompt: str) -> list[int]:
    """Token ids of a prompt, BOS first where the model expects one. In order:

    1. a tokenizer without BOS, or a prompt whose text already begins with it (a rendered
       chat template, ``tasks.chat``): the prompt's own ids, never a second BOS;
    2. a tokenizer without a chat template (the organisms, base models): BOS first, the
       convention the organisms are trained with;
    3. a tokenizer with a chat template: BOS first only when the tokenizer adds it itself
       (its ``add_special_tokens``, as Llama 3 does); otherwise its BOS is a chat marker
       (ChatML's ``<|im_start|>``) and a bare one before plain text would mislead.
    """
    ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    bos = tokenizer.bos_token_id
    if bos is None or ids[:1] == [bos]:
        return ids
    if not getattr(tokenizer, "chat_template", None) or _adds_bos(tokenizer):
        return [bos] + ids
    return ids


def _adds_bos(tokenizer) -> bool:
    """Whether the tokenizer's own special tokens put BOS first."""
    return list(tokenizer("a", add_special_tokens=True)["input_ids"][:1]) == [
        tokenizer.bos_token_id
    ]


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
