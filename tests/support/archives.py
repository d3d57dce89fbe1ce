"""What the archive tests share: zips and tars built in memory with the standard library, and a files-mode
scan of a directory under given archive limits."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

from scanner.detection.decoders.archives import ArchiveLimits
from scanner.detection.rules import load_ruleset
from scanner.model import Finding, ScanMode
from scanner.pipeline import ScanRequest, run_scan


def zip_of(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def tar_of(members: dict[str, bytes], mode: str = "w") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def scan_files(root: Path, **limits: int) -> tuple[list[Finding], dict[str, int]]:
    """A files-mode scan of root: (findings sorted by path, skipped counts)."""
    request = ScanRequest(mode=ScanMode.FILES, paths=(root,), archive_limits=ArchiveLimits(**limits))
    result = run_scan(request, load_ruleset())
    return sorted(result.findings, key=lambda f: f.path or ""), result.stats.skipped
