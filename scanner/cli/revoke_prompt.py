"""What `revoke`, `scan --revoke` and `respond` show and ask around a revocation: the plan, the prompt, the outcome."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from scanner.response import Callbacks, RevocationRun, RevokeOptions
    from scanner.revocation.model import Plan


def revoke_options(args: argparse.Namespace) -> RevokeOptions:
    """The revoke options every command that revokes accepts (add_revoke_options), as a typed value."""
    from scanner.response import RevokeOptions

    return RevokeOptions(scope=args.scope or "role", apply=args.yes,
                         audit_log=Path(args.audit_log) if args.audit_log else None,
                         include_operator=args.include_operator, assume_role=args.assume_role, refresh=args.refresh,
                         reactivate_leaked_keys=getattr(args, "reactivate_leaked_keys", False),
                         undo_target=getattr(args, "undo_target", None))


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

    return Callbacks(show=show, confirm=confirm, replan=asked)


def print_run(run: RevocationRun, out: TextIO, undo: bool = False, with_run_id: bool = True) -> None:
    """The outcomes of an applied run, and where its audit records are."""
    from scanner.reports.plan import render_outcomes

    if run.applied:
        out.write(render_outcomes(run.plans, {"revoked": "undone"} if undo else None))
    if run.audit_path is not None:
        print(f"audit log: {run.audit_path}" + (f" (run {run.run_id})" if with_run_id else ""), file=out)
