"""A value built on a thread of its own while the caller goes on: Hyperscan compiles a database
without holding the GIL (20-50 ms), so a history scan lists the repository and a files scan lists
its work tree meanwhile. `get()` waits for it and raises what building raised."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Built(Generic[T]):
    def __init__(self, build: Callable[[], T]) -> None:
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(build,), name="stsleak-compile", daemon=True)
        self._thread.start()

    def _run(self, build: Callable[[], T]) -> None:
        try:
            self._value = build()
        except BaseException as exc:  # handed to the caller in get()
            self._error = exc

    def get(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]
