"""Blob-stream offset arithmetic (scanner/sources/git/blobstream.py): where each object starts in
`git cat-file --batch` output, how the blob list is cut into parts, and the part reader's overlap
(a literal split across two reads is still found, and maps back to its blob)."""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import threading

import pytest

from scanner.detection.prefilter import make_prefilter
from scanner.sources.git import blobstream
from scanner.sources.git.blobstream import BlobList, _header_starts, _PartReader, _split, hit_blobs
from tests.support.cli import GitRepo

PREFIXES = ("ASIA", "AKIA", "ABIA", "ACCA")


def _blob_list(sizes: list[int], width: int = 40) -> BlobList:
    blobs = BlobList()
    blobs.extend([(size, f"{i:0{width}x}".encode()) for i, size in enumerate(sizes)])
    return blobs


def _stream(blobs: BlobList, datas: list[bytes]) -> bytes:
    return b"".join(blobs.oid(i).encode() + b" blob %d\n" % len(d) + d + b"\n" for i, d in enumerate(datas))


def test_header_starts_match_real_cat_file_output(repo: GitRepo, rng: random.Random) -> None:
    datas = [b"", b"x", rng.randbytes(999), b"\n" * 10, rng.randbytes(12345)]
    oids = []
    for i, data in enumerate(datas):
        repo.write(f"f{i}", data)
        oids.append(repo.git("hash-object", "-w", f"f{i}").strip())
    blobs = BlobList()
    blobs.extend([(len(d), oid.encode()) for d, oid in zip(datas, oids, strict=True)])
    out = subprocess.run(["git", "-C", str(repo.path), "cat-file", "--batch"], input="".join(o + "\n" for o in oids)
                         .encode(), capture_output=True, check=True).stdout
    starts = _header_starts(blobs, 0, len(blobs))
    assert len(starts) == len(datas) + 1 and starts[-1] == len(out)
    for i, oid in enumerate(oids):
        assert out[starts[i]:starts[i] + 41] == (oid + " ").encode()
    # A sub-range's offsets start at 0: each part is its own stream.
    assert list(_header_starts(blobs, 2, 4)) == [s - starts[2] for s in starts[2:5]]


@pytest.mark.parametrize(("sizes", "parts", "expected"), [
    ([10, 20, 30], 4, [(0, 3)]),  # under the split threshold: one git process
    ([4 << 20] * 4, 1, [(0, 4)]),
    ([4 << 20] * 4, 2, [(0, 2), (2, 4)]),
    ([4 << 20] * 4, 4, [(0, 1), (1, 2), (2, 3), (3, 4)]),
    ([4 << 20] * 3, 8, [(0, 1), (1, 2), (2, 3)]),  # never an empty part
    ([16 << 20, 1, 1, 1], 2, [(0, 1), (1, 4)]),
])
def test_split_table(sizes: list[int], parts: int, expected: list[tuple[int, int]]) -> None:
    assert _split(_blob_list(sizes), parts) == expected


def test_split_is_contiguous_and_about_equal(rng: random.Random) -> None:
    sizes = [rng.randrange(1, 1 << 20) for _ in range(400)]
    got = _split(_blob_list(sizes), 4)
    assert got[0][0] == 0 and got[-1][1] == len(sizes)
    assert all(a[1] == b[0] and a[0] < a[1] for a, b in itertools.pairwise(got))
    totals = [sum(sizes[lo:hi]) for lo, hi in got]
    assert max(totals) - min(totals) <= 2 * max(sizes)


def _read_through_pipe(stream: bytes, starts, chunks: list[int], use_hyperscan: bool) -> list[int]:
    """Feed `stream` to a part reader through a real pipe, written in the given chunk sizes."""
    prefilter = make_prefilter(PREFIXES, use_hyperscan)
    rfd, wfd = os.pipe()

    def write() -> None:
        pos = 0
        with os.fdopen(wfd, "wb", buffering=0) as out:
            for size in [*chunks, len(stream)]:
                if pos >= len(stream):
                    break
                out.write(stream[pos:pos + size])
                pos += size

    writer = threading.Thread(target=write)
    writer.start()
    reader = _PartReader(rfd, starts, prefilter.buffer_scanner(), prefilter.longest, 1 << 16)
    reader.run()
    writer.join()
    os.close(rfd)
    assert reader.error is None and reader.read == len(stream)
    return reader.hits


@pytest.mark.parametrize("use_hyperscan", [True, False], ids=["hyperscan", "fallback"])
def test_part_reader_finds_literals_split_across_reads(rng: random.Random, use_hyperscan: bool) -> None:
    datas = []
    for i in range(60):
        data = bytearray(rng.choice(b"ABCIKS \n") for _ in range(rng.randrange(0, 3000)))
        if i % 3 == 0 and data:
            at = rng.randrange(len(data))
            data[at:at] = rng.choice([b"ASIA", b"AKIA", "ACCA".encode("utf-16-le")])
        datas.append(bytes(data).replace(b"ASIA", b"ASXA") if i % 3 else bytes(data))
    blobs = _blob_list([len(d) for d in datas])
    stream = _stream(blobs, datas)
    starts = _header_starts(blobs, 0, len(blobs))
    truth = [i for i, d in enumerate(datas) if any(p in d for p in (b"ASIA", b"AKIA", b"ABIA", b"ACCA",
                                                                     "ACCA".encode("utf-16-le")))]
    # Reads cut every few bytes (a literal straddles almost every cut), then in big pieces.
    for chunks in ([rng.randrange(1, 7) for _ in range(len(stream))], [rng.randrange(1, 70_000) for _ in range(99)]):
        assert sorted(set(_read_through_pipe(stream, starts, chunks, use_hyperscan))) == truth


def test_hit_blobs_same_with_both_engines_on_a_real_repo(repo: GitRepo, rng: random.Random) -> None:
    oids, sizes = [], []
    for i in range(30):
        body = rng.randbytes(rng.randrange(0, 5000)).replace(b"AS", b"as").replace(b"AK", b"ak")
        if i % 4 == 0:
            body += b" ASIA"
        repo.write(f"b{i}", body)
        oids.append(repo.git("hash-object", "-w", f"b{i}").strip())
        sizes.append(len(body))
    blobs = BlobList()
    blobs.extend([(size, oid.encode()) for size, oid in zip(sizes, oids, strict=True)])
    hits = {engine: hit_blobs(str(repo.path), blobs, make_prefilter(PREFIXES, engine), 2) for engine in (True, False)}
    assert hits[True] == hits[False] == list(range(0, 30, 4))
    assert sum(sizes) < blobstream._SPLIT_MIN_BYTES  # one part here: the split itself is tested above


def test_pieces_come_back_in_order_whichever_git_finishes_first(repo: GitRepo, rng: random.Random,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Many pieces, two processes at a time: a process that ends early takes the next piece, yet the
    caller gets each piece's hits in list and object order, and `rest` once everything is read."""
    monkeypatch.setattr(blobstream, "_SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(blobstream, "_PIECE_MIN_BYTES", 1)
    lists = [BlobList(), BlobList()]
    truth: list[list[int]] = [[], []]
    for which, count in ((0, 40), (1, 9)):
        oids, sizes = [], []
        for i in range(count):
            # Uneven sizes: the pieces (cut by bytes) hold very different numbers of objects.
            body = rng.randbytes(rng.choice((10, 200, 60_000))).replace(b"AS", b"as").replace(b"AK", b"ak")
            if rng.random() < 0.3:
                body += b" ASIA"
                truth[which].append(i)
            repo.write(f"l{which}/b{i}", body)
            oids.append(repo.git("hash-object", "-w", f"l{which}/b{i}").strip())
            sizes.append(len(body))
        lists[which].extend([(size, oid.encode()) for size, oid in zip(sizes, oids, strict=True)])
    for engine in (True, False):
        results = [blobstream.Streamed(), blobstream.Streamed()]
        pieces = list(blobstream.stream_pieces(str(repo.path), lists, make_prefilter(PREFIXES, engine), 2,
                                               results=results))
        assert len(pieces) > 4
        assert [(p.which, i) for p in pieces for i in p.hits] == [(w, i) for w in (0, 1) for i in truth[w]]
        assert [r.hits for r in results] == truth
        # `rest` is given once nothing is left to read (never sooner), and then to every piece after.
        known = [n for n, p in enumerate(pieces) if p.rest is not None]
        assert known == list(range(known[0], len(pieces))) if known else True
        assert all(pieces[n].rest == sum(len(q.hits) for q in pieces[n:]) for n in known)
