"""A cheap literal prefilter: does a buffer hold any key-id prefix at all?

Hyperscan (when its wheel is installed) runs at memory speed; otherwise one `re` whose literal
first character lets the regex engine skip ahead. Both look for the prefixes in ASCII and in
UTF-16-LE/BE so UTF-16 text is not skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable


def prefix_literals(prefixes: tuple[str, ...]) -> list[bytes]:
    literals: list[bytes] = []
    for prefix in prefixes:
        literals += [prefix.encode(), prefix.encode("utf-16-le"), prefix.encode("utf-16-be")]
    return literals


class _HyperscanPrefilter:
    def __init__(self, literals: list[bytes]) -> None:
        import hyperscan

        self._stop = hyperscan.ScanTerminated
        self._db = hyperscan.Database()
        self._db.compile(
            # Hex escapes: hyperscan reads patterns as C strings, so a NUL byte would end one.
            expressions=["".join(f"\\x{b:02x}" for b in lit).encode() for lit in literals],
            ids=list(range(len(literals))),
            elements=len(literals),
            flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(literals),
        )
        self._hit = False

    def _on_match(self, *_: object) -> bool:
        self._hit = True
        return True  # stop scanning: one hit is enough

    def __call__(self, data: bytes | memoryview) -> bool:
        self._hit = False
        try:
            self._db.scan(data, match_event_handler=self._on_match)
        except self._stop:
            pass
        return self._hit


class _RegexPrefilter:
    def __init__(self, literals: list[bytes]) -> None:
        self._search = re.compile(b"|".join(re.escape(lit) for lit in literals)).search

    def __call__(self, data: bytes | memoryview) -> bool:
        return self._search(data) is not None


def make_prefilter(prefixes: tuple[str, ...], use_hyperscan: bool = True) -> Callable[[bytes | memoryview], bool]:
    literals = prefix_literals(prefixes)
    if use_hyperscan:
        try:
            return _HyperscanPrefilter(literals)
        except ImportError:
            pass
    return _RegexPrefilter(literals)
