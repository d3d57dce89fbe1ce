"""Decoders: credentials hidden by an encoding, one small module each.

- archives.py  zip/jar/whl, gzip, tar, tar.gz, nested (image tarballs included), with bomb limits
- base64.py    base64 runs near an encoded key-id prefix (k8s Secrets, encoded files, JSON)
- escapes.py   code/JSON/URL escapes and HTML character references (also used on every text)
- html.py      values split by inline HTML tags
- views.py     a decoded view of a text and how its lines map back to the original
- expand.py    runs them on a chunk (called by the pipeline) and lists their prefilter literals
"""
