"""Split values: rebuild a value written in pieces, so detection reads it whole.

    "ASIAJ4JX" +            ('FQoGZXIvYXdz…'        export AWS_SESSION_TOKEN="FQoGZXIvYXdz…\\
        "GQ3EXAMPLE"          'EHcaDK1ab…')        EHcaDK1ab…"

Java/JS/C#/Go concatenation (`"a" + "b"`, the `+` at either line end), Python/C implicit
concatenation of adjacent literals on following lines (`'a'\\n 'b'`) and backslash-newline
continuation (shell, Python) are removed when a value character stands on both sides. The
newlines of a removed joint are put back right after the rebuilt value, so every line keeps its
number: a part of a rebuilt value is reported at the line its first piece starts on.
"""

from __future__ import annotations

import re

VALUE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+=")
# Linear: each alternative opens with a literal, and no two neighbouring repeats share a character.
_JOINT = re.compile(
    r"([\"'])[ \t]*(?:\r?\n[ \t]*)?\+[ \t]*(?:\r?\n[ \t]*)?\1"  # "a" + "b"
    r"|([\"'])[ \t]*\r?\n[ \t]*\2"  # 'a'\n 'b'
    r"|\\\r?\n[ \t]*"  # a\<newline>b
)
_RUN = re.compile(r"[A-Za-z0-9/+=]*")


# Where a joint may open: a quote or backslash, blanks, then "+" or a newline. A search with a
# leading character class runs in C; each candidate is then checked by one anchored match.
_TRIGGER = re.compile(r"[\"'\\][ \t]*(?:\+|\r?\n)")


def _joints(text: str) -> list[tuple[int, int]]:
    size, joints, last = len(text), [], 0
    for trigger in _TRIGGER.finditer(text):
        a = trigger.start()
        if a < last or a == 0 or text[a - 1] not in VALUE_CHARS:
            continue
        m = _JOINT.match(text, a)
        if m and m.end() < size and text[m.end()] in VALUE_CHARS and text[m.end()] != "=":
            joints.append((a, m.end()))
            last = m.end()
    return joints


def join_split_values(text: str) -> str:
    """The text with split values rebuilt; the same number of newlines, each in the same order."""
    if "+" not in text and "\n" not in text:
        return text
    joints = _joints(text)
    if not joints:
        return text
    out: list[str] = []
    pos, pending = 0, 0
    for i, (a, b) in enumerate(joints):
        out.append(text[pos:a])
        pending += text.count("\n", a, b)
        run_end = _RUN.match(text, b).end()  # type: ignore[union-attr]
        pos = b
        if i + 1 < len(joints) and joints[i + 1][0] == run_end:
            continue  # the value goes on in a further piece
        out.append(text[b:run_end])
        out.append("\n" * pending)
        pos, pending = run_end, 0
    out.append(text[pos:])
    return "".join(out)
