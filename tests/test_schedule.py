"""The scheduler that runs several studies' stages and analyses on one pool."""

from concurrent.futures import Future

import pytest

from regimescope.executor import Analyse, Outcome, Plan, Train, dispatch, schedule
from regimescope.executor.schedule import run_studies


class Instant:
    """A pool of ``workers`` whose jobs end at once; a job's run folder is /store/<config>.
    ``held`` jobs come back held the first time; ``broken`` jobs fail."""

    def __init__(self, workers: int, held=(), broken=()) -> None:
        self.workers, self.held, self.broken, self.sent = workers, set(held), set(broken), []

    def submit(self, job) -> Future:
        self.sent.append(job)
        key = job.config if isinstance(job, Train) else job.study
        future = Future()
        if key in self.broken:
            future.set_exception(RuntimeError(f"{key} failed"))
        else:
            future.set_result(Outcome(job, key in self.held, f"/store/{key}", "trained"))
        self.held.discard(key)
        return future


def three_stages() -> Plan:
    """a0, then a1 from a0's model, then a2 from a1's."""
    return Plan(
        ("a0",),
        lambda models: [f"a1<{models['a0']}"],
        (lambda models: [f"a2<{models['a1</store/a0/model']}"],),
    )


def sent_names(pool: Instant) -> list[str]:
    return [j.config if isinstance(j, Train) else f"analyse {j.study}" for j in pool.sent]


def test_each_stage_starts_from_the_models_of_the_one_before():
    pool = Instant(workers=1)
    run_studies({"A": three_stages()}, {"A": Analyse("A", "quick")}, pool, lambda o: None)
    assert sent_names(pool) == [
        "a0",
        "a1</store/a0/model",
        "a2</store/a1</store/a0/model/model",
        "analyse A",
    ]


def test_a_study_analyses_while_another_still_trains():
    pool, reported = Instant(workers=2), []
    plans = {"A": three_stages(), "B": Plan(("b0",))}
    analyses = {name: Analyse(name, "quick") for name in plans}
    done = run_studies(plans, analyses, pool, reported.append)
    names = sent_names(pool)
    assert names.index("analyse B") < names.index("a2</store/a1</store/a0/model/model")
    assert names.index("analyse A") == len(names) - 1
    assert sorted(done) == ["A", "B"] and done["B"].path == "/store/B"
    assert len(reported) == len(pool.sent)


def test_a_run_two_studies_share_is_trained_once_and_waited_on_by_both():
    pool = Instant(workers=2)
    plans = {"A": Plan(("shared",)), "B": Plan(("shared",), lambda models: ["b1"])}
    run_studies(plans, {n: Analyse(n, "quick") for n in plans}, pool, lambda o: None)
    assert sent_names(pool).count("shared") == 1
    assert sent_names(pool)[0] == "shared" and {"analyse A", "analyse B", "b1"} <= set(
        sent_names(pool)
    )


def test_a_held_run_is_sent_again_and_its_study_waits_for_it(monkeypatch):
    monkeypatch.setattr(dispatch, "HELD_RETRY_S", 0.0)
    pool = Instant(workers=1, held={"a0"})
    run_studies({"A": three_stages()}, {"A": Analyse("A", "quick")}, pool, lambda o: None)
    assert sent_names(pool)[:2] == ["a0", "a0"] and sent_names(pool)[-1] == "analyse A"


def test_a_failed_run_raises_and_its_study_is_not_analysed():
    pool = Instant(workers=1, broken={"a0"})
    with pytest.raises(RuntimeError, match="a0 failed"):
        run_studies({"A": three_stages()}, {"A": Analyse("A", "quick")}, pool, lambda o: None)
    assert sent_names(pool) == ["a0"]


def test_a_study_without_runs_is_analysed_at_once_and_train_only_needs_no_analysis():
    pool = Instant(workers=1)
    done = run_studies({"P": Plan(), "T": Plan(("t0",))}, {"P": Analyse("P", "quick")}, pool, print)
    assert sent_names(pool) == ["t0", "analyse P"] and list(done) == ["P"]


def test_a_study_that_reads_anothers_samples_analyses_after_it():
    pool = Instant(workers=2)
    plans = {
        "A": Plan(("shared", "a-long")),
        "B": Plan(("shared",), after=("A",)),
        "C": Plan(("shared",)),
        "D": Plan(("d0",), after=("not in this run",)),
    }
    run_studies(plans, {n: Analyse(n, "quick") for n in plans}, pool, lambda o: None)
    names = sent_names(pool)
    assert names.index("analyse A") < names.index("analyse B")
    a, b, c = (schedule.Track([], Analyse(n, "quick"), after=plans[n].after) for n in "ABC")
    tracks = {"A": a, "B": b, "C": c}
    assert schedule.held_back(b, tracks, analysed={})
    assert not schedule.held_back(b, tracks, analysed={"A": "its outcome"})
    assert not schedule.held_back(c, tracks, analysed={})  # sharing a run is not enough
    assert not schedule.held_back(b, {"B": b}, analysed={})  # A is not in this run
