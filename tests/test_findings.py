"""Findings: finished study folders copied under findings/ and read beside the store."""

import json
from pathlib import Path

import pytest

from regimescope.cli import main
from regimescope.commands.publish import findings_table
from regimescope.errors import BadInput
from regimescope.findings import finding_folders, publish
from regimescope.report.collect import collect_studies
from regimescope.studies import run_study
from tests.test_study_framework import TOY

REPO = Path(__file__).resolve().parents[1]


def test_publish_copies_the_small_outputs_and_nothing_else(store, tmp_path):
    _, run = run_study(TOY, "quick", seeds=2)
    target = publish(run.path, tmp_path / "findings")
    assert target == tmp_path / "findings" / "toy" / "quick"
    names = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert names == {
        "study.json",
        "verdict.json",
        "config.json",
        "meta.json",
        "complete.json",
        "tables/numbers.csv",
        "figures/line.png",
        "figures/captions.json",
    }
    assert finding_folders(tmp_path / "findings") == [target]
    (run.path / "complete.json").unlink()
    with pytest.raises(BadInput, match="not a finished study folder"):
        publish(run.path, tmp_path / "again")
    assert not (tmp_path / "again").exists()


def test_the_report_reads_findings_beside_an_empty_store_and_marks_them(store, tmp_path):
    _, run = run_study(TOY, "quick", seeds=2)
    shelf = publish(run.path, tmp_path / "findings").parent.parent
    empty = tmp_path / "elsewhere"
    [record] = collect_studies(empty, findings=shelf, current={"toy": "another-code"})
    assert record.source == "findings" and record.stale
    out = tmp_path / "out"
    assert main(["report", str(empty), "--findings", str(shelf), "--out", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert "committed finding" in html
    summary = json.loads((out / "verdicts.json").read_text())
    assert [(s["name"], s["from"]) for s in summary] == [("toy", "findings")]


def test_publish_command_takes_only_todays_code_and_says_what_the_store_holds(
    store, tmp_path, monkeypatch, capsys
):
    from regimescope import studies

    monkeypatch.setattr(studies, "STUDIES", {"toy": TOY})
    shelf = tmp_path / "findings"
    argv = ["publish", "toy", "--scale", "quick", "--store", str(store), "--findings", str(shelf)]
    assert main(argv) == 2
    assert "it holds: none" in capsys.readouterr().err
    run_study(TOY, "quick")
    assert main(argv) == 0
    assert (shelf / "toy" / "quick" / "complete.json").is_file()
    assert main(["publish", "nope", "--store", str(store)]) == 2
    assert main(["findings", "--findings", str(tmp_path / "absent")]) == 2
    assert "no findings folder" in capsys.readouterr().err


def test_publish_takes_the_registered_design_not_a_later_run_with_overrides(
    store, tmp_path, monkeypatch, capsys
):
    from regimescope import studies

    monkeypatch.setattr(studies, "STUDIES", {"toy": TOY})
    shelf = tmp_path / "findings"
    argv = ["publish", "toy", "--scale", "quick", "--store", str(store), "--findings", str(shelf)]
    run_study(TOY, "quick", sets=["effect=0.5"])
    assert main(argv) == 2
    assert "it holds: quick (overridden)" in capsys.readouterr().err
    run_study(TOY, "quick")
    run_study(TOY, "quick", sets=["effect=0.7"])  # newer, but not the design
    assert main(argv) == 0
    assert json.loads((shelf / "toy" / "quick" / "config.json").read_text())["effect"] == 0.2


def test_the_committed_findings_are_marked_where_their_code_has_changed():
    """Every committed finding is read; the report marks exactly those made by other code."""
    from regimescope.commands.study import current_codes
    from regimescope.report.html import render
    from regimescope.studies import STUDIES

    shelf = REPO / "findings"
    folders = finding_folders(shelf)
    assert folders, "findings/ holds no finished study"
    current = current_codes(STUDIES)
    records = collect_studies(REPO / "no-store-here", findings=shelf, current=current)
    html = render(records, REPO / "out")
    for record in records:
        changed = record.study["code"] != current.get(record.study["name"])
        assert record.stale == changed
        if changed:
            assert f"{record.study['scale']} (committed, stale)" in html


def test_the_readme_findings_table_is_the_committed_findings(monkeypatch):
    """README.md's Findings table is what `regimescope findings` prints (regenerate it)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- findings:start -->\n", "\n<!-- findings:end -->"
    table = readme[readme.index(start) + len(start) : readme.index(end)]
    monkeypatch.chdir(REPO)  # the table links folders relative to the repository root
    expected = findings_table(Path("findings"))
    assert table == expected, "README's Findings table is out of date: `regimescope findings`"
