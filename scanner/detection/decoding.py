"""Turn a chunk's bytes into the text detection reads.

Decoding never adds or removes a real newline, so line numbers in the decoded text are the
line numbers of the original.
"""

from __future__ import annotations

import codecs
import re

_ESCAPE = re.compile(r"\\(?:u00([0-9a-fA-F]{2})|([/\"'\\])|[nrt])|%(2[Ff]|2[Bb]|3[Dd]|25)")
_URL = {"2f": "/", "2b": "+", "3d": "=", "25": "%"}


def _unescape_one(match: re.Match[str]) -> str:
    hex_code, literal, url = match.group(1), match.group(2), match.group(3)
    if hex_code is not None:
        char = chr(int(hex_code, 16))
        return " " if char in "\r\n" else char
    if literal is not None:
        return literal
    if url is not None:
        return _URL[url.lower()]
    return " "  # \n \r \t inside a string literal: a separator, not a line break


def unescape(text: str) -> str:
    """Undo JSON/code string escapes (\\/, \\", \\n, \\u002F) and URL-encoding of / + = (and %).

    Repeated (at most three times) for strings inside strings, as in Jupyter notebooks, and for
    URLs inside URLs (%252F -> %2F -> /).
    """
    for _ in range(3):
        if "\\" not in text and "%" not in text:
            break
        decoded = _ESCAPE.sub(_unescape_one, text)
        if decoded == text:
            break
        text = decoded
    return text


def _looks_utf16(data: bytes) -> str | None:
    head = data[:4096]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and b"\x00" in head:
        # A BOM alone is not proof (bytes FF FE open Latin-1 garbage too); UTF-16 holding any ASCII
        # (a credential, a newline) holds NUL bytes, and UTF-16 without one holds no credential.
        return "utf-16"
    if len(head) >= 8:
        odd_nuls = head[1::2].count(0)
        even_nuls = head[0::2].count(0)
        if odd_nuls > 0.4 * len(head) / 2 and even_nuls == 0:
            return "utf-16-le"
        if even_nuls > 0.4 * len(head) / 2 and odd_nuls == 0:
            return "utf-16-be"
    return None


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def to_text(data: bytes) -> str | None:
    """Decoded text, or None for binary data.

    A UTF-32 or UTF-16 byte order mark decides, whatever the first characters are (CJK text has
    no NUL bytes to go by) -- for UTF-16 when a NUL follows anywhere: UTF-16 holding any ASCII (a
    credential) holds NULs, and bytes FF FE also open Latin-1 text. UTF-16 without BOM is
    recognised by its NUL pattern; anything else is
    read as Latin-1, which maps every byte to one character: invalid UTF-8 never fails and ASCII
    credentials keep their offsets.
    """
    for bom, name in _BOMS:  # UTF-32-LE's BOM starts with UTF-16-LE's: longest first
        if data.startswith(bom) and (len(data) % 4 == 0 if name.startswith("utf-32") else b"\x00" in data):
            return data[len(bom):].decode(name, errors="replace")
    encoding = _looks_utf16(data)
    if encoding:
        return data.decode(encoding, errors="replace")
    if b"\x00" in data[:8192]:
        return None
    return data.decode("latin-1")
