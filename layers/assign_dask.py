"""``assign`` on a Dask cluster: the same chunks, through the same function, on the workers.

This process (the driver) reads the file, checks its columns and writes the output, exactly as
:func:`layers.assign.assign_file` does alone; the workers run :func:`layers.assign.assign_chunk`
on each chunk with the one :class:`~layers.assign.AssignJob` (locator, level codes, routing
tables), shipped to every worker once. Results are written in input order as they come back, with
a bounded number of chunks in flight, so memory stays bounded whatever the size of the file.

The cluster is a :class:`distributed.LocalCluster` on this machine, or a running scheduler
(``tcp://host:8786``); there, the scheduler and every worker need the project and its requirements,
since tasks name :func:`~layers.assign.assign_chunk` rather than carry its code, and the driver
must reach the workers (chunks and results go straight between them). Only the driver opens the
files and the store.
"""

from __future__ import annotations

import importlib.util
import os
from collections import deque
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from layers.assign import AssignedChunk, AssignJob, ChunkRunner, assign_chunk
from layers.errors import ClusterError
from layers.tabular import Chunk, LazyChunk

if TYPE_CHECKING:
    from distributed import Client

#: Workers of the cluster started on this machine (one process each, one thread each).
LOCAL_WORKERS = 2
#: Seconds to reach a scheduler, and for a reached one to have a worker.
CONNECT_TIMEOUT_S = 10.0


@contextmanager
def dask_client(address: str | None = None, *, n_workers: int = LOCAL_WORKERS) -> Iterator[Client]:
    """A client of a new local cluster (``address`` None) or of the scheduler at ``address``.

    The local cluster (``n_workers`` processes of one thread) is closed on leaving; a running
    scheduler and its workers are left running.

    Raises
    ------
    ClusterError
        The scheduler cannot be reached, has no worker, or its workers cannot import the project.
    """
    from distributed import Client, LocalCluster

    if address is None:
        # One thread per worker for the compiled locate kernel too: the workers share the cores.
        with (
            LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                # Its web server on a free port: another cluster may hold the usual one.
                dashboard_address=":0",
                env={"NUMBA_NUM_THREADS": "1"},
            ) as local,
            Client(local, direct_to_workers=True) as client,
        ):
            _check_workers(client, where="the local cluster")
            yield client
        return
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, direct_to_workers=True)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(
            f"cannot reach a Dask scheduler at {address!r} ({exc}); start one with `dask scheduler` "
            "and give its address, like tcp://HOST:8786"
        ) from exc
    with client:
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except TimeoutError as exc:
            raise ClusterError(
                f"the Dask scheduler at {address} has no workers; start some with `dask worker {address}`"
            ) from exc
        _check_workers(client, where=f"the Dask cluster at {address}")
        yield client


def _check_workers(client: Client, *, where: str) -> None:
    """The scheduler and every worker can import the chunk function: tasks name it, they do not
    carry its code, and the scheduler unpickles the tasks too."""
    module = assign_chunk.__module__
    for who, ask in (("its scheduler", client.run_on_scheduler), ("its workers", client.run)):
        try:
            found = ask(importlib.util.find_spec, module)
        except ImportError as exc:
            reason = f"{who}: {exc}"
            break
        if found is None or (isinstance(found, dict) and None in found.values()):
            reason = f"{who}: not found"
            break
    else:
        return
    raise ClusterError(
        f"{where} cannot import {module} ({reason}); install the project's requirements on every "
        "machine of the cluster and start the scheduler and the workers in the project's folder "
        "with the folder on the path: PYTHONPATH=. dask scheduler, PYTHONPATH=. dask worker ADDRESS"
    )


def worker_pids(client: Client) -> dict[str, int]:
    """Process id of each worker, by address (for measuring their memory)."""
    return {str(k): int(v) for k, v in client.run(os.getpid).items()}


def cluster_runner(client: Client, *, in_flight: int | None = None) -> ChunkRunner:
    """A :data:`layers.assign.ChunkRunner` that assigns the chunks on ``client``'s workers.

    The job is scattered to every worker once; each chunk is sent as it is read, with at most
    ``in_flight`` chunks (by default two per worker thread) sent and not yet written, and the
    results come back in input order.
    """

    def run(job: AssignJob, chunks: Iterator[Chunk | LazyChunk]) -> Generator[AssignedChunk, None, None]:
        limit = in_flight or 2 * max(sum(client.nthreads().values()), 1)
        job_f = client.scatter(job, broadcast=True, hash=False)
        pending: deque[Any] = deque()
        try:
            for chunk in chunks:
                chunk_f = client.scatter(chunk, hash=False)
                pending.append(client.submit(assign_chunk, job_f, chunk_f, pure=False))
                del chunk_f  # released on the worker once its task has run
                while len(pending) >= limit:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            client.cancel([*pending, job_f])

    return run
