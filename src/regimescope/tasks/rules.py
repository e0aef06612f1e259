"""Rule classification with instructions (Kung & Peng 2023).

Serves claim 1 (Kung & Peng, ACL 2023, arXiv 2305.11383): instruction tuning teaches the
output space (which labels to say) more than the task (which label is right). A rule
maps a short string over ``abcdef`` (length 3-6) to a label. It is built from three
parts: an attribute of the string (first / second / last letter, length, count of a, b
or c, vowel count (a and e), number of distinct letters), a predicate with its parameter
(``is:c``, ``before:c``, ``at_least:4``, ``even``, 3-way ``compare:4``; parameters are
chosen so that every label stays reachable) and a label set (yes/no, red/blue, ...,
A/B/C, low/mid/high). Label words come from one shared vocabulary. With the default
config there are 203 training rules, 52 composable and 96 novel held-out rules. A prompt
(mode ``original``) reads

    Say yes if the first letter is c, else no.
    Labels: yes, no
    cab -> yes
    dab -> no
    cfe ->

and the target is the label (``yes``; class ``answer``). ``render_prompt(meta, mode)``
rebuilds the prompt from ``Example.meta`` in four modes: ``original``; ``simplified``
(label set and demonstrations, no rule description); ``empty`` (demonstrations only);
``delusive`` (original, but each demonstration shows a wrong label: the next one in the
set). The config's ``prompt_mode`` picks the mode of every example's prompt.

Splits. Rules using a part in ``novel_parts`` form ``heldout_novel``. Of the other rules,
a hash bucket (``heldout_rule_fraction``) of rule ids forms ``heldout_composable``, keeping
only rules whose every part some training rule uses (the others go back to training), so
composable rules are new combinations of seen parts. ``train`` and ``test`` both use the
training rules; input strings are split by a hash bucket (``heldout_input_fraction``):
``train`` queries use training inputs, the other splits' queries held-out inputs;
demonstrations always use training inputs. The query's label is drawn uniformly from the
rule's labels before its input (rejection sampling), so guessing uniformly in the label
space scores exactly ``random_baseline(example) = 1 / len(labels)`` in expectation.

Parsing: the label is the completion's leading run of letters and digits (after optional
whitespace); ``yes\\njunk`` parses as ``yes``, ``yesno`` as ``yesno`` (wrong, off the label
space). ``details["in_label_space"]`` says whether it is one of the rule's labels.

Departures from the paper: synthetic rules over strings instead of Super-NaturalInstructions
tasks; exact match only (no ROUGE-L); the "task" unit is one rule, and compositional
held-out rules are a split of our own design (the paper's unseen tasks are not built from
seen parts by construction); delusive demonstrations are deterministic (next label).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from regimescope.errors import BadInput, choose
from regimescope.tasks.base import Example, Score, compose, example_rng, is_heldout

ALPHABET = "abcdef"
MIN_LEN, MAX_LEN = 3, 6
MODES = ("original", "simplified", "empty", "delusive")
SPLITS = ("train", "test", "heldout_composable", "heldout_novel")
STREAM = "rules"
MAX_TRIES = 10_000  # rejection-sampling budget for an input with a given label
LABEL = re.compile(r"\s*([A-Za-z0-9]+)")


@dataclass(frozen=True)
class Attribute:
    name: str  # part id
    phrase: str  # how instructions name it
    kind: str  # "letter" or "number": which predicates apply
    params: tuple[Any, ...]  # what predicates compare against; each keeps every label reachable
    measure: Callable[[str], Any]  # input string -> attribute value


@dataclass(frozen=True)
class Predicate:
    name: str  # part id (with ":param" appended when it takes one)
    kinds: tuple[str, ...]  # attribute kinds it applies to
    template: str  # instruction; fields attr, p (the parameter), l0-l2 (labels), less, more
    outcome: Callable[[Any, Any], int]  # (value, param) -> index of the label

    @property
    def takes_param(self) -> bool:
        return "{p}" in self.template


def two_way(condition: str) -> str:
    return "Say {l0} if {attr} " + condition + ", else {l1}."


BOTH = ("letter", "number")
COMPARE = "Say {l0} if {attr} is {less} {p}, {l1} if it is {p}, {l2} if {more}."
ATTRIBUTES = (
    Attribute("first", "the first letter", "letter", tuple("bcde"), lambda s: s[0]),
    Attribute("second", "the second letter", "letter", tuple("bcde"), lambda s: s[1]),
    Attribute("last", "the last letter", "letter", tuple("bcde"), lambda s: s[-1]),
    Attribute("length", "the length", "number", (4, 5), len),
    Attribute("count_a", "the count of a", "number", (1,), lambda s: s.count("a")),
    Attribute("count_b", "the count of b", "number", (1,), lambda s: s.count("b")),
    Attribute("count_c", "the count of c", "number", (1,), lambda s: s.count("c")),
    Attribute("vowels", "the vowel count", "number", (1, 2), lambda s: s.count("a") + s.count("e")),
    Attribute("distinct", "the number of distinct letters", "number", (3, 4), lambda s: len({*s})),
)
PREDICATES = (
    Predicate("is", BOTH, two_way("is {p}"), lambda v, p: int(v != p)),
    Predicate("before", ("letter",), two_way("is before {p}"), lambda v, p: int(v >= p)),
    Predicate("at_least", ("number",), two_way("is at least {p}"), lambda v, p: int(v < p)),
    Predicate("even", ("number",), two_way("is even"), lambda v, p: v % 2),
    Predicate("compare", BOTH, COMPARE, lambda v, p: 0 if v < p else 1 if v == p else 2),
)
LABEL_SETS = (
    ("yes", "no"), ("red", "blue"), ("on", "off"), ("up", "down"), ("hot", "cold"), ("A", "B"),
    ("A", "B", "C"), ("low", "mid", "high"), ("red", "green", "blue"),
)  # fmt: skip
LABEL_VOCAB = frozenset(label for labels in LABEL_SETS for label in labels)


@dataclass(frozen=True)
class Rule:
    attribute: Attribute  # what is measured on the input
    predicate: Predicate  # how the measure maps to a label index
    param: Any  # the predicate's parameter (None when it takes none)
    labels: tuple[str, ...]  # label words, in outcome order

    @property
    def parts(self) -> tuple[str, str, str]:
        """(attribute, predicate[:param], label set), e.g. ``("first", "is:c", "yes/no")``."""
        predicate = self.predicate.name + ("" if self.param is None else f":{self.param}")
        return self.attribute.name, predicate, "/".join(self.labels)

    @property
    def id(self) -> str:
        return "|".join(self.parts)

    def label(self, text: str) -> str:
        return self.labels[self.predicate.outcome(self.attribute.measure(text), self.param)]

    def instruction(self) -> str:
        less, more = ("before", "after") if self.attribute.kind == "letter" else ("below", "above")
        words = dict(zip(("l0", "l1", "l2"), self.labels, strict=False))
        return self.predicate.template.format(
            attr=self.attribute.phrase, p=self.param, less=less, more=more, **words
        )


def all_rules() -> list[Rule]:
    """Every valid (attribute, predicate, param, label set), in a fixed order."""
    rules = []
    for attribute in ATTRIBUTES:
        for predicate in (p for p in PREDICATES if attribute.kind in p.kinds):
            arity = 3 if predicate.name == "compare" else 2
            for param in attribute.params if predicate.takes_param else (None,):
                for labels in (s for s in LABEL_SETS if len(s) == arity):
                    rules.append(Rule(attribute, predicate, param, labels))
    return rules


@dataclass(frozen=True)
class RulesConfig:
    n_demos: int = 2  # demonstrations (input -> label lines) before the query
    heldout_rule_fraction: float = 0.2  # share of seen-part rules held out (heldout_composable)
    heldout_input_fraction: float = 0.2  # share of input strings reserved for non-train queries
    novel_parts: tuple[str, ...] = ("second", "distinct")  # parts unseen in train (heldout_novel)
    prompt_mode: str = "original"  # how prompts render the instruction: one of MODES

    def __post_init__(self):
        choose("prompt mode", self.prompt_mode, MODES)
        if self.n_demos < 0:
            raise BadInput(f"n_demos must be >= 0, got {self.n_demos}")
        for fraction in (self.heldout_rule_fraction, self.heldout_input_fraction):
            if not 0 < fraction < 1:
                raise BadInput(f"held-out fractions must be in (0, 1), got {fraction}")
        known = {part for rule in all_rules() for part in rule.parts}
        for part in self.novel_parts:
            choose("rule part", part, known)


def split_rules(config: RulesConfig) -> dict[str, tuple[Rule, ...]]:
    """Rules of each split: train (also used by test), heldout_composable, heldout_novel."""
    rules = all_rules()
    novel = [r for r in rules if set(r.parts) & set(config.novel_parts)]
    rest = [r for r in rules if not set(r.parts) & set(config.novel_parts)]
    held = {r.id for r in rest if is_heldout(f"rule:{r.id}", config.heldout_rule_fraction)}
    seen = {part for r in rest if r.id not in held for part in r.parts}
    for rule in (r for r in rest if r.id in held):  # seen only grows: earlier keeps stay valid
        if not set(rule.parts) <= seen:
            held.discard(rule.id)
            seen |= set(rule.parts)
    train = tuple(r for r in rest if r.id not in held)
    composable = tuple(r for r in rest if r.id in held)
    if not train or not composable or not novel:
        raise BadInput("novel_parts and heldout_rule_fraction leave a rule split empty")
    return {"train": train, "heldout_composable": composable, "heldout_novel": tuple(novel)}


def draw_input(rng, rule: Rule, label: str, heldout: bool, fraction: float) -> str:
    """A random string with ``rule.label(s) == label`` from the training or held-out inputs."""
    for _ in range(MAX_TRIES):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(MIN_LEN, MAX_LEN)))
        if rule.label(text) == label and is_heldout(f"input:{text}", fraction) == heldout:
            return text
    raise RuntimeError(f"no input labelled {label!r} by rule {rule.id} in {MAX_TRIES} tries")


def render_prompt(meta: dict[str, Any], mode: str = "original") -> str:
    """The prompt of an example from its meta, in one of MODES (see the module docstring)."""
    choose("prompt mode", mode, MODES)
    labels = meta["labels"]
    lines = [meta["instruction"]] if mode in ("original", "delusive") else []
    if mode != "empty":
        lines.append("Labels: " + ", ".join(labels))
    for text, label in meta["demos"]:
        shown = labels[(labels.index(label) + 1) % len(labels)] if mode == "delusive" else label
        lines.append(f"{text} -> {shown}")
    return "\n".join([*lines, f"{meta['query']} -> "])


def parse_label(completion: str) -> str | None:
    """The completion's leading run of letters and digits, after optional whitespace."""
    match = LABEL.match(completion)
    return match.group(1) if match else None


def random_baseline(example: Example) -> float:
    """Expected exact match of guessing uniformly in the rule's label space: 1 / |labels|."""
    return 1.0 / len(example.meta["labels"])


class RulesTask:
    """Classify a string by an instructed rule; splits train, test and two held-out rule sets."""

    version = "1.0"
    splits = SPLITS
    formats = ()

    def __init__(self, config: RulesConfig | None = None, name: str = "rules"):
        self.config = config or RulesConfig()
        self.name = name
        self.rules = split_rules(self.config)

    def meta(self, index: int, split: str = "train", seed: int = 0) -> dict[str, Any]:
        """The structure of example ``index``: rule, instruction, labels, demos, query."""
        choose("split", split, self.splits)
        rng = example_rng(STREAM, split, seed, index)
        rule = rng.choice(self.rules["train" if split == "test" else split])
        fraction = self.config.heldout_input_fraction
        query_label = rng.choice(rule.labels)
        query = draw_input(rng, rule, query_label, split != "train", fraction)
        order = rng.sample(rule.labels, len(rule.labels))
        demo_labels = [order[i % len(order)] for i in range(self.config.n_demos)]
        demos = tuple(
            (draw_input(rng, rule, label, False, fraction), label) for label in demo_labels
        )
        parts = dict(zip(("attribute", "predicate", "labels"), rule.parts, strict=True))
        return {
            "rule_id": rule.id,
            "parts": parts,
            "instruction": rule.instruction(),
            "labels": rule.labels,
            "demos": demos,
            "query": query,
            "label": query_label,
        }

    def example(self, index: int, split: str = "train", seed: int = 0) -> Example:
        meta = self.meta(index, split, seed)
        target, classes = compose([(meta["label"], "answer")])
        return Example(
            task=self.name,
            split=split,
            index=index,
            prompt=render_prompt(meta, self.config.prompt_mode),
            target=target,
            answer=meta["label"],
            target_classes=classes,
            meta=meta,
        )

    def verify(self, example: Example, completion: str) -> Score:
        """Reward 1 iff the parsed label equals the gold; report label-space validity."""
        label = parse_label(completion)
        details = {
            "in_label_space": label in example.meta["labels"],
            "in_vocab": label in LABEL_VOCAB,
        }
        return Score(reward=float(label == example.answer), answer=label, details=details)

    def classify_format(self, completion: str) -> str | None:
        return None
