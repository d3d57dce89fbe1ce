"""What `revoke`, `scan --revoke` and `respond` show and ask around a revocation: the plan, the prompt, the outcome."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from scanner.errors import StsleakError

if TYPE_CHECKING:
    from scanner.response import Callbacks, RevocationRun, RevokeOptions
    from scanner.revocation.model import Plan


_USER_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_FEDERATED_NAME = re.compile(r"^[\w+=,.@-]{2,32}$")
_ACCOUNT = re.compile(r"^[0-9]{12}$")


def issuers(values: list[str]) -> tuple[tuple[str, str], ...]:
    """--issuer USER | NAME=USER -> ((NAME or "", USER), …); StsleakError on a malformed one."""
    found: dict[str, str] = {}
    for value in values:
        name, _, user = value.rpartition("=")
        if not _USER_NAME.match(user) or (name and not _FEDERATED_NAME.match(name)):
            raise StsleakError(f"--issuer {value!r}: expected USER or NAME=USER (an IAM user name, and the federated "
                               f"user's name)")
        if found.get(name, user) != user:
            raise StsleakError(f"--issuer names two issuers for {name or 'the federated user'}: {found[name]} and "
                               f"{user}")
        found[name] = user
    return tuple(found.items())


def accounts(values: list[str], assume_role: str | None) -> tuple[str, ...]:
    """--account ID (repeatable, or comma-separated): 12-digit account ids, only with --assume-role."""
    found = [a.strip() for value in values for a in value.split(",") if a.strip()]
    for account in found:
        if not _ACCOUNT.match(account):
            raise StsleakError(f"--account {account!r}: not a 12-digit AWS account id")
    if found and not assume_role:
        raise StsleakError("--account names the accounts --assume-role may act in: give --assume-role too (without "
                           "it the operator's credentials act only in their own account)")
    return tuple(dict.fromkeys(found))


def revoke_options(args: argparse.Namespace) -> RevokeOptions:
    """The revoke options every command that revokes accepts (add_revoke_options), as a typed value."""
    from scanner.response import RevokeOptions

    return RevokeOptions(scope=args.scope or "role", apply=args.yes,
                         audit_log=Path(args.audit_log) if args.audit_log else None,
                         include_operator=args.include_operator, assume_role=args.assume_role, refresh=args.refresh,
                         reactivate_leaked_keys=getattr(args, "reactivate_leaked_keys", False),
                         undo_target=getattr(args, "undo_target", None), issuers=issuers(args.issuer),
                         accounts=accounts(args.account, args.assume_role))


def _ask(plans: list[Plan], out: TextIO) -> bool:
    if not any(p.status == "planned" for p in plans):
        return False
    out.write("Apply this plan? [y/N] ")
    out.flush()
    answer = sys.stdin.readline().strip().lower() in ("y", "yes")
    if not answer:
        print("not applied", file=out)
    return answer


def prompt_callbacks(apply: bool, out: TextIO, title: str = "revocation plan",
                     interactive: bool | None = None) -> Callbacks:
    """Show the plan on `out`; apply with --yes, or after a "y" at a terminal's prompt (then plan again)."""
    from scanner.reports.plan import render_plans
    from scanner.response import Callbacks

    if interactive is None:
        interactive = not apply and sys.stdin.isatty() and out.isatty()
    asked = bool(interactive)

    def show(plans: list[Plan]) -> None:
        out.write(render_plans(plans, applying=apply or asked, title=title))

    def confirm(plans: list[Plan]) -> bool:
        return True if apply else _ask(plans, out) if asked else False

    def confirm_accounts(accounts: list[str]) -> bool:
        """--assume-role would act in accounts not named with --account: only a person at the prompt says yes."""
        if not asked:
            return False
        out.write(f"--assume-role would act in account(s) {', '.join(accounts)}, not named with --account (STS or "
                  f"the report says the leaked keys live there). Act in them? [y/N] ")
        out.flush()
        return sys.stdin.readline().strip().lower() in ("y", "yes")

    return Callbacks(show=show, confirm=confirm, replan=asked, confirm_accounts=confirm_accounts)


def print_run(run: RevocationRun, out: TextIO, undo: bool = False, with_run_id: bool = True) -> None:
    """The outcomes of an applied run, and where its audit records are."""
    from scanner.reports.plan import render_outcomes

    if run.applied:
        out.write(render_outcomes(run.plans, {"revoked": "undone"} if undo else None))
    if run.audit_path is not None:
        print(f"audit log: {run.audit_path}" + (f" (run {run.run_id})" if with_run_id else ""), file=out)
