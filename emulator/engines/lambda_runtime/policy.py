"""Whether a function's resource policy lets a service principal invoke it (what Lambda checks for S3).

AWS evaluates the resource-based policy of the function when a service (S3, EventBridge) invokes it: a
statement must Allow the service principal (or ``*``), the action (``lambda:InvokeFunction``, wildcards
allowed), the function (its unqualified ARN, or the ARN with a wildcard), and every condition must hold
for the request context (``AWS:SourceArn`` = the bucket ARN, ``AWS:SourceAccount`` = the bucket owner);
an explicit Deny wins. Condition operators understood: String/Arn Equals, NotEquals, Like, NotLike (with
``IfExists``); a statement with another operator does not apply (so it never grants by accident).
"""

from __future__ import annotations

import fnmatch
from typing import Any

_SOURCE_KEYS = {"aws:sourcearn": "source_arn", "aws:sourceaccount": "source_account"}


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _principal_matches(principal: Any, service: str) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return service in _listify(principal.get("Service", [])) or "*" in _listify(principal.get("AWS", []))
    return False


def _action_matches(actions: Any, action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), str(a).lower()) for a in _listify(actions))


def _resource_matches(resources: Any, function_arn: str) -> bool:
    unqualified = function_arn.split(":function:")[0] + ":function:" + function_arn.split(":function:")[1].split(":")[0]
    wanted = {unqualified, f"{unqualified}:$LATEST", function_arn}
    return any(fnmatch.fnmatchcase(arn, str(r)) for r in _listify(resources or "*") for arn in wanted)


def _condition_holds(operator: str, actual: str | None, expected: Any) -> bool | None:
    if_exists = operator.endswith("IfExists")
    op = operator.removesuffix("IfExists")
    if actual is None:
        return if_exists or op.startswith(("StringNot", "ArnNot"))
    values = [str(v) for v in _listify(expected)]
    if op in ("StringEquals", "ArnEquals"):
        return actual in values
    if op in ("StringNotEquals", "ArnNotEquals"):
        return actual not in values
    if op in ("StringLike", "ArnLike"):
        return any(fnmatch.fnmatchcase(actual, v) for v in values)
    if op in ("StringNotLike", "ArnNotLike"):
        return not any(fnmatch.fnmatchcase(actual, v) for v in values)
    if op == "StringEqualsIgnoreCase":
        return actual.lower() in [v.lower() for v in values]
    return None


def _conditions_hold(conditions: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, clauses in (conditions or {}).items():
        for key, expected in clauses.items():
            field = _SOURCE_KEYS.get(key.lower())
            actual = context.get(field) if field else None
            if _condition_holds(operator, actual, expected) is not True:
                return False
    return True


def allows(document: dict[str, Any] | None, principal: str, action: str, function_arn: str, context: dict) -> bool:
    """Whether ``document`` (a policy) lets the service ``principal`` do ``action`` on the function."""
    allowed = False
    for statement in _listify((document or {}).get("Statement", [])):
        if not (
            _principal_matches(statement.get("Principal"), principal)
            and _action_matches(statement.get("Action", []), action)
            and _resource_matches(statement.get("Resource"), function_arn)
            and _conditions_hold(statement.get("Condition", {}), context)
        ):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed
