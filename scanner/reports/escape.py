"""Text from a scanned repository (file names, authors, messages), made safe to print.

Control characters would let a file name move the cursor, recolour or clear the terminal, or
start a new line that looks like stsleak's own ("at …"); bidirectional overrides would reorder
what the reader sees. They are shown as escapes, like git's quotePath: `\\n`, `\\t`, `\\x1b`,
`\\u202e`; a backslash is doubled so that an escape cannot be faked. JSON and SARIF carry the
exact text (JSON escapes it itself).
"""

from __future__ import annotations

import re

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
# C0 controls, DEL, C1 controls; bidi embeddings, overrides, isolates and marks; line/paragraph
# separators; the backslash itself.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\\\\]")


def _one(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    return _UNSAFE.sub(_one, text)
