"""Which AWS operation a raw HTTP request is, with its parameters shaped as CloudTrail records them.

The recording proxy (recording_proxy.py) and the emulators behind it (guardduty.py, iam_extras.py)
share this: query-protocol parameters are nested again (`IpPermissions.1.IpRanges.1.CidrIp` becomes
`{"ipPermissions": {"items": [{"ipRanges": {"items": [{"cidrIp": …}]}}]}}` for EC2 and
`ClientIDList.member.1` a plain list for IAM, RDS and STS, as in CloudTrail), and REST operations
(Lambda, GuardDuty, …) are named from botocore's service model (method + URI template), their URI
labels and body merged into `requestParameters`. Lambda's event names carry the API version suffix
CloudTrail gives them (`CreateFunction20150331`, `UpdateFunctionCode20150331v2`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

LAMBDA_V2 = frozenset({"UpdateFunctionCode", "UpdateFunctionConfiguration", "AddPermission", "RemovePermission",
                       "GetFunction", "GetFunctionConfiguration", "GetPolicy"})
S3_PUBLIC_HEADERS = ("x-amz-acl", "x-amz-grant-read", "x-amz-grant-read-acp", "x-amz-grant-write",
                     "x-amz-grant-write-acp", "x-amz-grant-full-control")


@dataclass
class Call:
    """One signed AWS request as the proxy saw it: who signed it, where, which operation, which parameters."""

    access_key_id: str
    region: str
    service: str  # the SigV4 signing name: iam, ec2, lambda, guardduty, …
    name: str  # the CloudTrail eventName
    params: dict[str, Any] = field(default_factory=dict)
    operation: str = ""  # the API operation (eventName without a version suffix)


def lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _tag(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def xml_to_dict(element: ET.Element) -> Any:
    """An AWS XML answer as CloudTrail shows it: `member` lists as lists, EC2's `item` lists as {"items": […]}."""
    children = list(element)
    if not children:
        return element.text or ""
    if all(_tag(c) == "member" for c in children):
        return [xml_to_dict(c) for c in children]
    if all(_tag(c) == "item" for c in children):
        return {"items": [xml_to_dict(c) for c in children]}
    return {lower_first(_tag(c)): xml_to_dict(c) for c in children}


def unflatten(form: dict[str, str], ec2: bool) -> dict[str, Any]:
    """Query-protocol keys (`A.member.1.B`, EC2's `A.1.B`) as nested values, each name lower-first."""
    tree: dict[str, Any] = {}
    for key, value in form.items():
        node: Any = tree
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break  # `A=1` and `A.B=2` both sent: keep the first
        else:
            node[parts[-1]] = value
    shaped = _shape(tree, ec2)
    return shaped if isinstance(shaped, dict) else {}


def _shape(node: Any, ec2: bool) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        items = [_shape(node[k], ec2) for k in sorted(node, key=int)]
        return {"items": items} if ec2 else items
    if set(node) == {"member"}:
        return _shape(node["member"], ec2)
    return {lower_first(k): _shape(v, ec2) for k, v in node.items()}


@functools.cache
def _rest_operations(service: str) -> tuple[tuple[str, str, re.Pattern[str], int, dict[str, str]], ...]:
    """(operation, method, path pattern, literal length, {uri label: member}) for a REST service."""
    import botocore.session
    from botocore.exceptions import UnknownServiceError

    try:
        model = botocore.session.get_session().get_service_model(service)
    except UnknownServiceError:
        return ()
    if model.protocol not in ("rest-json", "rest-xml"):
        return ()
    operations = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        uri = str(operation.http.get("requestUri", "/")).split("?", 1)[0]
        labels: dict[str, str] = {}
        members = operation.input_shape.members if operation.input_shape else {}
        for member, shape in members.items():
            if shape.serialization.get("location") == "uri":
                labels[shape.serialization.get("name", member)] = member
        pattern, literal = "", 0
        for piece in re.split(r"(\{[^}]+\})", uri):
            if piece.startswith("{"):
                label = piece.strip("{}")
                greedy = label.endswith("+")
                group = f"g{len(pattern)}"
                labels[group] = labels.get(label.rstrip("+"), label.rstrip("+"))
                pattern += f"(?P<{group}>{'.+' if greedy else '[^/]+'})"
            else:
                pattern += re.escape(piece)
                literal += len(piece)
        operations.append((name, str(operation.http.get("method", "POST")), re.compile(pattern.rstrip("/") + "/?$"),
                           literal, labels))
    return tuple(operations)


def rest_call(service: str, method: str, path: str, query: str, body: bytes) -> tuple[str, dict[str, Any]] | None:
    """(operation, CloudTrail-style requestParameters) of a REST request, or None if the model has no match."""
    best: tuple[int, str, dict[str, Any]] | None = None
    decoded = urllib.parse.unquote(path)
    for name, verb, pattern, literal, labels in _rest_operations(service):
        match = pattern.match(decoded) if verb == method else None
        if match and (best is None or literal > best[0]):
            best = (literal, name, {lower_first(labels[g]): v for g, v in match.groupdict().items()})
    if best is None:
        return None
    _, name, params = best
    for key, values in urllib.parse.parse_qs(query).items():
        params.setdefault(lower_first(key), values[0])
    try:
        data = json.loads(body) if body and body[:1] in (b"{", b"[") else {}
    except ValueError:
        data = {}
    if isinstance(data, dict):
        params.update({lower_first(k): v for k, v in data.items()})
    return name, params


def event_name(service: str, operation: str) -> str:
    """CloudTrail's eventName: the operation, with Lambda's API version suffix."""
    if service == "lambda":
        return operation + ("20150331v2" if operation in LAMBDA_V2 else "20150331")
    return operation


def s3_extra(name: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """What CloudTrail adds to S3 bucket writes: the policy set, the canned ACL and grants, the public access block."""
    extra: dict[str, Any] = {}
    if name == "PutBucketPolicy" and body:
        with contextlib.suppress(ValueError):
            extra["bucketPolicy"] = json.loads(body)
    if name == "PutBucketAcl":
        extra |= {h: [headers[h]] for h in S3_PUBLIC_HEADERS if headers.get(h)}
    if name in ("PutBucketAcl", "PutBucketPublicAccessBlock") and body.lstrip().startswith(b"<"):
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return extra
        extra[_tag(root)] = xml_to_dict(root)
    return extra
