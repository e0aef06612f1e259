"""Studies in child processes: the scheduler, the plugin registry and ``demo --jobs``."""

import json
import os
import sys
from pathlib import Path

import pytest

from regimescope.commands.parallel import child_env, run_children
from regimescope.errors import BadInput
from regimescope.studies import plugin_studies

ROOT = Path(__file__).resolve().parent.parent  # the repository (tests/ is a package in it)


def sleeper(mark: Path, seconds: float) -> list[str]:
    """A child that records its start and end times in ``mark`` around a sleep."""
    code = (
        "import sys, time; start = time.time(); print('started', file=sys.stderr, flush=True);"
        f"time.sleep({seconds}); open({str(mark)!r}, 'w').write(f'{{start}} {{time.time()}}')"
    )
    return [sys.executable, "-c", code]


def test_run_children_runs_at_most_jobs_at_once(tmp_path):
    marks = [tmp_path / f"child{i}" for i in range(4)]
    commands = {f"c{i}": sleeper(mark, 1.0) for i, mark in enumerate(marks)}
    lines = []
    done = run_children(commands, 2, dict(os.environ), lambda n, line: lines.append((n, line)))
    assert sorted(done) == sorted(commands) and all(c.returncode == 0 for c in done.values())
    spans = [tuple(map(float, mark.read_text().split())) for mark in marks]
    overlap = max(sum(s <= t < e for s, e in spans) for t, _ in spans)  # children alive at a start
    assert overlap == 2
    assert sorted(lines) == [(f"c{i}", "started") for i in range(4)]


def test_run_children_stops_launching_after_a_failure(tmp_path):
    failing = [sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"]
    commands = {"bad": failing, "never": sleeper(tmp_path / "never", 0.0)}
    done = run_children(commands, 1, dict(os.environ))
    assert list(done) == ["bad"] and done["bad"].returncode == 3 and done["bad"].tail == ["boom"]
    assert not (tmp_path / "never").exists()


def test_child_env_pins_the_thread_count():
    env = child_env(3)
    assert env["OMP_NUM_THREADS"] == "3" and env["MKL_NUM_THREADS"] == "3"


def test_plugin_studies_load_and_bad_names_are_refused():
    (study,) = plugin_studies(" tests.toy_study ,")
    assert study.name == "plugin-toy"
    with pytest.raises(BadInput, match="'no_such_module', which fails to import"):
        plugin_studies("no_such_module")
    with pytest.raises(BadInput, match="'json', which has no Study `STUDY`"):
        plugin_studies("json")


def test_demo_with_jobs_runs_studies_in_child_processes(store, tmp_path, monkeypatch, capsys):
    from regimescope import studies
    from regimescope.cli import main
    from tests import toy_study

    monkeypatch.setattr(studies, "STUDIES", {"plugin-toy": toy_study.STUDY})
    monkeypatch.setenv("REGIMESCOPE_STUDY_MODULES", "tests.toy_study")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "out"
    assert main(["demo", "--jobs", "2", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "plugin-toy: measuring the toy" in captured.err  # the child's progress, relayed
    assert json.loads((out / "verdicts.json").read_text())[0]["verdict"] == "supports"
    assert main(["demo", "--jobs", "2", "--out", str(out)]) == 0
    assert "(reused)" in capsys.readouterr().out
    assert main(["demo", "--jobs", "0"]) == 2
    assert "jobs must be a positive integer, got 0" in capsys.readouterr().err
