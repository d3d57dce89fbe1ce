"""The data types every stage shares: chunks from sources, candidates, findings."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class Chunk:
    """Bytes plus where they came from. Sources produce these and know nothing of AWS."""

    data: bytes
    path: str | None = None  # relative path (files, staged) or None (history blob, not yet placed)
    blob: str | None = None  # git object id, when the bytes are a git blob
    previous: bytes | None = None  # staged changes: the content this replaces (its findings are not new)


class ScanMode(StrEnum):
    FILES = "files"
    HISTORY = "history"
    STAGED = "staged"
    STDIN = "stdin"


class VerificationStatus(StrEnum):
    """What STS said about a credential set."""

    LIVE = "live"
    EXPIRED = "expired"
    INVALID = "invalid"
    UNVERIFIABLE = "unverifiable"  # a part needed to sign is missing
    ERROR = "error"  # network, throttling or an STS error: unknown
    SKIPPED = "skipped"  # e.g. a canary account


class ReportFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    GITHUB = "github"  # workflow-command annotations + step summary, for GitHub Actions


class PartKind(StrEnum):
    KEY_ID = "key_id"
    SECRET = "secret"
    SESSION_TOKEN = "session_token"


class Candidate(NamedTuple):
    """One key id, secret or token found in a chunk's text, with its position.

    Immutable like a frozen dataclass, but a NamedTuple: made by the hundred thousand on a text of
    key ids, and a tuple is built 2-3 times faster than a frozen dataclass (whose every field is set
    through object.__setattr__)."""

    kind: PartKind
    value: str
    start: int
    end: int
    labelled: bool = False
    label: str = ""  # the label it was found after, lower case ("" when unlabelled)
    allowlisted: bool = False  # a key id the allowlist rejects: it still claims its parts, then is dropped


@dataclass(slots=True)
class Verification:
    """What STS said about a credential set (issue: verification)."""

    status: VerificationStatus
    arn: str | None = None
    user_id: str | None = None
    account: str | None = None
    principal_type: str | None = None  # assumed-role | iam-user | federated-user | root
    role_name: str | None = None
    role_arn: str | None = None
    role_id: str | None = None
    session_name: str | None = None
    error: str | None = None
    note: str | None = None  # e.g. "role details unknown: no operator credentials"
    # A key id with competing secrets/tokens (Finding.alternatives): how many combinations STS was
    # asked about, and which one was live when it was not the nearest (redacted previews only).
    combinations_tried: int | None = None
    live_alternative: str | None = None
    # The request ids AWS answered stsleak's own calls with this key with (CloudTrail's `requestID`):
    # how an investigation tells stsleak's events from everyone else's.
    request_ids: list[str] = field(default_factory=list)


class RevocationStatus(StrEnum):
    PLANNED = "planned"
    REVOKED = "revoked"
    REFUSED = "refused"
    FAILED = "failed"
    SKIPPED = "skipped"
    ALREADY_REVOKED = "already-revoked"  # an existing cutoff already denies every leaked session


@dataclass(slots=True)
class Revocation:
    """What was planned or done to cut a credential off."""

    status: RevocationStatus
    scope: str | None = None  # role | session | access-key | user
    target: str | None = None  # the role / user ARN or key id acted on
    policy_name: str | None = None
    cutoff: str | None = None
    message: str | None = None
    trusted_principals: list[str] | None = None  # from the role's trust policy: who else uses it
    instance_profiles: list[str] | None = None  # EC2 keeps cached credentials until restarted
    breaks: list[str] | None = None  # the workloads and credential caches the revocation cuts off too
    not_cut: list[str] | None = None  # what the revocation cannot reach (e.g. GetCallerIdentity sign-ins)
    denied_principals: list[str] | None = None  # Deny principals of the role's trust policy (never trusted)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Alternatives(NamedTuple):
    """The other secrets and session tokens that competed for a finding's key id (scanner/pairing.py).

    The finding's own secret and token are the winners (labelled, then nearest); a decoy written
    right after the key id must not hide the real set a few lines further, so the rest are kept,
    nearest first, at most MAX_ALTERNATIVES of each kind (`more` counts the ones past that), and
    verification tries them when the winners are not live. Like Finding.secret, these are full
    values, held in memory for verification only: reports show their count and hashes.
    """

    secrets: tuple[str, ...] = ()
    tokens: tuple[str, ...] = ()
    more: int = 0  # competing values past the bound: counted, not kept

    @property
    def total(self) -> int:
        return len(self.secrets) + len(self.tokens) + self.more

    @property
    def summary(self) -> str:
        """E.g. "3 alternative secrets/tokens (2 secrets, 1 session token)": counts only, never values."""
        kinds = [f"{n} {noun}{'' if n == 1 else 's'}" for n, noun in
                 ((len(self.secrets), "secret"), (len(self.tokens), "session token")) if n]
        kinds += [f"{self.more} more not kept"] if self.more else []
        return f"{self.total} alternative secrets/tokens competed for this key id ({', '.join(kinds)})"


MAX_ALTERNATIVES = 8  # per kind and key id; with the winner, at most 9 secrets x 9 tokens to choose from
CredentialKey = tuple[str, str | None, str | None, Alternatives | None]


@dataclass(slots=True)
class Finding:
    """One credential set at one location: the type every later stage reads and enriches."""

    rule: str
    access_key_id: str
    secret: str | None
    session_token: str | None
    account_id: str | None
    path: str | None
    line: int
    blob: str | None = None
    commit: str | None = None
    author: str | None = None
    date: str | None = None
    expected_parts: tuple[PartKind, ...] = ()
    verification: Verification | None = None
    revocation: Revocation | None = None
    parts_at: dict[str, str] | None = None  # parts found in another file: {"secret": "path:line"}
    alternatives: Alternatives | None = None  # other secrets/tokens that competed for the key id

    @property
    def secret_sha256(self) -> str | None:
        return sha256_hex(self.secret) if self.secret else None

    @property
    def session_token_sha256(self) -> str | None:
        return sha256_hex(self.session_token) if self.session_token else None

    @property
    def missing(self) -> list[str]:
        present = {PartKind.SECRET: self.secret, PartKind.SESSION_TOKEN: self.session_token}
        missing = [] if self.access_key_id else ["access_key_id"]  # a secret or token alone
        return missing + [str(kind) for kind in self.expected_parts if not present.get(kind)]

    @property
    def fingerprint(self) -> str:
        """Stable id of the credential set (not of its location); hashes only, never secrets.

        With alternatives, of the key id and every competing secret and token (sorted): the same
        before and after verification swaps a live alternative in, and not the fingerprint of the
        decoy set alone (a baseline that holds that one does not hide the real set added later)."""
        alt = self.alternatives
        if alt is None:
            return sha256_hex(f"{self.access_key_id}:{self.secret or ''}:{self.session_token or ''}")
        secrets = "|".join(sorted({*alt.secrets, *([self.secret] if self.secret else [])}))
        tokens = "|".join(sorted({*alt.tokens, *([self.session_token] if self.session_token else [])}))
        return sha256_hex(f"{self.access_key_id}:{secrets}:{tokens}")

    @property
    def credential_key(self) -> CredentialKey:
        """What makes two findings the same set: the parts, and the alternatives that competed."""
        return (self.access_key_id, self.secret, self.session_token, self.alternatives)

    @property
    def leaked_values(self) -> list[str]:
        """The secret, the token and every alternative: what must never be written in full."""
        alt = self.alternatives or Alternatives()
        return [v for v in (self.secret, self.session_token, *alt.secrets, *alt.tokens) if v]

    @property
    def alternative_secret_sha256(self) -> list[str]:
        return [sha256_hex(s) for s in self.alternatives.secrets] if self.alternatives else []

    @property
    def alternative_session_token_sha256(self) -> list[str]:
        return [sha256_hex(t) for t in self.alternatives.tokens] if self.alternatives else []


@dataclass(slots=True)
class ScanStats:
    files: int = 0
    blobs: int = 0
    bytes: int = 0
    seconds: float = 0.0
    skipped: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # What silencing hid, by cause (Suppression): credential sets, or for an excluded or too-large
    # file of a files scan (never read), the file.
    suppressed: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # for the reader, not the report (stderr)
    config: str | None = None  # the config file that applied
    # Git work trees whose files were scanned but not their history (the text summary says so, once).
    history_not_scanned: list[str] = field(default_factory=list)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def suppress(self, cause: str, count: int = 1) -> None:
        if count:
            self.suppressed[cause] = self.suppressed.get(cause, 0) + count


class Suppression(StrEnum):
    """Why something a scan met is not reported (`stats.suppressed`)."""

    CONFIG_EXCLUDE = "config-exclude"  # an exclude glob of the config file
    EXCLUDE = "exclude"  # an --exclude glob
    ALLOW_COMMENT = "allow-comment"  # stsleak:allow / pragma: allowlist secret on a line of the set
    BASELINE = "baseline"  # recorded in --baseline FILE
    ALLOWLIST = "allowlist"  # a key id the rules' allowlist rejects (EXAMPLE, placeholders)
    CONFIG_MAX_FILE_SIZE = "config-max-file-size"  # larger than the config file's max_file_size
    CONFIG_ARCHIVE_LIMIT = "config-archive-limit"  # archive content an archive limit the config file lowered stopped
    OWN_ARTIFACT = "stsleak-artifact"  # a key id alone that a baseline or report stsleak wrote records


@dataclass
class ScanResult:
    findings: list[Finding]
    stats: ScanStats
    notes: list[str] = field(default_factory=list)
    mode: ScanMode | None = None
    baselined: list[Finding] = field(default_factory=list)  # what --baseline hid (--write-baseline keeps it)
