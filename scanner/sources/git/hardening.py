"""What every git process stsleak starts is told, so that a scanned repository's own config can
neither run a program nor reach the network (README, "Scanning untrusted repositories").

The repository's `.git/config` (and whatever it includes) is written by whoever handed us the
repository. Command-line `-c` settings beat it, so each setting of git's documentation (`git help
config`) that names a program, a hook or a network transport is overridden here; settings with a
free subsection name (`filter.<driver>.clean`, `diff.<driver>.textconv`, ...) are found by listing
the repository's config keys first (listing config runs nothing). The environment adds what has
no config key: no terminal prompt, no askpass, no protocol at all (`GIT_ALLOW_PROTOCOL` empty
beats every `protocol.*.allow`), no lazy fetch of a partial clone's missing objects, no replace
refs (they would let a repository show other content for a blob than the blob holds), no grafts
(`info/grafts` gives commits other parents than they have: a `--since` range would lose commits,
and a blob would be placed at the wrong commit).

The user's own global and system config and environment stay in force (safe.directory, an
index file given by a hook): they are the user's, not the repository's.
"""

from __future__ import annotations

import re

# Fixed keys: value git is told instead of the repository's.
FIXED: tuple[tuple[str, str], ...] = (
    ("core.fsmonitor", "false"),  # a hook command run by every command that reads the index
    ("core.useBuiltinFSMonitor", "false"),
    ("core.hooksPath", "/dev/null"),  # no hook can be found (our commands run none anyway)
    ("core.pager", "cat"),
    ("core.editor", "false"),
    ("sequence.editor", "false"),
    ("core.askPass", ""),
    ("core.sshCommand", "false"),
    ("core.gitProxy", "none"),
    ("core.alternateRefsCommand", ""),
    ("credential.helper", ""),  # an empty value clears the list of helpers
    ("diff.external", ""),
    ("log.showSignature", "false"),  # would run gpg.program on every signed commit
    ("gpg.program", "false"),
    ("gpg.openpgp.program", "false"),
    ("gpg.x509.program", "false"),
    ("gpg.ssh.program", "false"),
    ("gpg.ssh.defaultKeyCommand", "false"),
    ("protocol.allow", "never"),  # a partial clone's lazy fetch, or any transport at all
    *((f"protocol.{name}.allow", "never") for name in ("file", "git", "ssh", "http", "https", "ext")),
    ("uploadpack.packObjectsHook", ""),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("color.ui", "never"),
    ("color.diff", "never"),
    ("log.mailmap", "false"),
    ("core.quotePath", "true"),
)

# Keys with a free subsection that name a program: `section.<anything>.key` (lower case, as
# `git config --list --name-only` prints section and key names).
_PROGRAM_KEY = re.compile(
    r"(?:filter\..+\.(?:clean|smudge|process)"
    r"|diff\..+\.(?:textconv|command)"
    r"|merge\..+\.driver"
    r"|credential\..+\.helper"
    r"|protocol\..+\.allow"
    r"|remote\..+\.(?:uploadpack|receivepack|proxy|vcs)"
    r"|(?:difftool|mergetool|man|browser)\..+\.(?:cmd|path)"
    r"|pager\..+"
    r"|http\..*proxy)"
)
_VALUE = {"protocol": "never", "pager": "false"}

ENV_SET = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "",  # set and empty: no askpass program (core.askPass and SSH_ASKPASS are skipped)
    "SSH_ASKPASS": "",
    "GIT_ALLOW_PROTOCOL": "",  # set and empty: no transport is allowed, whatever the config says
    "GIT_NO_LAZY_FETCH": "1",  # git >= 2.45; protocol.allow=never does it for older git
    "GIT_NO_REPLACE_OBJECTS": "1",
    "GIT_GRAFT_FILE": "/dev/null",  # info/grafts is never read (scanner/sources/git/borrowed.py notes it)
    "GIT_PAGER": "cat",
    "GIT_OPTIONAL_LOCKS": "0",  # read-only commands do not rewrite the index
}
ENV_UNSET = ("GIT_EXTERNAL_DIFF", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_PROXY_COMMAND", "GIT_EDITOR",
             "GIT_SEQUENCE_EDITOR")


def fixed_args() -> list[str]:
    args: list[str] = []
    for key, value in FIXED:
        args += ["-c", f"{key}={value}"]
    return args


def override_args(config_keys: list[str]) -> list[str]:
    """`-c key=` for each key of the repository's config that names a program (from
    `git config --list --name-only -z`)."""
    args: list[str] = []
    for key in dict.fromkeys(config_keys):
        if key and "=" not in key and _PROGRAM_KEY.fullmatch(key):
            value = _VALUE.get(key.split(".", 1)[0], "")
            args += ["-c", f"{key}={value}"]
    return args


def environment(base: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in base.items() if k not in ENV_UNSET}
    env.update(ENV_SET)
    return env
