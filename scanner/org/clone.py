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


# What git adds after the reason whatever it was: not the reason.
_BOILERPLATE = (
    "fatal: Could not read from remote repository.",
    "Please make sure you have the correct access rights",
    "and the repository exists.",
)
_PREFIXES = ("fatal: ", "error: ")
_NOISE = re.compile(r"^(Cloning into |warning: |hint: |remote: (Enumerating|Counting|Compressing|Total) )")
_MAX_REASON = 500


def failure_reason(stderr: str, returncode: int) -> str:
    """git's reason for a failed call: every line that says why (the `remote:` message, the fatal or
    error line and what continues it, an ssh complaint), without the boilerplate git appends
    ("Could not read from remote repository. Please make sure ...") or progress; credentials removed."""
    lines = [line.strip() for line in stderr.splitlines()]
    reasons: list[str] = []
    for line in lines:
        if not line or line in _BOILERPLATE or _NOISE.match(line):
            continue
        text = line.removeprefix(_PREFIXES[0]).removeprefix(_PREFIXES[1])
        if reasons and reasons[-1].endswith(":") and not line.startswith(_PREFIXES):
            reasons[-1] = f"{reasons[-1]} {text}"  # "unable to connect to host:" + "host[0: ...]: errno=..."
        elif text not in reasons:
            reasons.append(text)
    if not reasons:  # only boilerplate: better than nothing
        reasons = [line for line in lines if line][-1:]
    reason = redact_url("; ".join(reasons) or f"exit code {returncode}")
    return reason if len(reason) <= _MAX_REASON else reason[:_MAX_REASON - 3] + "..."


def _network_git(url: str, args: list[str], timeout: float, cwd: Path) -> bytes:
    try:
        proc = run_network_git(scheme(url), args, timeout, cwd)
    except TimeoutError as exc:
        raise GitFailed(str(exc)) from None
    if proc.returncode != 0:
        raise GitFailed(failure_reason(proc.stderr.decode(errors="replace"), proc.returncode))
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
