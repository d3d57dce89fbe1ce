"""A value built on a thread of its own while the caller goes on: Hyperscan compiles a database
without holding the GIL (20-50 ms), so a history scan lists the repository and a files scan lists
its work tree meanwhile. `get()` waits for it and raises what building raised."""

from __future__ import annotations

import sys
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


class Lazy(Generic[T]):
    """A Hyperscan database (or several) built once: now, on a thread of its own, for a scan that
    will read many texts (`prepare`), or at the first `get` once Hyperscan is loaded anyway (or
    `load` says to load it). `get` gives None where it is not built: no wheel, or not loaded yet (a
    pre-commit run of a few files never imports it)."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._building: Built[T] | None = None
        self._tried = False

    def prepare(self) -> None:
        if self._building is None and not self._tried and _importable():
            self._building = Built(self._build)

    def get(self, load: bool = False) -> T | None:
        if not self._tried and (self._building is not None or load or "hyperscan" in sys.modules):
            self._tried = True
            if self._building is not None:
                self._value = self._building.get()
            elif _importable():
                self._value = self._build()
        return self._value


def _importable() -> bool:
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True
