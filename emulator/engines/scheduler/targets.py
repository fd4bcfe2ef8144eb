"""What a scheduled rule sends to a target, and whether a Lambda function lets EventBridge invoke it.

- Input / InputPath / InputTransformer:
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html
- Lambda resource-based policies for EventBridge:
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-lambda-permissions
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from typing import Any

from botocore.exceptions import ClientError

_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def json_path(path: str, event: Any) -> Any:
    """The value at a simple JSONPath (``$``, ``$.a.b``, ``$.a[0]``) of ``event``; None when absent."""
    if not path.startswith("$"):
        raise ValueError(f"JSONPath must start with $: {path!r}")
    value, rest = event, path[1:]
    for match in _PATH_TOKEN.finditer(rest):
        key, index = match.groups()
        if key is not None:
            value = value.get(key) if isinstance(value, dict) else None
        else:
            value = value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
    return value


def _render(template: str, values: dict[str, Any]) -> str:
    """Fill ``<name>`` placeholders: raw text inside a JSON string, a JSON value outside one."""
    out, in_string, i = [], False, 0
    while i < len(template):
        char = template[i]
        if char == "\\" and in_string:
            out.append(template[i : i + 2])
            i += 2
            continue
        if char == '"':
            in_string = not in_string
        match = _PLACEHOLDER.match(template, i) if char == "<" else None
        if match and match.group(1) in values:
            value = values[match.group(1)]
            if in_string:
                out.append(json.dumps(value)[1:-1] if isinstance(value, str) else json.dumps(value))
            else:
                out.append(json.dumps(value))
            i = match.end()
            continue
        out.append(char)
        i += 1
    return "".join(out)


def event_input(target: dict[str, Any], event: dict[str, Any], rule: dict[str, Any]) -> str:
    """The payload a target gets: Input as is, InputPath's value, InputTransformer's template, or the event."""
    if target.get("Input") is not None:
        return target["Input"]
    if target.get("InputPath"):
        return json.dumps(json_path(target["InputPath"], event))
    transformer = target.get("InputTransformer")
    if transformer:
        values = {name: json_path(path, event) for name, path in (transformer.get("InputPathsMap") or {}).items()}
        values.setdefault("aws.events.rule-arn", rule["Arn"])
        values.setdefault("aws.events.rule-name", rule["Name"])
        values.setdefault("aws.events.event.ingestion-time", event["time"])
        values.setdefault("aws.events.event", event)
        values.setdefault("aws.events.event.json", event)
        return _render(transformer["InputTemplate"], values)
    return json.dumps(event)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _principal_is_events(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return "events.amazonaws.com" in _listed(principal.get("Service", [])) or "*" in _listed(
            principal.get("AWS", [])
        )
    return False


def _conditions_hold(conditions: dict[str, Any], context: dict[str, str]) -> tuple[bool, str]:
    for operator, clauses in conditions.items():
        op = operator.removesuffix("IfExists")
        for key, expected in clauses.items():
            actual = context.get(key.lower())
            if actual is None:
                if operator.endswith("IfExists"):
                    continue
                return False, f"condition key {key} is not in EventBridge's request"
            wanted = [str(v) for v in _listed(expected)]
            if op in ("ArnLike", "StringLike", "ArnEquals", "StringEquals", "StringEqualsIgnoreCase"):
                like = op.endswith("Like") or op == "ArnEquals"  # ARN operators match wildcards
                fold = op == "StringEqualsIgnoreCase"
                if not any(
                    fnmatchcase(actual, w) if like else (actual.lower() == w.lower() if fold else actual == w)
                    for w in wanted
                ):
                    return False, f"{operator} {key} {wanted} does not match {actual}"
            else:
                return False, f"condition operator {operator} is not evaluated by the emulator"
    return True, ""


def lambda_allows(awslambda: Any, function_arn: str, rule_arn: str) -> tuple[bool, str]:
    """Whether the function's resource policy lets events.amazonaws.com invoke it for ``rule_arn`` (and why not)."""
    try:
        policy = json.loads(awslambda.get_policy(FunctionName=function_arn)["Policy"])
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return False, "the function has no resource-based policy (or does not exist)"
        raise
    context = {"aws:sourcearn": rule_arn, "aws:sourceaccount": rule_arn.split(":")[4]}
    unqualified = ":".join(function_arn.split(":")[:7])
    allowed, reasons = False, []
    for statement in _listed(policy.get("Statement", [])):
        if not _principal_is_events(statement.get("Principal")):
            continue
        actions = [a.lower() for a in _listed(statement.get("Action", []))]
        if not any(fnmatchcase("lambda:invokefunction", a) for a in actions):
            continue
        resources = _listed(statement.get("Resource", "*"))
        if not any(fnmatchcase(function_arn, r) or fnmatchcase(unqualified, r) for r in resources):
            continue
        holds, reason = _conditions_hold(statement.get("Condition") or {}, context)
        if not holds:
            reasons.append(f"{statement.get('Sid', '?')}: {reason}")
            continue
        if statement.get("Effect") == "Deny":
            return False, f"denied by statement {statement.get('Sid', '?')}"
        allowed = True
    return allowed, "; ".join(reasons) or "no statement allows events.amazonaws.com lambda:InvokeFunction"
