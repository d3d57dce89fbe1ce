"""HTML with a value split by inline tags: `AS<span>IA…</span>`, `<b>wJal</b>rXUt…`.

Syntax highlighters and rich-text editors wrap pieces of a value in inline tags. The view drops
inline tags (span, b, i, em, strong, code, a, font, mark, …; never block tags such as td or div,
which separate values) and then undoes escapes and character references (escapes.py). A tag
holding a newline is left alone, so line numbers stay those of the original.

Prefilter literals: the first two, three or four letters of a key-id prefix followed by `<`
(`AS<`, `ASI<`, `ASIA<`, …). A key id split after its first letter (`A<b>SIA…`) is not looked for:
`A<` is too common in HTML to select a blob for.
"""

from __future__ import annotations

import re

from scanner.detection.decoders.escapes import unescape
from scanner.detection.decoders.views import find_all, in_windows

_INLINE = "span|b|i|u|s|em|strong|code|a|font|mark|small|sub|sup|wbr|kbd|samp|var|tt|del|ins|abbr|q|cite"
_TAG = re.compile(rf"</?(?:{_INLINE})(?:[ \t][^<>\n]{{0,500}})?/?>", re.IGNORECASE)


def split_literals(prefixes: tuple[str, ...]) -> list[bytes]:
    return sorted({f"{prefix[:k]}<".encode() for prefix in prefixes for k in range(2, len(prefix) + 1)})


REACH = 8192  # tags are removed this far around a split prefix


def without_inline_tags(text: str) -> str:
    """The text with inline tags removed and character references decoded (same lines)."""
    if "<" not in text:
        return text
    return unescape(_TAG.sub("", text))


def tag_split_view(text: str, literals: list[str]) -> str | None:
    """Inline tags removed near each split prefix that an inline tag really follows; None if none does."""
    hits = [at for at in find_all(text, literals) if _TAG.match(text, text.index("<", at))]
    return in_windows(text, hits, REACH, without_inline_tags) if hits else None
