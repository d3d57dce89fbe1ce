"""Run a removal command exactly as the incident report prints it (`aws SERVICE OPERATION --option value …`),
with the operator's credentials, through boto3: the AWS CLI's own argument rules, read from botocore's
service model (option = the input member in kebab case; lists take several words, structures and lists
of structures take JSON, booleans are flags, `file://` and `fileb://` read files). `a && b` runs both.
Commands with a placeholder (YOUR-…, <…>, file://…-before…) are not runnable on purpose."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore import xform_name

SERVICES = {"s3api": "s3", "configservice": "config"}
Factory = Callable[[str, str], Any]  # (service, region) -> a boto3 client


def runnable(command: str) -> str:
    """The command without the note the report puts after it (two spaces, then a parenthesis)."""
    return command.split("  (", 1)[0].strip()


def run(command: str, client: Factory, default_region: str = "us-east-1") -> list[dict[str, Any]]:
    answers = []
    for part in runnable(command).split(" && "):
        answers.append(_one(shlex.split(part), client, default_region))
    return answers


def _one(words: list[str], client: Factory, default_region: str) -> dict[str, Any]:
    assert words[:1] == ["aws"] and len(words) >= 3, words
    service, operation = SERVICES.get(words[1], words[1]), words[2]
    options: dict[str, list[str]] = {}
    current = ""
    for word in words[3:]:
        if word.startswith("--"):
            current = word[2:]
            options[current] = []
        else:
            assert current, f"a value before any option: {word}"
            options[current].append(word)
    region = options.pop("region", [default_region])[0]
    boto = client(service, region)
    model = boto.meta.service_model
    name = next((n for n in model.operation_names if xform_name(n, "-") == operation), None)
    assert name, f"{words[1]} has no operation {operation}"
    shape = model.operation_model(name).input_shape
    members = {xform_name(m, "-"): (m, s) for m, s in shape.members.items()} if shape else {}
    params: dict[str, Any] = {}
    for option, values in options.items():
        negated = option.startswith("no-") and option[3:] in members
        key = option[3:] if negated else option
        assert key in members, f"aws {words[1]} {operation} has no option --{option}"
        member, member_shape = members[key]
        params[member] = _value(member_shape, values, negated)
    return dict(getattr(boto, xform_name(name))(**params))


def _value(shape: Any, values: list[str], negated: bool) -> Any:
    kind = shape.type_name
    if kind == "boolean":
        return not negated if not values else values[0].lower() == "true"
    assert values, f"no value for a {kind}"
    if kind == "list" and shape.member.type_name not in ("structure", "list", "map"):
        return [_scalar(shape.member, v) for v in values]
    if kind in ("structure", "list", "map"):
        return json.loads(_read(values[0]))
    return _scalar(shape, values[0])


def _scalar(shape: Any, value: str) -> Any:
    if shape.type_name in ("integer", "long"):
        return int(value)
    if shape.type_name == "blob":
        return Path(value.removeprefix("fileb://")).read_bytes() if value.startswith("fileb://") else value.encode()
    return _read(value)


def _read(value: str) -> str:
    return Path(value.removeprefix("file://")).read_text() if value.startswith("file://") else value
