"""The ray executor, on this machine only: a local Ray of 2 CPUs and a two-node cluster
(``ray.cluster_utils.Cluster``, as Ray's own tests build one), every socket of both on
127.0.0.0/8, a worker killed mid-job, and the same verdict as the study run inline."""

import dataclasses
import faulthandler
import os
import signal
import subprocess
import sys
import threading

import psutil
import pytest

from regimescope.executor.ray_pool import LOOPBACK_ENV

os.environ.update(LOOPBACK_ENV)  # before Ray is imported: it reads them once
ray = pytest.importorskip("ray")

from regimescope.executor import Executor, StoreNotShared, Train  # noqa: E402
from tests.loopback import off_loopback, started_here  # noqa: E402
from tests.sweep import executed  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
DEADLINE_S = 300  # a hung Ray ends the test run with every thread's traceback
TASK_TITLE = "ray::run_on_node"  # a Ray worker's process title while it runs a job


@pytest.fixture(autouse=True)
def deadline():
    faulthandler.dump_traceback_later(DEADLINE_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def stopped(processes: list[psutil.Process]) -> bool:
    """Whether every one of ``processes`` has ended (waiting up to 60 s)."""
    _, alive = psutil.wait_procs(processes, timeout=60)
    return not alive


def test_the_loopback_check_finds_a_listener_on_every_interface():
    code = "import socket, sys; s = socket.socket(); s.bind(('0.0.0.0', 0)); s.listen();"
    code += "print(s.getsockname()[1], flush=True); sys.stdin.read()"
    argv = [sys.executable, "-c", code]
    with subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as child:
        try:
            port = child.stdout.readline().strip()
            found = off_loopback(started_here())
        finally:
            child.kill()
    assert any(f"LISTEN on 0.0.0.0:{port}" in line for line in found)


def test_local_ray_trains_the_plan_on_loopback_then_the_study_only_analyses(tmp_path, inline_sweep):
    seen, processes, names = [], [], set()
    before = {p.pid for p in started_here()}  # e.g. multiprocessing's resource tracker

    def watch() -> None:
        processes[:] = [p for p in started_here() if p.pid not in before]
        names.update(p.name() for p in processes)
        seen.extend(off_loopback(processes))

    verdict, outcomes, trained, after = executed(Executor("ray", 2), tmp_path / "runs", watch)
    assert {"gcs_server", "raylet"} <= names
    assert seen == []  # GCS, raylet, workers, agents: all on 127.0.0.0/8
    assert stopped(processes)  # ray.shutdown() ended everything it started
    assert len(outcomes) == 7 and {o.detail for o in outcomes} == {"trained"}
    assert after == trained and verdict == inline_sweep


@pytest.fixture(scope="module")
def two_nodes():
    """A head and a second node of one CPU each, on 127.0.0.1, with this process connected."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address)
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


def kill_first_job(killed: list[int], done: threading.Event) -> None:
    """Kill (SIGKILL) the first Ray worker seen running a job, mid-job."""
    while not done.wait(0.05):
        for process in started_here():
            try:
                if process.cmdline()[:1] == [TASK_TITLE] or process.name() == TASK_TITLE:
                    process.send_signal(signal.SIGKILL)
                    killed.append(process.pid)
                    return
            except psutil.NoSuchProcess:
                continue


def test_two_nodes_finish_the_plan_when_a_worker_is_killed(tmp_path, inline_sweep, two_nodes):
    assert {n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]} == {"127.0.0.1"}
    killed, done, seen = [], threading.Event(), []
    killer = threading.Thread(target=kill_first_job, args=(killed, done), daemon=True)
    killer.start()
    try:
        verdict, outcomes, trained, after = executed(
            Executor("ray", 2), tmp_path / "runs", lambda: seen.extend(off_loopback(started_here()))
        )
    finally:
        done.set()
        killer.join()
    assert killed and seen == []
    assert len(outcomes) == 7 and len({o.host for o in outcomes}) == 2  # both nodes ran jobs
    assert after == trained and verdict == inline_sweep


def test_a_ray_worker_that_does_not_see_the_store_fails_with_the_plain_error(tmp_path, two_nodes):
    from regimescope.executor.jobs import store_place
    from regimescope.executor.ray_pool import RayPool
    from regimescope.studies import STUDIES, study_config

    pool = RayPool(store_place(tmp_path / "runs", threads=1), workers=2)  # the fixture's Ray
    pool.place = dataclasses.replace(pool.place, store_id="another store")
    job = Train(study_config(STUDIES["rl-weights"], "smoke").base)
    with pytest.raises(StoreNotShared, match="holds another store's ID"):
        pool.submit(job).result(timeout=120)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [".store-id"]
