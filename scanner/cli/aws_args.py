"""AWS options shared by the commands that talk to AWS (scan --verify, revoke). Imports boto3 only when used."""

from __future__ import annotations

import argparse
import functools
from typing import Any

from scanner.errors import StsleakError


def add_aws_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("AWS")
    group.add_argument("--region", type=region_name,
                       help="region for STS/IAM endpoints, checked against botocore's list (default: leaked keys are "
                            "verified in the partition's default region; the operator uses the profile's region)")
    group.add_argument("--partition", choices=("aws", "aws-cn", "aws-us-gov"), default=None,
                       help="partition of the leaked keys and the operator (beats AWS_REGION; default: from "
                            "--region or the environment, else aws)")
    group.add_argument("--endpoint-url", help="send every AWS call here (also: AWS_ENDPOINT_URL, "
                                              "AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_IAM)")
    group.add_argument("--profile", help="the operator's AWS profile (revocation and role details)")


@functools.cache
def known_regions() -> tuple[str, ...]:
    """Every region of every partition in botocore's endpoint data (offline; botocore is loaded only
    when a region option is given)."""
    from botocore.loaders import create_loader

    data = create_loader().load_data("endpoints")
    return tuple(sorted(region for partition in data.get("partitions", []) for region in partition.get("regions", {})))


def check_region(name: str) -> str:
    """`name` when botocore knows the region, else StsleakError naming the closest one."""
    regions = known_regions()
    if name in regions:
        return name
    from scanner.cli.parser import closest

    near = closest(name.lower(), regions)
    if near:
        raise StsleakError(f"unknown region {name!r} (did you mean {near}?)")
    import difflib

    import botocore

    nearest = difflib.get_close_matches(name.lower(), regions, n=1, cutoff=0)
    raise StsleakError(f"unknown region {name!r}: botocore {botocore.__version__} does not list it (closest: "
                       f"{nearest[0] if nearest else 'none'}; a region newer than botocore needs a newer boto3)")


def region_name(text: str) -> str:
    """argparse type of --region: a region botocore knows."""
    try:
        return check_region(text)
    except StsleakError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def region_list(text: str, option: str = "--regions") -> tuple[str, ...] | None:
    """R1,R2 -> the regions, each one botocore knows; None when empty."""
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    for name in names:
        try:
            check_region(name)
        except StsleakError as exc:
            raise StsleakError(f"{option}: {exc}") from None
    return names or None


def add_revoke_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scope", choices=("role", "session", "off-instance"), default=None,
                        help="revoke all sessions of the role issued before now (default), only the leaked ones "
                             "(revoke --session implies session), or, for EC2 instance-profile credentials (session "
                             "i-…), only their use from outside the instance's network (off-instance)")
    parser.add_argument("--issuer", action="append", default=[], metavar="[NAME=]USER",
                        help="the IAM user that issued a leaked federated-user session (GetFederationToken): its deny "
                             "goes on that user; NAME=USER per federated user when several leaked (respond reads it "
                             "from CloudTrail; never guessed)")
    parser.add_argument("--account", action="append", default=[], metavar="ACCOUNT_ID",
                        help="with --assume-role: an account it may act in (repeatable); a target in another account "
                             "is confirmed at the prompt or refused, whatever account STS reports for a leaked key")
    parser.add_argument("--yes", action="store_true", help="apply the revocation plan (default: dry run)")
    parser.add_argument("--audit-log", metavar="FILE",
                        help="append every revocation call to FILE (JSON lines; default: user state dir)")
    parser.add_argument("--include-operator", action="store_true",
                        help="also revoke a target the operator's own credentials belong to, last "
                             "(default: refused, it would cut off this run)")
    parser.add_argument("--assume-role", metavar="ARN_TEMPLATE",
                        help="assume this role in each target's account with the operator's credentials, e.g. "
                             "'arn:aws:iam::{account}:role/IncidentResponder' ({account} is filled in per target)")
    parser.add_argument("--refresh", action="store_true",
                        help="move the cutoff forward even where IAM already denies the leaked keys (default: "
                             "planned as already-revoked and left alone)")


def add_verify_options(scan: argparse.ArgumentParser) -> None:
    scan.add_argument("--verify", action="store_true", help="ask STS who each credential set belongs to")
    scan.add_argument("--verify-canaries", action="store_true",
                      help="also verify keys of known canary accounts (this sets the canary off)")
    scan.add_argument("--concurrency", type=int, default=8, metavar="N", help="parallel STS calls (default 8)")
    scan.add_argument("--revoke", action="store_true", help="with --verify: revoke live credentials (see revoke)")
    add_revoke_options(scan)
    add_aws_options(scan)


def aws_options(args: argparse.Namespace) -> Any:
    from scanner.aws_session import AwsOptions

    concurrency = getattr(args, "concurrency", 8)
    if concurrency < 1:
        raise StsleakError("--concurrency must be at least 1")
    from scanner.aws_session import partition_of_region

    if args.partition and args.region and partition_of_region(args.region) != args.partition:
        raise StsleakError(f"--region {args.region} is not in --partition {args.partition}")
    return AwsOptions(region=args.region, endpoint_url=args.endpoint_url, profile=args.profile,
                      partition=args.partition, concurrency=concurrency)
