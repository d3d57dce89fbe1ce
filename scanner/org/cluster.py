"""Where the tasks run: a local Dask cluster of worker processes, or a scheduler the user already runs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from scanner.errors import StsleakError


def _require_distributed() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise StsleakError("organisation scans need Dask: pip install 'stsleak[org]'") from None


@contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[Any]:
    """A connected `distributed.Client`; a LocalCluster of `workers` processes when no scheduler is named."""
    _require_distributed()
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise StsleakError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        try:
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=logging.ERROR)
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()
