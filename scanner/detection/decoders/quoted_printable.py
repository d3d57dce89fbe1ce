"""Quoted-printable (e-mail bodies, `.eml` and mbox archives): `=3D` for `=`, `=XX` for any byte,
and soft line breaks (`=` at a line's end) that cut long lines at 76 columns -- through a key id,
a secret, and always through a session token.

Literals: `=3D` (every `key = value` of a QP body holds it, and a key id right after it,
`=3DASIA…`, is glued to the `D` until decoded), the `Content-Transfer-Encoding: quoted-printable`
header, and a key-id prefix cut by a soft break (`AS=\\nIA`, also in the history prefilter, since
such a text holds no plain prefix).

Where: in a MIME message, the body of each part whose header says quoted-printable (up to the
next boundary line or mbox `From ` line); in a text without that header, the whole text, but only
when it is quoted-printable throughout (every `=` starts an escape or a soft break), so the `=` of
an env file or the padding of base64 at a line's end is never read as a soft break. The view
decodes each logical line (physical lines joined by soft breaks) that holds an escape or a soft
break; a finding in it points at the line the logical line starts on. Decoding is lenient, as
binascii.a2b_qp is: a `=` not followed by two hex digits or a line break stays as it is.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable

from scanner.detection.decoders.views import Replacement, View, rewrite

_HEADER = ("uoted-printable", "UOTED-PRINTABLE")


def soft_break_literals(prefixes: tuple[str, ...]) -> list[bytes]:
    """Each key-id prefix cut by a soft line break after its first, second or third character."""
    return sorted({f"{p[:i]}={nl}{p[i:]}".encode() for p in prefixes for i in range(1, len(p))
                   for nl in ("\n", "\r\n")})


def literals(prefixes: tuple[str, ...]) -> list[bytes]:
    return sorted({b"=3D", b"=3d", *(h.encode() for h in _HEADER), *soft_break_literals(prefixes)})


# A logical line with its line break: lines ending in a soft break and the line they run on to, or
# one line holding an escape. Anchored at a line start (each line is tried once) and each
# alternative reads its lines once, so the search is linear. (The line break is part of it so that
# the decoded line maps to the line it starts on, views.rewrite.)
_LOGICAL_LINE = re.compile(r"^(?:[^\n]*=\r?\n)+[^\n]*\n?|^[^\n]*=[0-9A-Fa-f]{2}[^\n]*\n?", re.MULTILINE)


def _decoded(encoded: str) -> str:
    raw = binascii.a2b_qp(encoded.encode("latin-1", "replace"))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


_PART_HEADER = re.compile(r"content-transfer-encoding:[ \t]*quoted-printable", re.IGNORECASE)
_BODY_START = re.compile(r"\r?\n[ \t]*\r?\n")
_BODY_END = re.compile(r"^(?:--|From )", re.MULTILINE)
_NOT_AN_ESCAPE = re.compile(r"=(?![0-9A-Fa-f]{2}|\r?\n)")


HEADER_EXPRESSION = _PART_HEADER.pattern.encode()  # for Hyperscan, matched in any case (LiteralGroups)


def _segments(text: str, headers_held: bool = True) -> list[tuple[int, int]]:
    """Where the text is quoted-printable (see the module docstring). `headers_held`: False when a
    search of the text's bytes found no part header (13 ms on a 2 MB PDF not spent again)."""
    spans: list[tuple[int, int]] = []
    headers = 0  # counted as they are met: the text is searched for them once
    for header in _PART_HEADER.finditer(text) if headers_held else ():
        headers += 1
        if spans and header.start() < spans[-1][1]:
            continue
        body = _BODY_START.search(text, header.end())
        if body is None:
            continue
        end = _BODY_END.search(text, body.end())
        spans.append((body.end(), end.start() if end else len(text)))
    if headers:
        return spans
    return [] if _NOT_AN_ESCAPE.search(text) else [(0, len(text))]


def qp_view(text: str, expand: Callable[[str], str] = lambda t: t, headers_held: bool = True) -> View | None:
    """The text with each quoted-printable logical line decoded (then `expand`ed: base64 a soft
    break had cut, for instance), or None when nothing changes."""
    replacements = []
    for lo, hi in _segments(text, headers_held):
        for match in _LOGICAL_LINE.finditer(text, lo, hi):
            encoded = match.group()
            decoded = expand(_decoded(encoded))
            if decoded != encoded:
                replacements.append(Replacement(match.start(), match.end(), decoded))
    return rewrite(text, replacements) if replacements else None
