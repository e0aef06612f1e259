"""Rules: rule parts and labels, held-out rule and input splits, prompt modes, verifier."""

from collections import Counter

import pytest

from regimescope.errors import BadInput
from regimescope.tasks import (
    Example,
    RulesConfig,
    RulesTask,
    is_heldout,
    random_baseline,
    render_prompt,
)
from regimescope.tasks.rules import ATTRIBUTES, LABEL_SETS, PREDICATES, Rule, all_rules

TASK = RulesTask()
PART = {p.name: p for p in ATTRIBUTES + PREDICATES}
META = {
    "instruction": "Say yes if the first letter is c, else no.",
    "labels": ("yes", "no"),
    "demos": (("cab", "yes"), ("dab", "no")),
    "query": "cfe",
}


def rule(attribute, predicate, param, labels=("yes", "no")):
    return Rule(PART[attribute], PART[predicate], param, labels)


def parts_of(rules):
    return {part for r in rules for part in r.parts}


@pytest.mark.parametrize(
    ("made", "text", "label"),
    [
        (rule("first", "is", "c"), "cab", "yes"),
        (rule("first", "is", "c"), "acb", "no"),
        (rule("last", "before", "c"), "ccb", "yes"),
        (rule("length", "at_least", 5), "abcd", "no"),
        (rule("count_a", "is", 1), "abab", "no"),
        (rule("vowels", "even", None), "aeb", "yes"),
        (rule("distinct", "compare", 3, ("A", "B", "C")), "aab", "A"),
        (rule("distinct", "compare", 3, ("A", "B", "C")), "abcabc", "B"),
        (rule("second", "compare", "c", ("low", "mid", "high")), "afa", "high"),
    ],
)
def test_rules_label_inputs_by_hand(made, text, label):
    assert made.label(text) == label


def test_instructions_and_parts_by_hand():
    made = rule("first", "is", "c")
    assert made.instruction() == META["instruction"]
    assert made.parts == ("first", "is:c", "yes/no") and made.id == "first|is:c|yes/no"
    three = rule("length", "compare", 4, ("low", "mid", "high"))
    assert three.instruction() == "Say low if the length is below 4, mid if it is 4, high if above."
    assert rule("vowels", "even", None).parts == ("vowels", "even", "yes/no")


def test_every_rule_can_give_every_label():
    texts = [TASK.meta(i)["query"] for i in range(400)] + ["aaa", "abcdef", "bbbbbb", "eeeee"]
    texts += ["".join(sorted(t)) for t in texts] + [t[::-1] for t in texts]
    for made in all_rules():
        assert {made.label(t) for t in texts} == set(made.labels), made.id


def test_heldout_rules_never_appear_in_train():
    splits = TASK.rules
    train_ids = {r.id for r in splits["train"]}
    composable_ids = {r.id for r in splits["heldout_composable"]}
    novel_ids = {r.id for r in splits["heldout_novel"]}
    assert len(train_ids) > 150 and len(composable_ids) > 30 and len(novel_ids) > 30
    assert not train_ids & composable_ids and not train_ids & novel_ids
    assert not composable_ids & novel_ids
    assert len(train_ids | composable_ids | novel_ids) == len(all_rules())
    used_in_train = {
        TASK.meta(i, split)["rule_id"] for i in range(3000) for split in ("train", "test")
    }
    assert used_in_train == train_ids  # every training rule is used, and only those


def test_composable_rules_are_new_combinations_of_seen_parts():
    seen = parts_of(TASK.rules["train"])
    for made in TASK.rules["heldout_composable"]:
        assert set(made.parts) <= seen
    assert not {"second", "distinct"} & seen


def test_novel_rules_use_a_part_never_seen_in_training():
    seen = parts_of(TASK.rules["train"])
    for made in TASK.rules["heldout_novel"]:
        assert set(made.parts) - seen & {"second", "distinct"}
    for split in ("heldout_composable", "heldout_novel"):
        ids = {TASK.meta(i, split)["rule_id"] for i in range(500)}
        assert ids <= {r.id for r in TASK.rules[split]}


def test_novel_parts_are_configurable():
    task = RulesTask(RulesConfig(novel_parts=("low/mid/high", "even")))
    seen = parts_of(task.rules["train"])
    assert "even" not in seen and "low/mid/high" not in seen and "second" in seen
    with pytest.raises(BadInput, match="unknown rule part 'middle'"):
        RulesConfig(novel_parts=("middle",))


def test_query_inputs_are_split_and_demos_use_training_inputs():
    for split in TASK.splits:
        for meta in (TASK.meta(i, split) for i in range(300)):
            assert is_heldout(f"input:{meta['query']}", 0.2) == (split != "train")
            assert not any(is_heldout(f"input:{text}", 0.2) for text, _ in meta["demos"])


def test_query_labels_are_balanced_and_demos_show_distinct_labels():
    golds = {2: Counter(), 3: Counter()}
    for meta in (TASK.meta(i) for i in range(4000)):
        labels = meta["labels"]
        golds[len(labels)][labels.index(meta["label"])] += 1
        assert len({label for _, label in meta["demos"]}) == 2  # 2 demos, no repeated label
    for arity, counts in golds.items():
        shares = [counts[i] / counts.total() for i in range(arity)]
        assert shares == pytest.approx([1 / arity] * arity, abs=0.05)


def test_demonstrations_are_labelled_by_the_rule():
    for meta in (TASK.meta(i, "heldout_novel") for i in range(200)):
        made = next(r for r in TASK.rules["heldout_novel"] if r.id == meta["rule_id"])
        assert all(made.label(text) == label for text, label in meta["demos"])
        assert made.label(meta["query"]) == meta["label"]


def test_render_prompt_in_every_mode_by_hand():
    instruction = "Say yes if the first letter is c, else no.\n"
    assert render_prompt(META, "original") == (
        instruction + "Labels: yes, no\ncab -> yes\ndab -> no\ncfe -> "
    )
    assert render_prompt(META, "simplified") == "Labels: yes, no\ncab -> yes\ndab -> no\ncfe -> "
    assert render_prompt(META, "empty") == "cab -> yes\ndab -> no\ncfe -> "
    assert render_prompt(META, "delusive") == (
        instruction + "Labels: yes, no\ncab -> no\ndab -> yes\ncfe -> "
    )
    with pytest.raises(BadInput, match="unknown prompt mode 'shuffled'"):
        render_prompt(META, "shuffled")


def test_delusive_demos_are_all_wrong_for_three_labels():
    meta = {**META, "labels": ("A", "B", "C"), "demos": (("x", "A"), ("y", "B"), ("z", "C"))}
    assert render_prompt(meta, "delusive").splitlines()[2:5] == ["x -> B", "y -> C", "z -> A"]


def test_prompt_mode_config_renders_examples_in_that_mode():
    simplified = RulesTask(RulesConfig(prompt_mode="simplified"))
    for i in range(20):
        original, plain = TASK.example(i), simplified.example(i)
        assert plain.prompt == render_prompt(original.meta, "simplified")
        assert original.prompt.startswith("Say ") and plain.prompt.startswith("Labels: ")
        assert plain.target == original.target


def example_with(labels=("yes", "no"), answer="yes"):
    return Example(
        "rules", "test", 0, "", answer, answer, ("answer",) * len(answer), None, {"labels": labels}
    )


@pytest.mark.parametrize(
    ("completion", "reward", "answer", "in_space"),
    [
        ("yes", 1.0, "yes", True),
        (" yes", 1.0, "yes", True),
        ("yes\ncab -> no", 1.0, "yes", True),  # trailing junk
        ("yes.", 1.0, "yes", True),
        ("no", 0.0, "no", True),  # wrong label, in the label space
        ("red", 0.0, "red", False),  # another rule's label
        ("maybe", 0.0, "maybe", False),
        ("yesno", 0.0, "yesno", False),  # no separator: not a label
        ("Yes", 0.0, "Yes", False),  # labels are case-sensitive
        ("", 0.0, None, False),
        ("->", 0.0, None, False),
    ],
)
def test_verify_hand_written_completions(completion, reward, answer, in_space):
    score = TASK.verify(example_with(), completion)
    assert (score.reward, score.answer, score.details["in_label_space"]) == (
        reward,
        answer,
        in_space,
    )
    assert score.details["in_vocab"] == (answer in {"yes", "no", "red"})


def test_random_baseline_is_one_over_the_label_count():
    assert random_baseline(example_with()) == 0.5
    assert random_baseline(example_with(("A", "B", "C"), "A")) == pytest.approx(1 / 3)
    sizes = {len(labels) for labels in LABEL_SETS}
    assert sizes == {2, 3}


def test_bad_config_is_bad_input():
    with pytest.raises(BadInput, match="unknown prompt mode"):
        RulesConfig(prompt_mode="shuffled")
    with pytest.raises(BadInput, match="rule split empty"):
        RulesTask(
            RulesConfig(
                novel_parts=(
                    "yes/no",
                    "red/blue",
                    "on/off",
                    "up/down",
                    "hot/cold",
                    "A/B",
                    "A/B/C",
                    "low/mid/high",
                    "red/green/blue",
                )
            )
        )
