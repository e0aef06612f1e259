"""Format shares and per-format accuracy of completions (instruments/formats.py)."""

import pytest

from regimescope.instruments.formats import format_shares, format_stats, shares


class Formatted:
    """A stand-in task: completions starting ``def`` are code, ``<`` tagged, else none."""

    formats = ("code", "tagged")

    def classify_format(self, text: str) -> str | None:
        return "code" if text.startswith("def") else "tagged" if text.startswith("<") else None


def test_format_statistics():
    formats = ["code", "code", "nl", None, "code"]
    rewards = [1.0, 0.0, 1.0, 0.0, 1.0]
    stats = format_stats(formats, rewards, ("code", "nl", "tagged"))
    assert stats == {
        "format_share/code": 0.6,
        "format_share/nl": 0.2,
        "format_share/tagged": 0.0,
        "format_share/none": 0.2,
        "format_acc/code": pytest.approx(2 / 3),
        "format_acc/nl": 1.0,
        "format_acc/none": 0.0,
    }
    assert format_stats(formats, rewards, ()) == {}
    assert format_stats([], [], ("code",)) == {}


def test_shares_sum_to_one_with_none():
    found = shares(["code", None, "code", "nl"], ["code", "nl", "tagged"])
    assert found == {"code": 0.5, "nl": 0.25, "tagged": 0.0, "none": 0.25}
    assert sum(found.values()) == 1.0


def test_format_shares_of_a_task():
    texts = ["def f", "<a>", "def g", "plain"]
    assert format_shares(Formatted(), texts) == {"code": 0.5, "tagged": 0.25, "none": 0.25}
    assert format_shares(Formatted(), []) == {}
    stats = format_stats(
        [Formatted().classify_format(t) for t in texts], [1] * 4, ("code", "tagged")
    )
    assert {k.split("/")[1]: v for k, v in stats.items() if "share" in k} == format_shares(
        Formatted(), texts
    )
