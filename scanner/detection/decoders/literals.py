"""Which groups of decoder literals (and of the plain reading's gate expressions) occur in a buffer, cheaply.

Small scans (a pre-commit run) use one `bytes.find` per literal: no import, no compile. Once a
scan has looked at more than HYPERSCAN_AFTER bytes (or Hyperscan is loaded already, as in a
history scan), one Hyperscan database (when its wheel is
installed) finds every literal of every group in a single pass at memory speed.

Expressions (`expressions`: the plain reading's gate, detection/gate.py) are searched only in that
database: before it is built, or without Hyperscan, `present` leaves their groups out and says so
with UNSEARCHED, and the gate looks for them itself.
"""

from __future__ import annotations

from scanner.detection.background import Lazy

HYPERSCAN_AFTER = 512 << 10  # about what importing Hyperscan and compiling the literals cost
HYPERSCAN_AFTER_TEXTS = 16  # or after this many texts: each costs a `find` per literal (~330) without it
UNSEARCHED = "unsearched"  # in `present`: the expressions' groups were not looked for

Expression = tuple[bytes, bool]  # a Hyperscan expression and whether it is matched in any case


class Present(set[str]):
    """The groups a buffer holds; `literals`, when Hyperscan searched it, the literals themselves (a
    decoder then looks for those alone: a 2 MB text is not searched for 30 literals it lacks)."""

    literals: frozenset[bytes] | None = None


class LiteralGroups:
    def __init__(self, groups: dict[str, list[bytes]], expressions: dict[str, list[Expression]] | None = None) -> None:
        self._groups = groups
        self._expressions = expressions or {}
        self._owner = [name for name, lits in groups.items() for _ in lits]
        self._owner += [name for name, exprs in self._expressions.items() for _ in exprs]
        self._literal = [lit for lits in groups.values() for lit in lits]  # by id; expressions have none
        self._seen = self._texts = 0
        self._db: Lazy[object] = Lazy(self._compile)  # the compiled database's scan

    def prepare(self) -> None:
        """Compile the database now, on a thread of its own, for a scan that will read many texts
        (a history, a directory): it is ready by the time they come. Without Hyperscan, nothing."""
        self._db.prepare()

    def _compile(self) -> object:
        return compile_database([(hex_literal(lit), False) for lits in self._groups.values() for lit in lits]
                                + [e for exprs in self._expressions.values() for e in exprs]).scan  # type: ignore[attr-defined]

    def present(self, data: bytes) -> Present:
        self._seen += len(data)
        self._texts += 1
        scan = self._db.get(load=self._seen > HYPERSCAN_AFTER or self._texts > HYPERSCAN_AFTER_TEXTS)
        if scan is None:
            held = Present(name for name, lits in self._groups.items() if any(lit in data for lit in lits))
            if self._expressions:
                held.add(UNSEARCHED)
            return held
        found, hits = Present(), []
        owner, literals = self._owner, len(self._literal)

        def on_match(index: int, _start: int, _end: int, _flags: int, _ctx: object) -> None:
            found.add(owner[index])
            if index < literals:
                hits.append(index)

        scan(data, match_event_handler=on_match)  # type: ignore[operator]
        found.literals = frozenset(self._literal[i] for i in hits)
        return found


def hex_literal(literal: bytes) -> bytes:
    """A literal as a Hyperscan expression: hex escapes (it reads patterns as C strings, so a NUL byte
    would end one)."""
    return "".join(f"\\x{b:02x}" for b in literal).encode()


def compile_database(expressions: list[Expression], spans: bool = False) -> object:
    """One Hyperscan database of the expressions (each matched in any case or not): one report per
    expression, or with `spans` every match and where it starts."""
    import hyperscan

    mode = hyperscan.HS_FLAG_SOM_LEFTMOST if spans else hyperscan.HS_FLAG_SINGLEMATCH
    db = hyperscan.Database()
    db.compile(expressions=[expression for expression, _ in expressions], ids=list(range(len(expressions))),
               elements=len(expressions),
               flags=[mode | hyperscan.HS_FLAG_CASELESS if any_case else mode for _, any_case in expressions])
    return db
