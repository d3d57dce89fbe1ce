"""Commit and annotated-tag messages: text people paste credentials into, scanned like blobs.

The history listing (scanner/sources/git/history.py) names every commit and tag object with its
size; the raw objects stream through the same prefilter as the blobs (blobstream.py, the same
parallel parts), so a history without a hit in any message pays only for git inflating them. An
object with a hit is read again and its message (what follows the header) becomes a chunk,
placed at the object itself: the finding's path is COMMIT_MESSAGE or TAG_MESSAGE, its commit the
commit's (or the tag object's) id, its author and date the author's (the tagger's), its line the
line in the message (`git show -s --format=%B ID`). Its blob is that same id: the object whose
bytes hold the set, which is how `is_message` tells it from a file that happens to bear the name.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from scanner.model import Finding
from scanner.sources.git.provenance import Introduction

COMMIT_MESSAGE = "(commit message)"
TAG_MESSAGE = "(tag message)"

_IDENTITY = re.compile(rb"(.*) (\d{1,15}) ([+-])(\d\d)(\d\d)")  # `Name <email> 1767225600 +0100`


def is_message(finding: Finding) -> bool:
    """A finding in a commit or tag message (its object is its commit), not in a file."""
    return finding.blob is not None and finding.blob == finding.commit


def _iso_date(stamp: int, sign: bytes, hours: bytes, minutes: bytes) -> str:
    """What `git log --format=%aI` prints for this timestamp and offset ("" when out of range)."""
    offset = timedelta(hours=int(hours), minutes=int(minutes)) * (-1 if sign == b"-" else 1)
    try:
        return datetime.fromtimestamp(stamp, timezone(offset)).isoformat()
    except (OverflowError, OSError, ValueError):
        return ""


def split_message(oid: str, kind: str, raw: bytes) -> tuple[bytes, Introduction]:
    """A commit's or tag's raw object: its message, and where a finding in it is placed."""
    head, _, message = raw.partition(b"\n\n")
    fields = dict(line.split(b" ", 1) for line in head.split(b"\n") if b" " in line and not line.startswith(b" "))
    who = fields.get(b"author" if kind == "commit" else b"tagger", b"")
    when = fields.get(b"committer" if kind == "commit" else b"tagger", b"")
    person, date, stamp = who.decode("utf-8", "replace"), "", 0
    if found := _IDENTITY.fullmatch(who):
        person = found[1].decode("utf-8", "replace")
        date = _iso_date(int(found[2]), found[3], found[4], found[5])
    if found := _IDENTITY.fullmatch(when):
        stamp = int(found[2])
    path = COMMIT_MESSAGE if kind == "commit" else TAG_MESSAGE
    return message, Introduction(path, oid, person, date, stamp)
