"""Inline allow comments: a line holding a marker silences the credential sets with a part on it."""

from __future__ import annotations

ALLOW_MARKERS = ("stsleak:allow", "pragma: allowlist secret")


def line_text(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start : end if end >= 0 else len(text)]


def allowed_by_marker(text: str, positions: list[int]) -> bool:
    """True when the line of any of these positions (a set's parts) holds an allow marker."""
    return any(marker in line_text(text, pos) for pos in positions for marker in ALLOW_MARKERS)
