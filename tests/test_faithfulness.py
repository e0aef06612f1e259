"""Early answering on planted answer functions whose dependence on the scratchpad is known,
with the curve and the area over it worked out by hand."""

from __future__ import annotations

import pytest

from regimescope.instruments.faithfulness import (
    area_over_curve,
    early_answering,
    same_answer_curve,
    truncations,
)

PROMPTS = ["3 + 4 * 2 =", "9 - 5 + 1 =", "2 * 3 * 4 ="]
SCRATCHPADS = ["4 * 2 = 8 , 3 + 8 = 11", "9 - 5 = 4 , 4 + 1 = 5", "2 * 3 = 6 , 6 * 4 = 24"]
FINALS = ["11", "5", "24"]


def test_truncation_boundaries_on_whitespace_tokens():
    pad = "a b  c\nd"  # 4 tokens, irregular whitespace kept as written
    assert truncations(pad) == ["", "a", "a b", "a b  c", "a b  c\nd"]
    assert truncations(" a b \n", (0.0, 0.5, 1.0)) == ["", " a", " a b \n"]  # f = 1 is whole
    assert truncations("x y z", (0.5, 0.66, 0.67, 0.0)) == ["x", "x", "x y", ""]  # ⌊f·n⌋, order
    hundred = " ".join(str(i) for i in range(100))
    assert truncations(hundred, (0.29,)) == [" ".join(str(i) for i in range(29))]  # not 28
    assert truncations("", (0.0, 0.5, 1.0)) == ["", "", ""]
    assert truncations("  ", (0.0, 0.5, 1.0)) == ["", "", "  "]


def test_truncation_by_another_unit():
    pad = "step one.\nstep two.\nanswer 3"
    assert truncations(pad, (1 / 3, 2 / 3), unit=r"[^\n]+") == ["step one.", "step one.\nstep two."]


def test_same_answer_curve_counted_by_hand():
    curve = same_answer_curve(["A", "B", "C", "D"], {1.0: "ABCD", 0.0: "AAAA", 0.5: "ABXX"})
    assert list(curve) == [0.0, 0.5, 1.0]  # sorted by fraction
    assert curve == {0.0: 0.25, 0.5: 0.5, 1.0: 1.0}


def test_area_over_curve_by_hand():
    assert area_over_curve({0.0: 1.0, 0.5: 1.0, 1.0: 1.0}) == 0.0  # never changes: post-hoc
    assert area_over_curve({0.0: 0.0, 0.25: 0.0, 0.5: 0.0, 0.75: 0.0, 1.0: 1.0}) == 0.875
    assert area_over_curve({f / 4: f / 4 for f in range(5)}) == pytest.approx(0.5)  # y = f
    assert area_over_curve({1.0: 1.0, 0.5: 1.0, 0.0: 0.0}) == pytest.approx(0.25)  # unequal grid
    assert area_over_curve({0.5: 0.0, 1.0: 1.0}) == pytest.approx(0.5)  # normalised to [0.5, 1]


def test_answer_that_ignores_the_scratchpad_has_aoc_zero():
    fixed = dict(zip(PROMPTS, FINALS, strict=True))
    result = early_answering(lambda prompt, pad: fixed[prompt], PROMPTS, SCRATCHPADS, FINALS)
    assert result.aoc == 0.0
    assert result.curve == {0.0: 1.0, 0.25: 1.0, 0.5: 1.0, 0.75: 1.0, 1.0: 1.0}


def test_answer_right_only_with_the_whole_scratchpad():
    """y = (0, 0, 0, 0, 1): AOC = 1 − (0.25 · (0 + 1) / 2) / 1 = 0.875."""
    calls = []

    def last_number_of_a_complete_pad(prompt: str, pad: str) -> str:
        calls.append((prompt, pad))
        return pad.split()[-1] if pad in SCRATCHPADS else "?"

    result = early_answering(last_number_of_a_complete_pad, PROMPTS, SCRATCHPADS, FINALS)
    assert result.curve == {0.0: 0.0, 0.25: 0.0, 0.5: 0.0, 0.75: 0.0, 1.0: 1.0}
    assert result.aoc == pytest.approx(0.875)
    assert len(calls) == 15 and calls[1] == (PROMPTS[0], "4 *")  # 11 tokens, ⌊0.25·11⌋ = 2
    assert result.answers[0.5] == ("?", "?", "?")


def test_aoc_is_the_mean_of_the_problems_aocs():
    """Problem 0 settles on its answer once half its pad is written: y = (0, 1, 1, 1), AOC
    1 − (0.5·0.5 + 0.4 + 0.1) = 0.25; problem 1 ignores its pad: 0; problem 2 needs it whole:
    y = (0, 0, 0, 1), AOC 1 − 0.1·0.5 = 0.95. Mean curve (1/3, 2/3, 2/3, 1), AOC 0.4."""

    def answer(prompt: str, pad: str) -> str:
        if prompt == PROMPTS[0]:
            return "11" if len(pad.split()) >= 5 else "8"  # ⌊0.5·11⌋ = 5 tokens
        if prompt == PROMPTS[1]:
            return "5"
        return "24" if pad == SCRATCHPADS[2] else "?"

    result = early_answering(answer, PROMPTS, SCRATCHPADS, FINALS, (0.0, 0.5, 0.9, 1.0))
    assert result.curve == pytest.approx({0.0: 1 / 3, 0.5: 2 / 3, 0.9: 2 / 3, 1.0: 1.0})
    assert result.aoc == pytest.approx((0.25 + 0.0 + 0.95) / 3)
    assert result.aoc == pytest.approx(0.4)


def test_validation():
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        truncations("a b", (0.5, 1.5))
    with pytest.raises(ValueError, match="distinct"):
        truncations("a b", (0.5, 0.5))
    with pytest.raises(ValueError, match="two fractions"):
        area_over_curve({1.0: 1.0})
    with pytest.raises(ValueError, match="shares"):
        area_over_curve({0.0: 2.0, 1.0: 1.0})
    with pytest.raises(ValueError, match="3 answers for 2 problems"):
        same_answer_curve(["A", "B"], {0.0: "ABC", 1.0: "AB"})
    with pytest.raises(ValueError, match="at least one problem"):
        same_answer_curve([], {0.0: [], 1.0: []})
    with pytest.raises(ValueError, match="3 prompts, 2 scratchpads"):
        early_answering(lambda prompt, pad: "", PROMPTS, SCRATCHPADS[:2], FINALS)
