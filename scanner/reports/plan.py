"""Revocation plans and outcomes as text: what will be (or was) done, before anyone applies it."""

from __future__ import annotations

from scanner.model import Finding
from scanner.revocation.model import Plan, Surface


def _change_lines(plan: Plan) -> list[str]:
    lines: list[str] = []
    for change in plan.changes:
        what = change.summary()  # sso-admin operations are printed as they are, with the permission set
        if change.surface is Surface.PERMISSION_SET and plan.policy_name:
            what = f"{change.operation} {plan.policy_name}"
        lines.append(f"    call:              {what}")
        document = change.document_text
        if document:
            lines.append(f"    policy:            {document}")
        if change.operation == "UpdateAccessKey":
            lines.append(f"    status:            {change.params['Status']}")
    lines += [f"    replaces:          {previous}" for previous in plan.replaces]
    return lines


def _where(finding: Finding) -> str:
    """Where a finding is; a credential the leaked one minted is in no file (it came from CloudTrail)."""
    if finding.path:
        return f"{finding.access_key_id} at {finding.path}:{finding.line}"
    return f"{finding.access_key_id} (minted by the leaked credentials: seen in CloudTrail, not in a file)"


def render_plans(plans: list[Plan], applying: bool, title: str = "revocation plan") -> str:
    head = title + ("" if applying else " (DRY RUN: nothing is changed; --yes applies it)")
    lines = [head]
    for plan in plans:
        lines.append(f"- {plan.label}  [{plan.scope} scope]  {plan.status.upper()}")
        if plan.message:
            lines.append(f"    {plan.message}")
        if plan.status != "planned":
            continue
        if plan.cutoff:
            lines.append(f"    cutoff (UTC):      {plan.cutoff}")
        lines += _change_lines(plan)
        lines += [f"    re-enables:        {what}" for what in plan.reenables]
        if plan.trusted_principals is not None:
            lines.append(f"    trusted by:        {', '.join(plan.trusted_principals) or 'nobody'}")
        if plan.denied_principals:
            lines.append(f"    denied by trust:   {', '.join(plan.denied_principals)} (never trusted)")
        if plan.instance_profiles is not None:
            lines.append(f"    instance profiles: {', '.join(plan.instance_profiles) or 'none'}")
        lines += [f"    breaks:            {what}" for what in plan.breaks]
        lines += [f"    not cut:           {what}" for what in plan.not_cut]
        lines += [f"    note: {caveat}" for caveat in plan.caveats]
        lines += [f"    finding: {_where(f)}" for f in plan.target.findings]
    return "\n".join(lines) + "\n"


def render_outcomes(plans: list[Plan], words: dict[str, str] | None = None) -> str:
    lines = []
    for plan in plans:
        word = (words or {}).get(plan.status, plan.status)
        lines.append(f"{word}: {plan.label}" + (f" ({plan.message})" if plan.message else ""))
        lines += [f"    audit log: {error}" for error in plan.audit_errors]
    return "".join(line + "\n" for line in lines)
