"""boto3/botocore plumbing: endpoints, partitions, the leaked-credential STS client, operator clients.

Imported only by verification, revocation and the demo, so `stsleak scan` alone never loads boto3.
Endpoints: `--endpoint-url` wins; otherwise botocore itself honours `AWS_ENDPOINT_URL`,
`AWS_ENDPOINT_URL_STS` and `AWS_ENDPOINT_URL_IAM`, and derives the partition's endpoint from the region.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from scanner.errors import StsleakError

DEFAULT_REGIONS = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}
NETWORK_ERRORS = ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError",
                  "ProxyConnectionError", "SSLError", "ConnectionError", "HTTPClientError")
_CREDENTIALS_KEY = "stsleak_credentials"
_PLACEHOLDER = "stsleak-never-used"  # the shared client's own credentials; every call overrides them


@dataclass(frozen=True)
class AwsOptions:
    region: str | None = None  # --region: explicit, wins everywhere
    endpoint_url: str | None = None
    profile: str | None = None
    partition: str | None = None  # --partition: beats AWS_REGION/AWS_DEFAULT_REGION
    concurrency: int = 8
    max_attempts: int = 3  # botocore "standard" retries: throttling, 5xx, connection errors
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    operator_keys: tuple[str, str, str | None] | None = None  # explicit operator credentials (demo)

    def partition_name(self) -> str:
        """--partition, else the partition of --region, else of the environment's region, else aws."""
        if self.partition:
            return self.partition
        region = self.region or _env_region()
        return partition_of_region(region) if region else "aws"

    def leaked_region(self) -> str:
        """Where leaked keys are verified: --region, else the partition's default region.

        Never the shell's AWS_REGION: tokens from the global STS endpoint are invalid in opt-in
        regions, so a live key would answer InvalidClientTokenId there.
        """
        return self.region or DEFAULT_REGIONS.get(self.partition_name(), "us-east-1")

    def default_region(self) -> str:
        return DEFAULT_REGIONS.get(self.partition_name(), "us-east-1")

    def operator_region(self) -> str:
        """The operator's region: --region, else --profile's, else the environment's or the config's.

        A region outside an explicit --partition is not used (the partition's default is).
        """
        region = self.region
        if not region and self.profile:
            region = profile_region(self.profile)
        region = region or _env_region() or profile_region(None)
        if region and self.partition and partition_of_region(region) != self.partition:
            region = None
        return region or self.default_region()

    def resolved_region(self) -> str:
        return self.operator_region()


def _env_region() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


def profile_region(profile: str | None) -> str | None:
    """The region set in the profile's config (None when none or the profile is unknown)."""
    import botocore.session

    try:
        return botocore.session.Session(profile=profile).get_scoped_config().get("region") or None
    except Exception:
        return None


@dataclass(frozen=True)
class AwsFailure:
    """An AWS call that failed, reduced to a code and one printable line."""

    code: str
    message: str
    status: int | None = None

    @property
    def is_network(self) -> bool:
        return self.code == "NetworkError"

    @property
    def is_access_denied(self) -> bool:
        return self.code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")


def partition_of_region(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("us-iso-"):
        return "aws-iso"
    if region.startswith("us-isob-"):
        return "aws-iso-b"
    if region.startswith("eusc-"):
        return "aws-eusc"
    return "aws"


def failure_from(exc: BaseException) -> AwsFailure:
    """Classify any exception from botocore into a code and a one-line message (no traceback)."""
    from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError, ProfileNotFound

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = error.get("Code") or "Unknown"
        message = " ".join((error.get("Message") or code).split())
        return AwsFailure(code, f"{code}: {message}", status)
    if isinstance(exc, NoCredentialsError):
        return AwsFailure("NoCredentials", "no operator AWS credentials found (environment, profile, SSO)")
    if isinstance(exc, ProfileNotFound):
        return AwsFailure("ProfileNotFound", str(exc))
    if isinstance(exc, NoRegionError):
        return AwsFailure("NoRegion", "no AWS region configured (use --region)")
    name = type(exc).__name__
    if name in NETWORK_ERRORS or isinstance(exc, OSError):
        return AwsFailure("NetworkError", f"network error: {' '.join(str(exc).split())}")
    return AwsFailure(name, f"{name}: {' '.join(str(exc).split())}")


def client_config(options: AwsOptions, region: str | None = None) -> Any:
    from botocore.config import Config

    return Config(
        region_name=region or options.operator_region(),
        retries={"mode": "standard", "max_attempts": options.max_attempts},
        connect_timeout=options.connect_timeout,
        read_timeout=options.read_timeout,
        max_pool_connections=max(10, options.concurrency + 2),
        user_agent_extra="stsleak",
    )


class LeakedStsClient:
    """STS clients shared by every thread; each call is signed with the credentials given to it.

    botocore clients are thread-safe, and creating one per credential set costs tens of
    milliseconds, so the credentials travel in the request context instead
    (botocore's per-request `signing.request_credentials`). Only GetCallerIdentity is exposed:
    the leaked credentials are used for nothing else. One client per region, made when first used:
    the leaked key's partition's default region, and `--region` when that was given.
    """

    def __init__(self, options: AwsOptions, client: Any | None = None,
                 clients: dict[str, Any] | None = None) -> None:
        self.options = options
        self.region = options.leaked_region()
        self._clients: dict[str, Any] = dict(clients or {})
        if client is not None:
            self._clients[self.region] = client
        self._lock = threading.Lock()
        self.client = self.for_region(self.region)

    def for_region(self, region: str) -> Any:
        with self._lock:
            if region not in self._clients:
                try:
                    client = self._new_client(self.options, region)
                except Exception as exc:  # ProfileNotFound, bad region…: one line, never a traceback
                    raise StsleakError(f"cannot set up STS: {failure_from(exc).message}") from None
                self._clients[region] = client
            client = self._clients[region]
            if not getattr(client, "_stsleak_hooked", False):
                events = client.meta.events
                events.register("provide-client-params.sts.GetCallerIdentity", _take_credentials_param)
                events.register("before-sign.sts.GetCallerIdentity", _sign_with_request_credentials)
                client._stsleak_hooked = True
            return client

    @staticmethod
    def _new_client(options: AwsOptions, region: str) -> Any:
        import botocore.session

        session = botocore.session.Session(profile=options.profile)  # for its endpoint settings only
        return session.create_client(
            "sts", region_name=region, endpoint_url=options.endpoint_url,
            aws_access_key_id=_PLACEHOLDER, aws_secret_access_key=_PLACEHOLDER,
            config=client_config(options, region),
        )

    def get_caller_identity(self, access_key_id: str, secret: str, session_token: str | None,
                            region: str | None = None) -> dict[str, Any]:
        from botocore.credentials import Credentials

        credentials = Credentials(access_key_id, secret, session_token)
        return self.for_region(region or self.region).get_caller_identity(StsleakCredentials=credentials)


def _take_credentials_param(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    if "StsleakCredentials" in params:
        context[_CREDENTIALS_KEY] = params.pop("StsleakCredentials")


def _sign_with_request_credentials(request: Any, **_: Any) -> None:
    credentials = request.context.get(_CREDENTIALS_KEY)
    if credentials is None:
        raise StsleakError("internal: GetCallerIdentity without credentials")
    request.context.setdefault("signing", {})["request_credentials"] = credentials


class Operator:
    """The operator's own credentials (normal boto3 chain, `--profile`): used for IAM, never leaked ones."""

    def __init__(self, options: AwsOptions, clients: dict[str, Any] | None = None) -> None:
        import boto3

        self.options = options
        try:
            if options.operator_keys:
                key, secret, token = options.operator_keys
                self.session = boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                                             aws_session_token=token, region_name=options.operator_region())
            else:
                self.session = boto3.Session(profile_name=options.profile, region_name=options.operator_region())
        except Exception as exc:  # ProfileNotFound and friends: one line, never a traceback
            raise StsleakError(failure_from(exc).message) from None
        self._clients: dict[str, Any] = dict(clients or {})  # ready-made clients, e.g. for tests
        self._identity: dict[str, Any] | None = None

    def has_credentials(self) -> bool:
        try:
            return self.session.get_credentials() is not None
        except Exception:
            return False

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service, endpoint_url=self.options.endpoint_url, config=client_config(self.options))
        return self._clients[service]

    def identity(self) -> dict[str, Any]:
        """The operator's GetCallerIdentity (cached); raises botocore errors."""
        if self._identity is None:
            self._identity = self.client("sts").get_caller_identity()
        return self._identity

    def fresh_identity(self) -> dict[str, Any]:
        """A new GetCallerIdentity: its ResponseMetadata carries AWS's clock (the Date header)."""
        self._identity = self.client("sts").get_caller_identity()
        return self._identity

    def access_key_id(self) -> str | None:
        """The key id the operator signs with (to compare with leaked keys)."""
        try:
            credentials = self.session.get_credentials()
            return credentials.get_frozen_credentials().access_key if credentials else None
        except Exception:
            return None
