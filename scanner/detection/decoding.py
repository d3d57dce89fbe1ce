"""Turn a chunk's bytes into the text detection reads.

Decoding never adds or removes a real newline, so line numbers in the decoded text are the
line numbers of the original.
"""

from __future__ import annotations

import codecs

from scanner.detection.decoders.escapes import unescape

__all__ = ["to_text", "unescape"]  # unescape lives with the other decoders (decoders/escapes.py)


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


def _encoding(data: bytes) -> tuple[str, int] | None:
    """The codec a text is read with and the length of its byte order mark; None for binary data."""
    for bom, name in _BOMS:  # UTF-32-LE's BOM starts with UTF-16-LE's: longest first
        if data.startswith(bom) and (len(data) % 4 == 0 if name.startswith("utf-32") else b"\x00" in data):
            return name, len(bom)
    encoding = _looks_utf16(data)
    if encoding:
        return encoding, 0
    if data.find(b"\x00", 0, 8192) >= 0:
        return None
    return "latin-1", 0


def is_binary(data: bytes) -> bool:
    """What to_text calls binary (None), without decoding: a NUL in the first 8 KiB of data that is
    not UTF-16 or UTF-32."""
    return data.find(b"\x00", 0, 8192) >= 0 and _encoding(data) is None


def is_latin1_text(data: bytes) -> bool:
    """Whether to_text reads the data byte for byte (as Latin-1): not binary, not UTF-16 or UTF-32.
    Data without a NUL byte always is (every other reading needs one: a UTF-32 BOM holds two)."""
    return b"\x00" not in data or _encoding(data) == ("latin-1", 0)


def to_text(data: bytes) -> str | None:
    """Decoded text, or None for binary data.

    A UTF-32 or UTF-16 byte order mark decides, whatever the first characters are (CJK text has
    no NUL bytes to go by) -- for UTF-16 when a NUL follows anywhere: UTF-16 holding any ASCII (a
    credential) holds NULs, and bytes FF FE also open Latin-1 text. UTF-16 without BOM is
    recognised by its NUL pattern; anything else is
    read as Latin-1, which maps every byte to one character: invalid UTF-8 never fails and ASCII
    credentials keep their offsets.
    """
    found = _encoding(data)
    if found is None:
        return None
    name, skip = found
    if name == "latin-1":
        return data.decode("latin-1")
    return data[skip:].decode(name, errors="replace")
