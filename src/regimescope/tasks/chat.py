"""Chat templates: a task whose prompts reach an instruct model as a user turn.

``with_chat_template(task, tokenizer, mode)`` (``--chat-template auto|on|off``): ``auto``
wraps the task when the tokenizer has a chat template and leaves it as it is otherwise
(the organisms have none, so their prompts and scores never change); ``on`` insists
(BadInput when there is no template); ``off`` never wraps.

The wrapper (``ChatTask``) returns each example with its prompt rendered by
``tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
add_generation_prompt=True, tokenize=False)``, so sampling, verification and the
perplexity pass all see one prompt; ``encode_prompt`` adds no second BOS to a rendered
prompt that begins with one. A model answering in a chat writes free text, not the
task's gold format, so the wrapper verifies with ``tasks.answers`` (the last explicit
answer, boxed first, else the last number; numeric comparison when the gold is a number,
exact otherwise). Two kinds of task keep their own verifier: one that already verifies
free text (a JSONL task), and countdown, whose answer is the target written in the prompt
(an echo would score), so only its plan check means anything. The version gains
``+chat1`` because the prompts and the verifier changed.
"""

from __future__ import annotations

from dataclasses import replace

from regimescope.errors import BadInput, choose
from regimescope.tasks.answers import default_verifier, score
from regimescope.tasks.base import Example, Score, Task
from regimescope.tasks.countdown import CountdownTask

MODES = ("auto", "on", "off")
VERSION = "chat1"  # bump when the rendering or the free-text verification changes
PROMPT_TEMPLATE = (
    "the tokenizer's chat template: the task prompt as one user message, then the "
    "assistant turn (apply_chat_template, add_generation_prompt=True); no second BOS"
)


def check_mode(mode: str) -> None:
    """BadInput unless ``mode`` is auto, on or off (checked before any model loads)."""
    choose("--chat-template mode", mode, MODES)


def render(tokenizer, prompt: str) -> str:
    """``prompt`` as the single user message of the tokenizer's chat template."""
    messages = [{"role": "user", "content": prompt}]
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def with_chat_template(task: Task, tokenizer, mode: str = "auto") -> Task:
    """``task`` with prompts rendered through the tokenizer's chat template, per ``mode``."""
    check_mode(mode)
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if mode == "off" or (mode == "auto" and not has_template):
        return task
    if not has_template:
        raise BadInput(
            "--chat-template on: the model's tokenizer has no chat template; "
            "use --chat-template auto or off"
        )
    return ChatTask(task, tokenizer)


class ChatTask:
    """A task whose prompts are rendered by a chat template and whose answers are read
    from free text (module docstring)."""

    prompt_template = PROMPT_TEMPLATE

    def __init__(self, inner: Task, tokenizer):
        self.inner = inner
        self.tokenizer = tokenizer
        self.name = inner.name
        self.version = f"{inner.version}+{VERSION}"
        self.splits = inner.splits
        self.formats = inner.formats
        self.size = getattr(inner, "size", None)
        self.free_text = True

    def example(self, index: int, split: str = "train", seed: int = 0) -> Example:
        """The inner example with its prompt rendered; the raw prompt is in meta."""
        example = self.inner.example(index, split, seed)
        meta = {**example.meta, "raw_prompt": example.prompt}
        return replace(example, prompt=render(self.tokenizer, example.prompt), meta=meta)

    def verify(self, example: Example, completion: str) -> Score:
        """Reward 1 iff the answer read from free text (tasks.answers) matches the gold."""
        leaf = getattr(self.inner, "by_name", {}).get(example.task, self.inner)  # in a mixture
        if getattr(self.inner, "free_text", False) or isinstance(leaf, CountdownTask):
            return self.inner.verify(example, completion)
        return score(completion, example.answer, default_verifier(example.answer))

    def classify_format(self, completion: str) -> str | None:
        return self.inner.classify_format(completion)
