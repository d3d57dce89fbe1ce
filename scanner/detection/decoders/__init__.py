"""Decoders: credentials hidden by an encoding, one small module each.

- archives.py  zip/jar/whl, tar, gzip/xz/lzma/bzip2 (and tars in them), nested (image tarballs
               included); damaged archives scanned as far as they open, then their raw bytes
- budget.py    the limits against bombs and how a limit that stopped content is counted
- tar.py       a tar reader that trusts no size a header claims
- compressed.py one gzip/xz/lzma/bzip2 stream, decompressed on demand, never raising on damage
- zips.py      zip members (CRC checked after, unzip's way); local headers when the directory is gone
- strings.py   the printable runs of binary bytes (what `strings` shows): binary files, unopenable archives
- base64.py    base64 runs near an encoded key-id prefix (k8s Secrets, encoded files, JSON; URL-safe,
               UTF-16LE, base64 or gzip inside base64: Helm releases)
- quoted_printable.py  e-mail bodies (`=3D`, soft line breaks)
- escapes.py   code/JSON/URL escapes (every %XX) and HTML character references (also used on every text)
- html.py      values split by inline HTML tags
- views.py     a decoded view of a text and how its lines map back to the original
- expand.py    runs them on a chunk (called by the pipeline), recursively within MAX_DEPTH levels, and
               lists their prefilter literals
"""
