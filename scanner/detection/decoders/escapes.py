"""Escapes inside values: code and JSON string escapes, URL-encoding, HTML character references.

    \\/  \\"  \\'  \\\\  \\n \\t \\r     ->  /  "  '  \\  (space)
    \\x2F  \\u002F  \\u{2F}  \\U0000002F  \\057   ->  /
    %2F %22 %3A … (every %XX)          ->  / " : …   and + -> space in a URL-encoded query value
    &#x2F;  &#47;  &sol; &plus; &equals; &quot; &apos; &lt; &gt; &amp;  ->  / / / + = " ' < > &

Decoding never adds or removes a real newline (an escaped one becomes a space), so the line
numbers of the decoded text are those of the original.

Percent-encoding is decoded whole, so a key id right after an encoded quote (`%22ASIA…`) stands
alone once decoded. A `+` is a space only in a query or form value that is URL-encoded (holds a
`%XX` and no raw `/`, which an encoder would have encoded): a console federation sign-in URL
carries a whole JSON session (`Session=%7B%22sessionId%22%3A+%22ASIA…`) that way, while a raw
token's `+` elsewhere stays a `+`.

An escaped key id holds no literal `ASIA`, so the prefilters look for an escaped first letter
instead: every key-id prefix starts with `A`, and `ESCAPED_A` lists its escaped spellings. The
literal is that escaped "A" followed by a prefix's second character plain, or by its second and
third characters escaped the same way (`%41S`, `%41%53%49`, `\\x41\\x4b\\x49`): an escaped "A" alone
is everywhere in URL-encoded and binary text, and so is `%41%42` (107 of psf/requests' 114 history
blobs read again had nothing else). A key id is therefore
found when its first character is escaped (as encoders that escape every character do); one whose
first character is plain but a later one escaped (`AS\\x49A…`) only when the text also holds a plain
key-id prefix somewhere.
"""

from __future__ import annotations

import re
from functools import lru_cache

from scanner.detection.decoders.views import find_all, in_windows

_ESCAPE = re.compile(
    # Every branch starts with a literal, so `re` jumps between the three first characters instead of
    # trying a match at every position (3x faster on source code: curl's history, 20 MB of hit blobs).
    r"\\\\(?:\\\\)*"  # escaped backslashes: a run of pairs is one match (each pair -> one backslash)
    r"|\\(?:u00([0-9a-fA-F]{2})|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|u\{0{0,6}([0-9a-fA-F]{1,6})\}"
    r"|U([0-9a-fA-F]{8})|([0-3][0-7]{2})|([/\"'])|[nrt])"
    r"|%([0-9A-Fa-f]{2})"
    r"|&#(?:[xX]0{0,6}([0-9a-fA-F]{1,6})|0{0,6}([0-9]{1,7}));"
    r"|&(sol|plus|equals|quot|apos|lt|gt|amp|num|percnt|colon|lowbar);"
)
_NAMED = {"sol": "/", "plus": "+", "equals": "=", "quot": '"', "apos": "'", "lt": "<", "gt": ">", "amp": "&",
          "num": "#", "percnt": "%", "colon": ":", "lowbar": "_"}
_HEX_GROUPS = (1, 2, 3, 4, 5, 9)  # groups holding a hex code point
# What else escapes turn into, for the plain reading's gate (detection/gate.py): named references,
# the backslash escapes that are not codes, and the characters a code turns into a blank.
NAMED_REFERENCES = dict(_NAMED)
BACKSLASH_LETTERS = {"n": " ", "r": " ", "t": " ", "/": "/", '"': '"', "'": "'"}
BLANKED = "\r\n\x0b\x0c\x85\u2028\u2029"  # codes of these become a space (never a new line)
_MARKERS = ("\\", "%", "&")

# The escaped spellings of "A" (0x41) the prefilters look for (see the module docstring), each with
# how the same escape spells another character: {h} its hex code, {o} octal, {d} decimal.
_SPELLINGS = {"\\x41": "\\x{h}", "\\u0041": "\\u00{h}", "\\u{41}": "\\u{{{h}}}", "\\U00000041": "\\U000000{h}",
              "\\101": "\\{o}", "&#x41;": "&#x{h};", "&#X41;": "&#X{h};", "&#65;": "&#{d};", "%41": "%{h}"}
ESCAPED_A = tuple(_SPELLINGS)


def _char(code: int) -> str:
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    char = chr(code)
    return " " if char in BLANKED else char  # never a new line


def _unescape_one(match: re.Match[str]) -> str:
    for group in _HEX_GROUPS:
        if match.group(group) is not None:
            return _char(int(match.group(group), 16))
    octal, literal, url, decimal, named = (match.group(i) for i in (6, 7, 8, 10, 11))
    if octal is not None:
        return _char(int(octal, 8))
    if decimal is not None:
        return _char(int(decimal))
    if literal is not None:
        return literal
    if url is not None:
        return _char(int(url, 16))
    if named is not None:
        return _NAMED[named]
    return " "  # \n \r \t inside a string literal: a separator, not a line break


@lru_cache(maxsize=4096)
def _decoded(escape: str) -> str:
    """What one escape (a whole match of _ESCAPE other than a run of backslashes) stands for: a match's
    text alone decides it, so each distinct spelling is worked out once however often it repeats."""
    match = _ESCAPE.fullmatch(escape)
    return _unescape_one(match) if match else escape


def _replace(match: re.Match[str]) -> str:
    escape = match.group()
    if escape.startswith("\\\\"):  # a run of escaped backslashes, however long: one call
        return "\\" * (len(escape) // 2)
    return _decoded(escape)


# A query or form parameter's value: after "?", "&" or ";" (`&amp;`), a name, "=". Linear: a match
# starts only at one of those three characters (a literal first character, which `re` jumps to),
# its name is bounded and its value is one character class with nothing after it.
_QUERY_VALUE = re.compile(r"[?&;][\w.~-]{1,128}=([^\s&#\"'<>]+)")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")


def _plus_as_space(match: re.Match[str]) -> str:
    value = match.group(1)
    if "+" not in value or "/" in value or not _PERCENT.search(value):
        return match.group()
    return match.group()[:match.start(1) - match.start()] + value.replace("+", " ")


QUERY_MARKS = ("+", "%", "=")  # a text without all three has no `+` unescape() makes a space


def query_plus_as_space(text: str) -> str:
    """`+` as a space in the URL-encoded query and form values of the text (see the docstring)."""
    if not all(mark in text for mark in QUERY_MARKS):
        return text
    return _QUERY_VALUE.sub(_plus_as_space, text)


def unescape(text: str) -> str:
    """Undo the escapes above. Repeated (at most three times) for strings inside strings, as in
    Jupyter notebooks, for URLs inside URLs (%252F -> %2F -> /) and for `&amp;#x2F;`."""
    text = query_plus_as_space(text)
    for _ in range(3):
        if not any(marker in text for marker in _MARKERS):
            break
        decoded = _ESCAPE.sub(_replace, text)
        if decoded == text:
            break
        text = decoded
    return text


def _spelled(char: str, form: str) -> set[str]:
    """`char` escaped as `form` spells it (hex digits in either case)."""
    code = ord(char)
    return {form.format(h=hex_code, o=f"{code:03o}", d=code) for hex_code in (f"{code:02X}", f"{code:02x}")}


# A string escaped again (JSON in JSON, a notebook's source) doubles every backslash at each level
# (`\\u0041\\u0053`, then `\\\\u0041…`): the escaped "A" is found inside its doubled form, and the
# next escape follows 1, 2 or 4 backslashes (unescape() undoes three levels).
_AGAIN = ("", "\\", "\\" * 3)


def escaped_literals(prefixes: tuple[str, ...]) -> list[bytes]:
    """An escaped "A" and then a prefix's second character plain, or its second and third escaped
    alike (the third plain or escaped), also with the backslashes of a string escaped again."""
    literals: set[str] = set()
    for tail in {prefix[1:3] for prefix in prefixes if prefix[:1] == "A"}:
        for a, form in _SPELLINGS.items():
            if not tail:  # a one-letter prefix: the escaped "A" is all there is
                literals.add(a)
                continue
            literals.add(a + tail[0])
            for again in _AGAIN if a.startswith("\\") else ("",):
                for second in _spelled(tail[0], form):
                    thirds = {tail[1:], *(again + third for third in _spelled(tail[1], form))} if tail[1:] else {""}
                    literals |= {a + again + second + third for third in thirds}
    return sorted(literal.encode() for literal in literals)


REACH = 8192  # an escaped key id is unescaped this far around it (its parts stand within 4,096)


def escaped_key_view(text: str, prefixes: tuple[str, ...]) -> str | None:
    """The text unescaped around each escaped "A" that starts a key-id prefix (same lines);
    None when no escaped "A" does."""
    hits = [at for at in find_all(text, list(ESCAPED_A)) if unescape(text[at:at + 64]).startswith(prefixes)]
    return in_windows(text, hits, REACH, unescape) if hits else None
