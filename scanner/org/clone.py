"""Git over the network for organisation scans: list a remote's tips, mirror-clone it. Hardened and bounded.

Only the scheme of the URL the user named is allowed (`protocol.allow=never` plus that one scheme:
no `ext::` commands, no redirects to other transports); no prompts; the URL comes after `--`; the
user's own credential helper and SSH setup work, and credentials in a URL are never shown. Every
call has a deadline: on timeout the whole process group is killed.
"""

from __future__ import annotations

import re
from pathlib import Path

from scanner.org.repos import redact_url
from scanner.sources.git.run import run_network_git

_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.IGNORECASE)


class GitFailed(Exception):
    """A git call that failed or ran out of time; the message is git's reason, credentials removed."""


def scheme(url: str) -> str:
    found = _SCHEME.match(url)
    return found.group(1).lower() if found else "ssh"  # git@host:org/repo is ssh


def _network_git(url: str, args: list[str], timeout: float, cwd: Path) -> bytes:
    try:
        proc = run_network_git(scheme(url), args, timeout, cwd)
    except TimeoutError as exc:
        raise GitFailed(str(exc)) from None
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.decode(errors="replace").splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"exit code {proc.returncode}"
        raise GitFailed(redact_url(reason.removeprefix("fatal: ")))
    return proc.stdout


def remote_tips(url: str, timeout: float, cwd: Path) -> dict[str, str]:
    """The remote's refs and the commits they point at (`git ls-remote`)."""
    out = _network_git(url, ["ls-remote", "--", url], timeout, cwd)
    tips: dict[str, str] = {}
    for line in out.decode(errors="replace").splitlines():
        sha, _, ref = line.partition("\t")
        if ref and not ref.endswith("^{}"):
            tips[ref] = sha
    return tips


def mirror_clone(url: str, dest: Path, timeout: float) -> None:
    """A bare mirror (every ref) into `dest`; no hooks from any template, no checkout, no submodules."""
    _network_git(url, ["clone", "--mirror", "--quiet", "--template=", "--", url, str(dest)], timeout, dest.parent)
