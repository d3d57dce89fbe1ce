"""The one place that says which surface a revocation change writes."""

from __future__ import annotations

import pytest

from scanner.revocation.model import Change, Plan, Surface, Target, TargetKind, surface_of


@pytest.mark.parametrize(("operation", "surface"), [
    ("PutRolePolicy", Surface.IAM_ROLE), ("iam:DeleteRolePolicy", Surface.IAM_ROLE),
    ("CreatePolicyVersion", Surface.IAM_ROLE), ("AttachRolePolicy", Surface.IAM_ROLE),
    ("PutUserPolicy", Surface.IAM_USER), ("UpdateAccessKey", Surface.IAM_USER),
    ("sso-admin:PutInlinePolicyToPermissionSet", Surface.PERMISSION_SET),
    ("sso-admin:ProvisionPermissionSet", Surface.PERMISSION_SET),
])
def test_each_write_has_one_surface(operation: str, surface: Surface) -> None:
    assert surface_of(operation) is surface
    assert surface.service == ("sso-admin" if surface is Surface.PERMISSION_SET else "iam")


def test_an_unknown_operation_is_no_surface() -> None:
    with pytest.raises(ValueError, match="not a revocation write"):
        surface_of("GetRole")


def test_a_plan_writes_the_surface_of_its_changes() -> None:
    plan = Plan(Target(TargetKind.ROLE, "etl"), "role", "etl")
    assert plan.surface is None
    plan.changes.append(Change("sso-admin:PutInlinePolicyToPermissionSet", {"InlinePolicy": "{}"}, "x"))
    assert plan.surface is Surface.PERMISSION_SET
    assert plan.changes[0].document_text == "{}"
