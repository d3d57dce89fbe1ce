"""Git over the network for organisation scans: list a remote's tips, mirror-clone it. Hardened and bounded.

Only the scheme of the URL the user named is allowed (`protocol.allow=never` plus that one scheme:
no `ext::` commands, no redirects to other transports); no prompts; the URL comes after `--`; the
user's own credential helper and SSH setup work, and credentials in a URL are never shown. Every
call has a deadline: on timeout the whole process group is killed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

from scanner.org.repos import redact_url
from scanner.sources.git.run import git_path

_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.IGNORECASE)


class GitFailed(Exception):
    """A git call that failed or ran out of time; the message is git's reason, credentials removed."""


def scheme(url: str) -> str:
    found = _SCHEME.match(url)
    return found.group(1).lower() if found else "ssh"  # git@host:org/repo is ssh


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in ("GIT_SSH_COMMAND", "GIT_SSH")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM=os.environ.get("GIT_CONFIG_NOSYSTEM", "0"))
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    return env


def run_bounded(cmd: list[str], timeout: float, cwd: Path | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run a command in its own process group; kill the whole group when `timeout` runs out."""
    if timeout <= 0:
        raise GitFailed("timed out")
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise GitFailed(f"timed out after {timeout:.0f} s") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _network_git(url: str, args: list[str], timeout: float, cwd: Path) -> bytes:
    cmd = [git_path(), "-c", "protocol.allow=never", "-c", f"protocol.{scheme(url)}.allow=always",
           "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", *args]
    proc = run_bounded(cmd, timeout, cwd=cwd, env=_env())
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
