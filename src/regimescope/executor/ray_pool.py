"""Jobs as Ray tasks: a local Ray instance bound to the loopback address, or an existing
cluster whose address the user gives (``--address``).

Loopback. Ray binds its servers (GCS, raylet and object manager, each worker's gRPC
server, the runtime-env agent) to 127.0.0.1 only when the node's IP is exactly 127.0.0.1,
and on Linux it replaces a 127.0.0.1 it is given by the machine's address (then every
server listens on all interfaces) unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, the
switch that keeps a laptop's Ray on loopback. So the local default sets that and
``RAY_USAGE_STATS_ENABLED=0`` before Ray is imported, starts Ray with
``_node_ip_address="127.0.0.1"`` and no dashboard, and checks that the node it got is on
127.0.0.1. A cluster's address comes only from the user, and then neither switch is set
(a driver on loopback could not be reached from the cluster's nodes).

A worker process that dies (killed, out of memory) has its task retried
(``MAX_RETRIES``); the retry resumes the run from its last checkpoint. A job's own error
is not retried: it is the driver's to report.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from concurrent.futures import Future

from regimescope.errors import BadInput
from regimescope.executor.jobs import Analyse, Outcome, Place, Train, run_job
from regimescope.executor.pools import threads_per_worker

LOOPBACK_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
LOOPBACK_IP = "127.0.0.1"
MAX_RETRIES = 3  # times a task whose worker process died is run again


def import_ray(local: bool):
    """The ray module, imported after the environment that keeps it local and quiet."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    if local:
        if "ray" in sys.modules and os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER") != "0":
            raise BadInput(
                "ray was imported before the loopback switch could be set; "
                "set RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 before importing it"
            )
        os.environ.update(LOOPBACK_ENV)
    try:
        import ray
    except ImportError:
        raise BadInput("the ray executor needs Ray: pip install 'regimescope[ray]'") from None
    return ray


def start_local(ray, cpus: int) -> None:
    """A local Ray instance of ``cpus`` CPUs on 127.0.0.1, no dashboard; checked."""
    ray.init(
        num_cpus=cpus,
        _node_ip_address=LOOPBACK_IP,
        include_dashboard=False,
        logging_level=logging.WARNING,
    )
    addresses = {node["NodeManagerAddress"] for node in ray.nodes()}
    if addresses != {LOOPBACK_IP}:
        ray.shutdown()
        raise RuntimeError(f"Ray's node is on {sorted(addresses)}, not only {LOOPBACK_IP}")


class RayPool:
    """``workers`` jobs at once as Ray tasks of ``threads`` CPUs each."""

    def __init__(self, place: Place, workers: int, address: str | None = None) -> None:
        self.ray = ray = import_ray(local=address is None)
        self.workers = workers
        if ray.is_initialized():  # a caller's own Ray (a test's cluster): used as it is
            threads = max(1, int(ray.cluster_resources().get("CPU", 1)) // workers)
            self.owned = False
        elif address is None:
            threads = threads_per_worker(workers)
            start_local(ray, workers * threads)
            self.owned = True
        else:
            ray.init(address=address, logging_level=logging.WARNING)
            threads = max(1, int(ray.cluster_resources().get("CPU", 1)) // workers)
            self.owned = True
        self.place = dataclasses.replace(place, threads=threads)
        self.task = ray.remote(run_on_node).options(num_cpus=threads, max_retries=MAX_RETRIES)

    def submit(self, job: Train | Analyse) -> Future:
        future: Future = Future()
        ref = self.task.remote(job, self.place)
        ref.future().add_done_callback(lambda done: relay(done, future))
        return future

    def close(self) -> None:
        if self.owned:
            self.ray.shutdown()


def run_on_node(job: Train | Analyse, place: Place) -> Outcome:
    """``run_job`` as a Ray task; the outcome names the node (host/node ID) that ran it."""
    import ray

    outcome = run_job(job, place)
    node = ray.get_runtime_context().get_node_id()[:8]
    return dataclasses.replace(outcome, host=f"{outcome.host}/{node}")


def relay(done: Future, future: Future) -> None:
    """Pass a Ray future's result on, with a task's own error unwrapped from Ray's."""
    error = done.exception()
    if error is None:
        future.set_result(done.result())
    else:
        future.set_exception(getattr(error, "cause", None) or error)
