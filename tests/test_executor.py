"""The executor: plans, held runs, the shared-store check, local processes, ``demo``."""

import json
import os
from concurrent.futures import Future
from pathlib import Path

import pytest

from regimescope import executor as ex
from regimescope.errors import BadInput
from regimescope.executor import Analyse, Executor, Outcome, StoreNotShared, Train
from regimescope.executor.jobs import run_job, store_place
from regimescope.executor.plans import PLANS, study_plan
from regimescope.store import RunDir, RunHeld, skip_held
from regimescope.studies import STUDIES, plugin_studies, study_config
from tests.sweep import executed

ROOT = Path(__file__).resolve().parent.parent  # the repository (tests/ is a package in it)
# studies whose plan(cfg) names the bases a tuned run waits for
SEEDED = {"instruction-tuning", "rl-catalyst", "capability-origin", "same-score"}


def placeholder(name: str, base) -> str:
    """The model folder a study's own ``experiment.plan(cfg)`` writes for a base not trained."""
    return f"(model of the seed-{getattr(base, 'seed', '')} base)" if name in SEEDED else ""


@pytest.mark.parametrize("name", sorted(PLANS))
@pytest.mark.parametrize("scale", ["smoke", "quick", "full"])
def test_every_plan_holds_the_runs_of_the_studys_own_plan(name, scale):
    import importlib

    config = study_config(STUDIES[name], scale)
    module = STUDIES[name].run.__module__
    expected = importlib.import_module(f"{module}.experiment").plan(config)
    plan = study_plan(name, config)
    tuned = plan.then({base: placeholder(name, base) for base in plan.first})
    assert sorted(map(repr, [*plan.first, *tuned])) == sorted(map(repr, expected))
    tuned = plan.then({base: f"model {i}" for i, base in enumerate(plan.first)})
    assert len(set(tuned)) == len(tuned) and not set(tuned) & set(plan.first)


def test_a_study_without_a_plan_trains_itself():
    assert study_plan("plugin-toy", None).first == ()


def test_skip_held_raises_instead_of_waiting(tmp_path):
    run = RunDir(tmp_path / "held")
    # a second open file: its flock conflicts as another process's would
    with run.exclusive(), skip_held(), pytest.raises(RunHeld), run.exclusive():
        pass
    with skip_held(), run.exclusive():  # free again: taken at once
        pass


class Scripted:
    """A pool whose jobs end at once; ``held`` jobs come back held the first time."""

    def __init__(self, held: set) -> None:
        self.held, self.sent, self.workers = set(held), [], 1

    def submit(self, job) -> Future:
        self.sent.append(job)
        future = Future()
        future.set_result(Outcome(job, held=job in self.held))
        self.held.discard(job)
        return future


def test_a_held_job_is_sent_again_after_the_others(monkeypatch):
    monkeypatch.setattr(ex.dispatch, "HELD_RETRY_S", 0.0)
    pool, reported = Scripted(held={"a"}), []
    done = ex.run_jobs(["a", "b", "c"], pool, lambda outcome: reported.append(outcome.job))
    assert pool.sent == ["a", "b", "c", "a"] and reported == ["b", "c", "a"]
    assert sorted(done) == ["a", "b", "c"]


def test_a_worker_that_does_not_see_the_store_fails_before_training(tmp_path):
    place = store_place(tmp_path / "runs", threads=1)
    assert (tmp_path / "runs" / ".store-id").read_text().strip() == place.store_id
    assert store_place(tmp_path / "runs", threads=1) == place  # the ID is kept
    job = Train(study_config(STUDIES["rl-weights"], "smoke").base)
    other = place.__class__(str(tmp_path / "elsewhere"), place.store_id, place.cwd, 1)
    with pytest.raises(StoreNotShared, match="elsewhere/.store-id is not there"):
        run_job(job, other)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / ".store-id").write_text("another\n")
    with pytest.raises(StoreNotShared, match="holds another store's ID.*shared by every worker"):
        run_job(job, other)
    assert list((tmp_path / "elsewhere").iterdir()) == [tmp_path / "elsewhere" / ".store-id"]


def test_the_driver_refuses_a_run_missing_from_its_store(tmp_path):
    lost = Outcome(Train("cfg"), False, str(tmp_path / "rl" / "x"), "trained", 1.0, "node2")
    with pytest.raises(StoreNotShared, match="node2 trained .* not complete in this store"):
        ex.checked(lost)
    assert ex.checked(Outcome(Analyse("s", "quick"), False, "nowhere")).path == "nowhere"


def test_bad_executor_options_are_one_line():
    with pytest.raises(BadInput, match="unknown executor 'slurm'; choose from: inline, local, ray"):
        Executor("slurm")
    with pytest.raises(BadInput, match="workers must be a positive integer, got 0"):
        Executor("local", 0)
    with pytest.raises(BadInput, match="inline executor has one worker"):
        Executor("inline", 2)
    with pytest.raises(BadInput, match="--address needs --executor ray"):
        Executor("local", 2, "10.0.0.1:6379")


@pytest.mark.slow  # 30 s; the local pool also runs in the demo test below, Ray in its own
def test_local_processes_train_the_plan_and_the_study_only_analyses(tmp_path, inline_sweep):
    store = tmp_path / "runs"
    verdict, outcomes, trained, after = executed(Executor("local", 2), store)
    assert len(outcomes) == 7 and {o.detail for o in outcomes} == {"trained"}
    assert len({o.host for o in outcomes}) == 1 and all(o.seconds > 0 for o in outcomes)
    assert after == trained and len(trained) == 7  # the study trained nothing new
    assert verdict == inline_sweep


def test_study_command_with_a_bad_executor_is_one_line(capsys):
    from regimescope.cli import main

    assert main(["study", "rl-weights", "--executor", "dask"]) == 2
    assert "unknown executor 'dask'; choose from: inline, local, ray" in capsys.readouterr().err


def test_plugin_studies_load_and_bad_names_are_refused():
    (study,) = plugin_studies(" tests.toy_study ,")
    assert study.name == "plugin-toy"
    with pytest.raises(BadInput, match="'no_such_module', which fails to import"):
        plugin_studies("no_such_module")
    with pytest.raises(BadInput, match="'json', which has no Study `STUDY`"):
        plugin_studies("json")


def test_demo_with_jobs_runs_studies_on_local_workers(store, tmp_path, monkeypatch, capsys):
    from regimescope import studies
    from regimescope.cli import main
    from tests import toy_study

    monkeypatch.setattr(studies, "STUDIES", {"plugin-toy": toy_study.STUDY})
    monkeypatch.setenv("REGIMESCOPE_STUDY_MODULES", "tests.toy_study")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "out"
    assert main(["demo", "--jobs", "2", "--out", str(out)]) == 0
    assert "studies: supports study/plugin-toy-" in capsys.readouterr().err  # one line a job
    assert json.loads((out / "verdicts.json").read_text())[0]["verdict"] == "supports"
    assert main(["demo", "--executor", "local", "--workers", "2", "--out", str(out)]) == 0
    assert "(reused)" in capsys.readouterr().out
    assert main(["demo", "--jobs", "0"]) == 2
    assert "jobs must be a positive integer, got 0" in capsys.readouterr().err
    assert main(["demo", "--jobs", "2", "--executor", "ray"]) == 2
    assert "give one or the other" in capsys.readouterr().err


def test_workers_share_the_cores_unless_the_user_set_omp_num_threads(monkeypatch):
    from regimescope.executor.pools import threads_per_worker

    monkeypatch.setattr("os.cpu_count", lambda: 8)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert [threads_per_worker(n) for n in (1, 2, 3, 16)] == [8, 4, 2, 1]
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads_per_worker(1) == threads_per_worker(2) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert threads_per_worker(2) == 4
