"""Scheduler engine: enabled EventBridge rules with a schedule expression fire their targets, as EventBridge does.

What it imitates (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-rule-schedule.html):
- Rules of the default event bus (every region of the context) with a
  ScheduleExpression and State ENABLED are listed every second. ``rate()``
  runs one period after the engine first sees the rule enabled (its creation
  or enable time, within a second) and every period after; ``cron()`` runs
  on UTC wall-clock times (see ``schedule.py`` for the fields supported). A
  run missed while the emulator was down or busy is not made up; a disabled
  rule does not run and a re-enabled rate rule counts from its re-enable.
- A run sends the scheduled event EventBridge sends (``{"version": "0", "id",
  "detail-type": "Scheduled Event", "source": "aws.events", "account", "time"
  (the scheduled time), "region", "resources": [rule ARN], "detail": {}}``),
  or the target's Input / InputPath / InputTransformer, to each target:
  Lambda functions are invoked asynchronously (``InvocationType=Event``) only
  when the function's resource policy allows ``events.amazonaws.com``
  (``lambda:InvokeFunction``, Resource, and SourceArn / SourceAccount
  conditions), otherwise the invocation fails and nothing is invoked; SQS
  queues get SendMessage, SNS topics Publish (their resource policies are not
  evaluated).
- Metrics in ``AWS/Events`` (dimension RuleName): ``TriggeredRules``,
  ``Invocations`` (every target invocation, failed ones included, as AWS
  counts them), ``FailedInvocations``.
- A test-only way to run a rule now: ``python -m emulator.engines.scheduler
  fire <rule> [--region R]`` (``fire_rule``), against the emulator of the
  environment (SMARTSTREAM_RUN_DIR / SMARTSTREAM_MOTO_PORT).

Known gaps: no retry policy / dead-letter queue of targets (EventBridge
retries failed deliveries for 24 h); no RoleArn-based targets (Kinesis, Step
Functions, ECS...), no event-pattern rules (moto delivers PutEvents itself
to SQS / logs targets); EventBridge Scheduler (the ``scheduler`` service) is
not served; whether the Lambda runs is the lambda_runtime engine's business.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emulator.engines.host import EngineContext, EngineHost
from emulator.engines.scheduler.schedule import Schedule, parse
from emulator.engines.scheduler.targets import event_input, lambda_allows

ENGINE = "scheduler"
POLL_S = 1.0


@dataclass
class RuleState:
    expression: str
    schedule: Schedule | None
    anchor: datetime
    next_run: datetime | None


class SchedulerEngine:
    """The schedules of the enabled rules, keyed by rule ARN."""

    def __init__(self, ctx: EngineContext, host: EngineHost | None = None):
        self.ctx = ctx
        self.host = host
        self.log = host.logger(ENGINE) if host else logging.getLogger(f"smartstream.engine.{ENGINE}")
        self.status = host.status(ENGINE) if host else None
        self.rules: dict[str, RuleState] = {}
        self.errors: list[str] = []  # of this engine's life (the fire-now CLI prints them)
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str) -> Any:
        if (service, region) not in self._clients:
            self._clients[(service, region)] = self.ctx.client(service, region)
        return self._clients[(service, region)]

    def tick(self, now: datetime | None = None) -> None:
        """Run every enabled scheduled rule that is due at ``now``."""
        now = now or datetime.now(UTC)
        seen = set()
        for region in self.ctx.regions:
            for rule in self._scheduled_rules(region):
                arn, expression = rule["Arn"], rule["ScheduleExpression"]
                seen.add(arn)
                state = self.rules.get(arn)
                if state is None or state.expression != expression:
                    state = self._start(rule, now)
                    self.rules[arn] = state
                if state.next_run is not None and now >= state.next_run:
                    scheduled, state.next_run = state.next_run, state.schedule.next_after(now, state.anchor)
                    self.fire(region, rule, scheduled)
        for arn in set(self.rules) - seen:  # disabled, deleted, or reset: forgotten
            del self.rules[arn]

    def _scheduled_rules(self, region: str) -> list[dict[str, Any]]:
        events, request, rules = self.client("events", region), {}, []
        while True:
            page = events.list_rules(**request)
            rules += [r for r in page.get("Rules", []) if r.get("ScheduleExpression") and r.get("State") == "ENABLED"]
            if not page.get("NextToken"):
                return rules
            request = {"NextToken": page["NextToken"]}

    def _start(self, rule: dict[str, Any], now: datetime) -> RuleState:
        expression = rule["ScheduleExpression"]
        try:
            schedule: Schedule | None = parse(expression)
        except ValueError as exc:
            self._error(f"rule {rule['Name']}: {exc}")
            return RuleState(expression, None, now, None)
        state = RuleState(expression, schedule, now, schedule.next_after(now, now))
        self.log.info("rule %s (%s): next run %s", rule["Name"], expression, state.next_run)
        return state

    def fire(self, region: str, rule: dict[str, Any], scheduled: datetime) -> dict[str, int]:
        """Send the scheduled event of ``rule`` to each of its targets; returns the invocation counts."""
        events = self.client("events", region)
        name, arn = rule["Name"], rule["Arn"]
        targets, request = [], {"Rule": name}
        while True:
            page = events.list_targets_by_rule(**request)
            targets += page.get("Targets", [])
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
        account = arn.split(":")[4]
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": account,
            "time": scheduled.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region,
            "resources": [arn],
            "detail": {},
        }
        counts = {"invocations": 0, "failed": 0}
        for target in targets:
            counts["invocations"] += 1
            try:
                self._send(region, rule, target, event_input(target, event, rule))
                self.log.info("rule %s: target %s invoked (%s)", name, target["Id"], target["Arn"])
            except Exception as exc:  # a target failing never stops the others or the loop
                counts["failed"] += 1
                self._error(f"rule {name}: target {target['Id']} ({target['Arn']}): {exc}")
        metrics = [
            ("TriggeredRules", 1),
            ("Invocations", counts["invocations"]),
            ("FailedInvocations", counts["failed"]),
        ]
        try:
            self.client("cloudwatch", region).put_metric_data(
                Namespace="AWS/Events",
                MetricData=[
                    {"MetricName": m, "Value": v, "Unit": "Count", "Dimensions": [{"Name": "RuleName", "Value": name}]}
                    for m, v in metrics
                ],
            )
        except Exception as exc:
            self.log.warning("rule %s: metrics not published: %s", name, exc)
        if self.status:
            self.status.count("runs", 1)
            self.status.count("invocations", counts["invocations"] - counts["failed"])
            self.status.count("failed_invocations", counts["failed"])
            self.status.action(f"rule {name}: {counts['invocations']} targets, {counts['failed']} failed")
        return counts

    def _send(self, region: str, rule: dict[str, Any], target: dict[str, Any], payload: str) -> None:
        arn = target["Arn"]
        service = arn.split(":")[2]
        if service == "lambda":
            awslambda = self.client("lambda", region)
            allowed, reason = lambda_allows(awslambda, arn, rule["Arn"])
            if not allowed:
                raise PermissionError(f"the function's resource policy does not allow events.amazonaws.com: {reason}")
            awslambda.invoke(FunctionName=arn, InvocationType="Event", Payload=payload.encode())
        elif service == "sqs":
            sqs = self.client("sqs", region)
            url = sqs.get_queue_url(QueueName=arn.split(":")[5], QueueOwnerAWSAccountId=arn.split(":")[4])["QueueUrl"]
            extra = {}
            if "SqsParameters" in target and target["SqsParameters"].get("MessageGroupId"):
                extra["MessageGroupId"] = target["SqsParameters"]["MessageGroupId"]
            sqs.send_message(QueueUrl=url, MessageBody=payload, **extra)
        elif service == "sns":
            self.client("sns", region).publish(TopicArn=arn, Message=payload)
        else:
            raise NotImplementedError(f"{service} targets are not served by the emulator")

    def _error(self, text: str) -> None:
        self.log.error("%s", text)
        self.errors = [*self.errors[-99:], text]
        if self.status:
            self.status.error(text)


def fire_rule(
    ctx: EngineContext, rule_name: str, region: str | None = None, engine: SchedulerEngine | None = None
) -> dict[str, int]:
    """Run ``rule_name`` now, as its schedule would (test-only; the rule need not be enabled)."""
    region = region or ctx.regions[0]
    engine = engine or SchedulerEngine(ctx)
    rule = engine.client("events", region).describe_rule(Name=rule_name)
    return engine.fire(region, rule, datetime.now(UTC))


def install(host: EngineHost) -> SchedulerEngine:
    """Run the schedules of every enabled rule in a loop of the engine host."""
    engine = SchedulerEngine(host.ctx, host)
    host.every(ENGINE, POLL_S, engine.tick)
    return engine


__all__ = ["SchedulerEngine", "fire_rule", "install", "parse"]
