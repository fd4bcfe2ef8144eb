"""The scheduler engine: EventBridge rate()/cron() rules fire their targets, as EventBridge does."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from emulator.engines import scheduler as scheduler_engine
from emulator.engines.scheduler import SchedulerEngine, fire_rule, parse
from emulator.engines.scheduler.__main__ import main as cli
from emulator.engines.scheduler.targets import event_input, json_path

ACCOUNT = "123456789012"
T0 = datetime(2025, 1, 1, 1, 0, 0, tzinfo=UTC)  # a Wednesday


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ------------------------------------------------------------------ schedule expressions
def test_rate_runs_every_period_from_the_anchor() -> None:
    five = parse("rate(5 minutes)")
    assert five.next_after(T0, T0) == T0 + timedelta(minutes=5)
    assert five.next_after(T0 + timedelta(minutes=5), T0) == T0 + timedelta(minutes=10)
    assert five.next_after(T0 + timedelta(minutes=12, seconds=1), T0) == T0 + timedelta(minutes=15)
    assert parse("rate(1 hour)").next_after(T0, T0) == T0 + timedelta(hours=1)
    assert parse("rate(2 days)").next_after(T0, T0) == T0 + timedelta(days=2)
    for invalid in ("rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "rate(5 weeks)", "every 5 minutes"):
        with pytest.raises(ValueError):
            parse(invalid)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0 2 * * ? *)", T0, _utc(2025, 1, 1, 2, 0)),  # every day at 02:00 UTC
        ("cron(0 2 * * ? *)", _utc(2025, 1, 1, 2, 0), _utc(2025, 1, 2, 2, 0)),  # strictly after
        ("cron(0/15 * ? * MON-FRI *)", _utc(2025, 1, 1, 10, 7), _utc(2025, 1, 1, 10, 15)),
        ("cron(0/15 * ? * MON-FRI *)", _utc(2025, 1, 3, 23, 50), _utc(2025, 1, 6, 0, 0)),  # Fri -> Mon
        ("cron(0 12 ? * 1 *)", T0, _utc(2025, 1, 5, 12, 0)),  # AWS day 1 is Sunday
        ("cron(0 18 ? * 2-6 *)", _utc(2025, 1, 3, 19, 0), _utc(2025, 1, 6, 18, 0)),  # MON-FRI as numbers
        ("cron(0 9 ? * 2#1 *)", _utc(2025, 1, 10), _utc(2025, 2, 3, 9, 0)),  # first Monday
        ("cron(0 10 ? * 6L *)", T0, _utc(2025, 1, 31, 10, 0)),  # last Friday
        ("cron(0 12 L * ? *)", _utc(2025, 2, 1), _utc(2025, 2, 28, 12, 0)),  # last day of the month
        ("cron(0 8 15W * ? *)", _utc(2025, 2, 1), _utc(2025, 2, 14, 8, 0)),  # weekday nearest the 15th (a Sat)
        ("cron(0 8 1 * ? *)", _utc(2025, 1, 1, 8, 0), _utc(2025, 2, 1, 8, 0)),
        ("cron(30 6 1 JAN ? 2030)", T0, _utc(2030, 1, 1, 6, 30)),  # year field
        ("cron(0 0 1 1 ? 2025-2026)", _utc(2026, 6, 1), None),  # no run left
    ],
)
def test_cron_follows_aws_fields(expression: str, after: datetime, expected: datetime | None) -> None:
    assert parse(expression).next_after(after) == expected


@pytest.mark.parametrize(
    "invalid",
    ["cron(0 2 * * * *)", "cron(0 2 ? * ? *)", "cron(0 2 * * ?)", "cron(0 2 LW * ? *)", "cron(0 2 ? * 8 *)"],
)
def test_invalid_or_unsupported_cron_is_refused(invalid: str) -> None:
    with pytest.raises(ValueError):
        parse(invalid)


def test_input_transformer_and_input_path() -> None:
    event = {"time": "2025-01-01T02:00:00Z", "resources": ["arn:r"], "detail": {}, "account": ACCOUNT}
    rule = {"Name": "r", "Arn": "arn:r"}
    assert json_path("$.resources[0]", event) == "arn:r"
    assert event_input({"Input": '{"mode": "batch"}'}, event, rule) == '{"mode": "batch"}'
    assert json.loads(event_input({"InputPath": "$.detail"}, event, rule)) == {}
    transformer = {
        "InputPathsMap": {"t": "$.time", "a": "$.account"},
        "InputTemplate": '{"at": <t>, "msg": "acct <a>"}',
    }
    assert json.loads(event_input({"InputTransformer": transformer}, event, rule)) == {
        "at": "2025-01-01T02:00:00Z",
        "msg": f"acct {ACCOUNT}",
    }


# ------------------------------------------------------------------ the engine against the emulator
@pytest.fixture
def invocations(emulator: str, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Lambda invocations reaching moto's Invoke (recorded instead of run: running is lambda_runtime's job)."""
    from moto.awslambda.models import LambdaBackend

    calls: list[dict[str, Any]] = []

    def invoke(self: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any) -> str:
        calls.append(
            {"function": function_name, "type": headers.get("x-amz-invocation-type"), "event": json.loads(body)}
        )
        return ""

    monkeypatch.setattr(LambdaBackend, "invoke", invoke)
    return calls


def _function(name: str) -> str:
    role = boto3.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return boto3.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": buffer.getvalue()},
    )["FunctionArn"]


def _rule(name: str, expression: str, target_arn: str, state: str = "ENABLED", **target: Any) -> str:
    events = boto3.client("events")
    arn = events.put_rule(Name=name, ScheduleExpression=expression, State=state)["RuleArn"]
    events.put_targets(Rule=name, Targets=[{"Id": "t1", "Arn": target_arn, **target}])
    return arn


def _allow(function: str, rule_arn: str) -> None:
    boto3.client("lambda").add_permission(
        FunctionName=function,
        StatementId="eventbridge-schedule",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )


def _metric(rule: str, name: str) -> float:
    points = boto3.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Events",
        MetricName=name,
        Dimensions=[{"Name": "RuleName", "Value": rule}],
        StartTime=datetime.now(UTC) - timedelta(minutes=5),
        EndTime=datetime.now(UTC) + timedelta(minutes=5),
        Period=600,
        Statistics=["Sum"],
    )["Datapoints"]
    return points[0]["Sum"] if points else 0.0


def test_rate_rule_invokes_its_lambda_with_the_scheduled_event(engine_host: Any, invocations: list) -> None:
    # Given an enabled rate(1 minute) rule targeting a function whose policy allows this rule
    function_arn = _function("ml")
    rule_arn = _rule("ml-schedule", "rate(1 minute)", function_arn)
    _allow("ml", rule_arn)
    engine = SchedulerEngine(engine_host.ctx, engine_host)
    # When the engine first sees it, Then nothing runs yet; one minute later, the function is invoked
    engine.tick(T0)
    engine.tick(T0 + timedelta(seconds=59))
    assert invocations == []
    engine.tick(T0 + timedelta(seconds=60, milliseconds=300))
    assert len(invocations) == 1
    call = invocations[0]
    assert call["function"] == function_arn and call["type"] == "Event"
    event = call["event"]
    assert {k: event[k] for k in ("version", "detail-type", "source", "account", "region", "resources", "detail")} == {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "region": "us-east-1",
        "resources": [rule_arn],
        "detail": {},
    }
    assert event["time"] == "2025-01-01T01:01:00Z" and len(event["id"]) == 36
    # And again each minute, with the metrics AWS publishes
    engine.tick(T0 + timedelta(seconds=121))
    assert len(invocations) == 2
    assert _metric("ml-schedule", "TriggeredRules") == 2 and _metric("ml-schedule", "Invocations") == 2
    assert _metric("ml-schedule", "FailedInvocations") == 0


def test_lambda_without_a_policy_for_the_rule_is_not_invoked(engine_host: Any, invocations: list) -> None:
    # Given a function whose policy allows another rule only, and a cron rule targeting it
    function_arn = _function("ml")
    _allow("ml", f"arn:aws:events:us-east-1:{ACCOUNT}:rule/another-rule")
    _rule("ml-schedule", "cron(0 2 * * ? *)", function_arn)
    engine = SchedulerEngine(engine_host.ctx, engine_host)
    # When its time comes
    engine.tick(_utc(2025, 1, 1, 1, 59, 30))
    engine.tick(_utc(2025, 1, 1, 2, 0, 0, 400000))
    # Then the invocation fails as on AWS: nothing invoked, FailedInvocations 1
    assert invocations == []
    assert _metric("ml-schedule", "TriggeredRules") == 1 and _metric("ml-schedule", "FailedInvocations") == 1
    assert "resource policy" in (engine.status.last_error or "")


def test_disabled_rules_do_not_fire_and_input_transformer_is_sent(engine_host: Any, invocations: list) -> None:
    # Given a disabled rule and an enabled one with an InputTransformer
    function_arn = _function("ml")
    disabled = _rule("off", "rate(1 minute)", function_arn, state="DISABLED")
    transformer = {"InputPathsMap": {"when": "$.time"}, "InputTemplate": '{"scheduled_at": <when>, "mode": "batch"}'}
    enabled = _rule("on", "rate(1 minute)", function_arn, InputTransformer=transformer)
    _allow("ml", f"arn:aws:events:us-east-1:{ACCOUNT}:rule/*")
    engine = SchedulerEngine(engine_host.ctx, engine_host)
    # When two minutes pass
    for seconds in (0, 61, 122):
        engine.tick(T0 + timedelta(seconds=seconds))
    # Then only the enabled rule ran, with the transformed input
    assert [c["event"] for c in invocations] == [
        {"scheduled_at": "2025-01-01T01:01:00Z", "mode": "batch"},
        {"scheduled_at": "2025-01-01T01:02:00Z", "mode": "batch"},
    ]
    assert disabled not in engine.rules and enabled in engine.rules


def test_sqs_target_gets_the_event(engine_host: Any) -> None:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="scheduled")["QueueUrl"]
    _rule("to-queue", "rate(5 minutes)", f"arn:aws:sqs:us-east-1:{ACCOUNT}:scheduled", Input='{"x": 1}')
    engine = SchedulerEngine(engine_host.ctx, engine_host)
    engine.tick(T0)
    engine.tick(T0 + timedelta(minutes=5))
    assert json.loads(sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"]) == {"x": 1}


def test_fire_now_cli_and_function(engine_host: Any, invocations: list, capsys: pytest.CaptureFixture) -> None:
    # Given a rule whose schedule is far away
    function_arn = _function("ml")
    rule_arn = _rule("ml-schedule", "cron(0 2 1 1 ? 2099)", function_arn)
    _allow("ml", rule_arn)
    # When it is fired now, by the function and by the CLI against the emulator
    assert fire_rule(engine_host.ctx, "ml-schedule") == {"invocations": 1, "failed": 0}
    assert cli(["fire", "ml-schedule", "--endpoint", engine_host.ctx.endpoint_url, "--region", "us-east-1"]) == 0
    # Then the function was invoked twice with the scheduled event, and the CLI printed the counts
    assert [c["event"]["resources"] for c in invocations] == [[rule_arn], [rule_arn]]
    assert json.loads(capsys.readouterr().out) == {"rule": "ml-schedule", "invocations": 1, "failed": 0}


def test_install_registers_the_loop(engine_host: Any) -> None:
    engine = scheduler_engine.install(engine_host)
    assert isinstance(engine, SchedulerEngine)
