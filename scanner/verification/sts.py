"""Verification: ask STS who a leaked credential set belongs to (GetCallerIdentity, signed with it).

The leaked credentials are used for GetCallerIdentity and nothing else. Role details (full ARN
with path, RoleId) come from iam:GetRole with the operator's own credentials, when there are any.

A key id that other secrets/tokens competed for (Finding.alternatives: a decoy right after the
key id, the real set a few lines further) is verified with its nearest set first; when STS finds
that set invalid, the alternatives are tried, guided by what STS answered: InvalidClientTokenId
means the token (or the key id) is wrong whatever the secret, so the next token is tried;
SignatureDoesNotMatch means the token is right and the secret wrong, so the other secrets are
tried with that token. That is at most one combination per token plus one per secret
(MAX_COMBINATIONS), where every secret x token would be their product. A live alternative becomes
the finding's secret and token; an alternative that could not be checked (or one past the bound)
makes the verdict `error`, never `invalid`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from scanner.aws_session import AwsOptions, LeakedStsClient, Operator, failure_from
from scanner.errors import StsleakError
from scanner.model import MAX_ALTERNATIVES, Alternatives, CredentialKey, Finding, PartKind, Verification
from scanner.model import VerificationStatus as Status
from scanner.redact import redact, scrub
from scanner.verification.canaries import canary_owner

EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException"})
INVALID_CODES = frozenset({"InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException",
                           "InvalidAccessKeyId"})
Signing = tuple[str, str | None, str | None]  # (key id, secret, session token): what one call is signed with
# A key id's combinations asked about, at most: every token once, then every secret with the right token.
MAX_COMBINATIONS = 2 * (MAX_ALTERNATIVES + 1)


@dataclass(frozen=True)
class PrincipalArn:
    """The parts of a GetCallerIdentity ARN (arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION …)."""

    partition: str
    account: str
    principal_type: str | None
    name: str | None = None
    session_name: str | None = None


def parse_principal_arn(arn: str) -> PrincipalArn | None:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    _, partition, service, _, account, resource = parts
    if service == "sts" and resource.startswith("assumed-role/"):
        pieces = resource.split("/")
        return PrincipalArn(partition, account, "assumed-role", pieces[1], "/".join(pieces[2:]) or None)
    if service == "sts" and resource.startswith("federated-user/"):
        return PrincipalArn(partition, account, "federated-user", resource.split("/", 1)[1])
    if service == "iam" and resource.startswith("user/"):
        return PrincipalArn(partition, account, "iam-user", resource.rsplit("/", 1)[1])
    if service == "iam" and resource == "root":
        return PrincipalArn(partition, account, "root")
    return PrincipalArn(partition, account, None)


def verification_from_identity(identity: dict[str, str]) -> Verification:
    arn = identity.get("Arn", "")
    parsed = parse_principal_arn(arn)
    verification = Verification(Status.LIVE, arn=arn or None, user_id=identity.get("UserId"),
                                account=identity.get("Account"))
    if parsed:
        verification.principal_type = parsed.principal_type
        if parsed.principal_type == "assumed-role":
            verification.role_name, verification.session_name = parsed.name, parsed.session_name
    return verification


def offline_verification(finding: Finding, verify_canaries: bool) -> Verification | None:
    """The verdict reachable without a call (unverifiable, canary), or None when STS must be asked."""
    account = finding.account_id
    if not finding.access_key_id:
        return Verification(Status.UNVERIFIABLE, account=account, error="unverifiable without the key id")
    if not finding.secret:
        return Verification(Status.UNVERIFIABLE, account=account, error="no secret access key next to the key id")
    needs_token = finding.access_key_id.startswith("ASIA") or PartKind.SESSION_TOKEN in finding.expected_parts
    if needs_token and not finding.session_token:
        return Verification(Status.UNVERIFIABLE, account=account,
                            error="temporary credentials without their session token cannot be verified")
    owner = canary_owner(account)
    if owner and not verify_canaries:
        return Verification(Status.SKIPPED, account=account,
                            error=f"canary account of {owner}: verifying would set it off (--verify-canaries)")
    return None


def verify_set(client: LeakedStsClient, key: Signing) -> Verification:
    """One GetCallerIdentity; a 403 is retried once (STS returns spurious ones).

    The retry of an InvalidClientTokenId from a region other than the partition's default goes to
    the default region: tokens from the global endpoint are invalid in opt-in regions.
    """
    return _ask(client, key)[0]


def _ask(client: LeakedStsClient, key: Signing) -> tuple[Verification, str | None]:
    """verify_set, and the error code of STS's last answer (None when it answered with an identity)."""
    access_key_id, secret, token = key
    region = client.region
    request_ids: list[str] = []
    for attempt in (1, 2):
        try:
            identity = client.get_caller_identity(access_key_id, secret or "", token, region=region)
        except StsleakError:
            raise
        except Exception as exc:
            request_ids += _request_id(getattr(exc, "response", None))
            failure = failure_from(exc)
            where = f"STS of partition {client.options.partition_name()}, region {region}"
            message = scrub(f"{failure.message} ({where})", [secret or "", token or ""])
            if failure.code in EXPIRED_CODES:
                return Verification(Status.EXPIRED, error=message, request_ids=request_ids), failure.code
            if failure.code in INVALID_CODES:
                if attempt == 1:
                    if failure.code == "InvalidClientTokenId":
                        region = client.options.default_region()
                    continue
                return Verification(Status.INVALID, error=message, request_ids=request_ids), failure.code
            return Verification(Status.ERROR, error=message, request_ids=request_ids), failure.code
        verification = verification_from_identity(identity)
        verification.request_ids = request_ids + _request_id(identity)
        return verification, None
    raise AssertionError("unreachable")


@dataclass
class Outcome:
    """A key id's verdict, and the secret and token to keep: the nearest ones, unless an alternative was live."""

    verification: Verification
    secret: str | None
    token: str | None


def _preview(secret: str | None, token: str | None) -> str:
    """The parts named by their redacted forms only: "secret abcd… and session token FQoG…"."""
    parts = [f"{name} {redact(value)}" for name, value in (("secret", secret), ("session token", token)) if value]
    return " and ".join(parts)


def verify_alternatives(client: LeakedStsClient, key: CredentialKey) -> Outcome:
    """Verify a key id's nearest set and, when STS finds it invalid, its alternatives (module docstring)."""
    access_key_id, secret, token, alternatives = key
    first, code = _ask(client, (access_key_id, secret, token))
    if alternatives is None or first.status != Status.INVALID:
        return Outcome(first, secret, token)
    secrets = [secret, *alternatives.secrets] if secret else list(alternatives.secrets)
    tokens: list[str | None] = [token, *alternatives.tokens] if token else [None]
    tried, unchecked, request_ids, last_error = 1, 0, list(first.request_ids), None
    for t in tokens:
        token_right = False
        for s in secrets:
            if (s, t) == (secret, token):
                answer = first
            elif tried >= MAX_COMBINATIONS:  # not reached while STS answers as documented: counted if it is
                unchecked, last_error = unchecked + 1, last_error or f"at most {MAX_COMBINATIONS} combinations"
                break
            else:
                answer, code = _ask(client, (access_key_id, s, t))
                tried += 1
                request_ids += answer.request_ids
            if answer.status in (Status.LIVE, Status.EXPIRED):
                answer.request_ids, answer.combinations_tried = request_ids, tried
                if answer.status == Status.EXPIRED:  # the token is real, and expired: no other token is
                    if t != token:
                        _add_note(answer, f"expired with the alternative {_preview(None, t)}")
                    return Outcome(answer, secret, token)
                answer.live_alternative = _preview(s if s != secret else None, t if t != token else None)
                _add_note(answer, f"live with the alternative {answer.live_alternative}; the nearest "
                                  f"{_preview(secret, token)} did not verify (a decoy?)")
                return Outcome(answer, s, t)
            if answer.status != Status.INVALID:  # unknown (network, throttling): this one may be the live set
                unchecked, last_error = unchecked + 1, answer.error
                break
            if code != "SignatureDoesNotMatch":  # the token (or the key id) is wrong whatever the secret
                break
            token_right = True  # the token is right and the secret wrong: the other secrets with it
        if token_right:
            break  # a key id has one session token: no other one is right
    if unchecked or alternatives.more:
        why = [f"{unchecked} combination(s) of its alternatives could not be checked ({last_error})"] if unchecked \
            else []
        why += [f"{alternatives.more} competing secret(s)/token(s) past the {MAX_ALTERNATIVES} kept were not "
                f"tried"] if alternatives.more else []
        return Outcome(Verification(Status.ERROR, error=f"the nearest set is invalid, but {'; '.join(why)}",
                                    combinations_tried=tried, request_ids=request_ids), secret, token)
    first.request_ids, first.combinations_tried = request_ids, tried
    _add_note(first, f"{alternatives.total} alternative secrets/tokens: {tried} combination(s) tried, none live "
                     f"(STS's answers rule out the rest)")
    return Outcome(first, secret, token)


def _request_id(response: object) -> list[str]:
    """The request id AWS answered a call with (CloudTrail records it as the event's requestID)."""
    metadata = response.get("ResponseMetadata") if isinstance(response, dict) else None
    found = metadata.get("RequestId") if isinstance(metadata, dict) else None
    return [found] if isinstance(found, str) and found else []


def _add_note(verification: Verification, note: str) -> None:
    verification.note = f"{verification.note}; {note}" if verification.note else note


def account_mismatch(verification: Verification, offline_account: str | None) -> str | None:
    """STS's Account differs from the account encoded in the key id: a wrong or hostile endpoint."""
    if verification.status != "live" or not offline_account or not verification.account:
        return None
    if verification.account == offline_account:
        return None
    return (f"STS answered account {verification.account}, but the key id belongs to account {offline_account}: "
            f"a wrong or hostile STS endpoint?")


def verify_sets(client: LeakedStsClient, keys: list[Signing], concurrency: int) -> dict[Signing, Verification]:
    """Verify distinct credential sets concurrently, at most `concurrency` calls in flight."""
    if not keys:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="stsleak-verify") as pool:
        return dict(zip(keys, pool.map(lambda key: verify_set(client, key), keys), strict=True))


def verify_findings(findings: list[Finding], options: AwsOptions, *, verify_canaries: bool = False,
                    client: LeakedStsClient | None = None, operator: Operator | None = None) -> list[str]:
    """Set `verification` on every finding (in place); returns notes for the user."""
    pending: dict[CredentialKey, list[Finding]] = {}
    for finding in findings:
        verdict = offline_verification(finding, verify_canaries)
        if verdict is not None:
            finding.verification = verdict
        else:
            pending.setdefault(finding.credential_key, []).append(finding)
    if pending:
        sts, keys = client or LeakedStsClient(options), list(pending)
        with ThreadPoolExecutor(max_workers=max(1, options.concurrency), thread_name_prefix="stsleak-verify") as pool:
            outcomes = list(pool.map(lambda key: verify_alternatives(sts, key), keys))  # a key id's tries in one thread
        for key, outcome in zip(keys, outcomes, strict=True):
            for finding in pending[key]:
                verdict = outcome.verification
                finding.verification = replace(verdict, account=verdict.account or finding.account_id)
                if (outcome.secret, outcome.token) != (finding.secret, finding.session_token):
                    _swap_in(finding, outcome.secret, outcome.token)
    notes = add_role_details(findings, options, operator)
    for finding in findings:
        mismatch = finding.verification and account_mismatch(finding.verification, finding.account_id)
        if mismatch and finding.verification:
            _add_note(finding.verification, mismatch)
            if f"{finding.access_key_id}: {mismatch}" not in notes:
                notes.append(f"{finding.access_key_id}: {mismatch}")
    errors = sum(1 for f in findings if f.verification and f.verification.status == Status.ERROR)
    if errors:
        notes.append(f"{errors} credential set(s) could not be verified (network, throttling or STS error)")
    return notes


def _swap_in(finding: Finding, secret: str | None, token: str | None) -> None:
    """The live alternative becomes the finding's secret and token; the nearest ones take its place
    among the alternatives (so the count, and the fingerprint, stay the same)."""
    alt = finding.alternatives or Alternatives()
    secrets = tuple(finding.secret if s == secret and finding.secret else s for s in alt.secrets)
    tokens = tuple(finding.session_token if t == token and finding.session_token else t for t in alt.tokens)
    finding.secret, finding.session_token = secret, token
    finding.alternatives = alt._replace(secrets=secrets, tokens=tokens)


def _live_roles(findings: list[Finding]) -> dict[tuple[str, str], list[Verification]]:
    roles: dict[tuple[str, str], list[Verification]] = {}
    for finding in findings:
        v = finding.verification
        if v and v.status == Status.LIVE and v.principal_type == "assumed-role" and v.role_name and v.account:
            roles.setdefault((v.account, v.role_name), []).append(v)
    return roles


def _mark_unknown(verifications: list[Verification], reason: str) -> None:
    for v in verifications:
        _add_note(v, f"role details unknown: {reason}")


def add_role_details(findings: list[Finding], options: AwsOptions, operator: Operator | None) -> list[str]:
    """Fill role_arn/role_id from iam:GetRole with the operator's credentials; skip quietly without them."""
    roles = _live_roles(findings)
    if not roles:
        return []
    all_verifications = [v for vs in roles.values() for v in vs]
    try:
        operator = operator or Operator(options)
    except StsleakError as exc:
        _mark_unknown(all_verifications, str(exc))
        return [f"role details unknown: {exc}"]
    if not operator.has_credentials():
        _mark_unknown(all_verifications, "no operator credentials")
        return ["role details (full ARN, RoleId) unknown: no operator AWS credentials (env, --profile, SSO)"]
    try:
        operator_account = operator.identity()["Account"]
    except Exception as exc:
        reason = failure_from(exc).message
        _mark_unknown(all_verifications, reason)
        return [f"role details unknown: operator credentials failed: {reason}"]
    notes: list[str] = []
    mine = [key for key in roles if key[0] == operator_account]
    for account, _ in set(roles) - set(mine):
        _mark_unknown(roles[(account, _)], f"role is in account {account}, operator is in {operator_account}")
        notes.append(f"role details unknown for account {account}: operator credentials are for {operator_account}")
    iam = operator.client("iam")
    with ThreadPoolExecutor(max_workers=max(1, options.concurrency)) as pool:
        fetched = list(pool.map(lambda key: _get_role(iam, key[1]), mine))
    for key, (role, failure) in zip(mine, fetched, strict=True):
        for v in roles[key]:
            if role:
                v.role_arn, v.role_id = role["Arn"], role["RoleId"]
            else:
                _add_note(v, f"role details unknown: iam:GetRole: {failure}")
        if failure:
            notes.append(f"role details unknown for {key[1]}: iam:GetRole: {failure}")
    return notes


def _get_role(iam: object, name: str) -> tuple[dict | None, str | None]:
    try:
        return iam.get_role(RoleName=name)["Role"], None  # type: ignore[attr-defined]
    except Exception as exc:
        return None, failure_from(exc).message
