"""PostgreSQL -> DMS -> Kinesis -> Firehose -> raw/ -> transform -> trusted/: every change arrives, exactly.

The tests run in file order on one converged platform (see conftest.py).
"""

from __future__ import annotations

import json
import time

from tests.e2e import workload
from tests.e2e.conftest import converged
from tests.harness import dataflow


def test_the_seeded_rows_arrive_in_trusted(platform, source):
    # Given the seeded source (site.yml started the task), Then trusted/ derives the same table
    waited = converged(platform, source)
    assert len(dataflow.source_state(source)) >= 53
    assert dataflow.objects(platform, "raw/"), "nothing in raw/"
    print(f"seed arrived in {waited:.1f} s")


def test_random_transactions_arrive_exactly(platform, source):
    # Given thousands of random inserts, updates (several per key), deletes and key changes in transactions
    counts = workload.run(source, transactions=150, seed=7, tag="random")
    assert sum(counts.values()) > 2000 and counts["key_change"] > 0
    # Then the latest state derived from trusted/ equals the source table row for row
    waited = converged(platform, source)
    print(f"random workload {counts}: trusted/ equal to the source {waited:.1f} s after the last commit")


def test_replication_stopped_and_resumed_loses_nothing(platform, source):
    dms = platform.client("dms")
    before = workload.run(source, transactions=20, seed=11, tag="before")
    dms.stop_replication_task(ReplicationTaskArn=platform.task_arn)
    dataflow.wait_until(lambda: _task_status(dms, platform) == "stopped", 60)
    # When changes are made while the task is stopped
    stopped = workload.run(source, transactions=20, seed=12, tag="stopped")
    dms.start_replication_task(ReplicationTaskArn=platform.task_arn, StartReplicationTaskType="resume-processing")
    dataflow.wait_until(lambda: _task_status(dms, platform) == "running", 60)
    # Then, after resuming, nothing is lost
    waited = converged(platform, source)
    print(
        f"{sum(before.values())} changes just before the stop, {sum(stopped.values())} while stopped;"
        f" after resume-processing trusted/ equal to the source in {waited:.1f} s"
    )


def test_copying_every_raw_object_onto_itself_adds_no_rows(platform, source):
    converged(platform, source)
    s3 = platform.client("s3")
    before_rows = dataflow.trusted_changes(platform).num_rows
    before_keys = sorted(o["Key"] for o in dataflow.objects(platform, dataflow.TRUSTED_TABLE))
    invoked_before = _invocations(platform)
    raw = dataflow.objects(platform, "raw/")
    # When every raw object is copied onto itself (a second ObjectCreated for each)
    for item in raw:
        s3.copy_object(
            Bucket=platform.bucket,
            Key=item["Key"],
            CopySource={"Bucket": platform.bucket, "Key": item["Key"]},
            MetadataDirective="REPLACE",
            Metadata={"replayed": "true"},
        )
    # Then the transform ran again on each, and trusted/ holds the same files, rows and state
    dataflow.wait_until(lambda: _invocations(platform) >= invoked_before + len(raw), 120, interval=2)
    time.sleep(3)
    assert sorted(o["Key"] for o in dataflow.objects(platform, dataflow.TRUSTED_TABLE)) == before_keys
    assert dataflow.trusted_changes(platform).num_rows == before_rows
    converged(platform, source, timeout=30)
    print(
        f"{len(raw)} raw objects copied onto themselves, {_invocations(platform) - invoked_before} transform runs:"
        f" trusted/ still {len(before_keys)} objects, {before_rows} rows, state equal to the source"
    )


def test_a_record_the_contract_rejects_is_quarantined_with_its_reason(platform, source):
    with source.cursor() as cur:
        cur.execute(
            "INSERT INTO public.employees (first_name, last_name, email, department, salary, hire_date)"
            " VALUES ('Quinn', 'Reject', 'not-an-address', 'HR', 1000.00, '2024-01-15') RETURNING id"
        )
        rejected = cur.fetchone()[0]

    def quarantined():
        s3 = platform.client("s3")
        for item in dataflow.objects(platform, "quarantine/"):
            body = s3.get_object(Bucket=platform.bucket, Key=item["Key"])["Body"].read().decode()
            for line in body.splitlines():
                entry = json.loads(line)
                if "not-an-address" in json.dumps(entry):
                    return entry
        return None

    entry, _ = dataflow.wait_until(quarantined, 120, interval=2)
    assert "email" in entry["reason"]
    assert rejected not in dataflow.trusted_state(platform)
    with source.cursor() as cur:  # the rest of the suite compares whole tables
        cur.execute("DELETE FROM public.employees WHERE id = %s", (rejected,))


def test_firehose_without_put_object_stops_delivering_with_access_denied(platform, source):
    iam, logs = platform.client("iam"), platform.client("logs")
    role = platform.outputs["streaming"]["firehose_role_arn"].rsplit("/", 1)[1]
    policies = {n: iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"] for n in _policy_names(iam, role)}
    raw_before = len(dataflow.objects(platform, "raw/"))
    # When s3:PutObject is removed from the Firehose role
    for name, document in policies.items():
        iam.put_role_policy(
            RoleName=role, PolicyName=name, PolicyDocument=json.dumps(_without(document, "s3:PutObject"))
        )
    try:
        workload.run(source, transactions=5, seed=21, tag="denied")
        # Then Firehose logs AccessDenied and writes nothing to raw/
        group = platform.outputs["streaming"]["log_group"]

        def denied():
            events = logs.filter_log_events(logGroupName=group).get("events", [])
            return [e for e in events if "AccessDenied" in e["message"]]

        found, denied_after = dataflow.wait_until(denied, 120, interval=2)
        assert len(dataflow.objects(platform, "raw/")) == raw_before
    finally:
        for name, document in policies.items():
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))
    # And once the permission is back, the held changes arrive: nothing was lost
    waited = converged(platform, source)
    print(
        f"without s3:PutObject: {len(found)} AccessDenied events in {group} within {denied_after:.1f} s,"
        f" raw/ stayed at {raw_before} objects; permission back: trusted/ equal to the source in {waited:.1f} s"
        f" ({found[0]['message'][:160]})"
    )


def _task_status(dms, platform) -> str:
    tasks = dms.describe_replication_tasks(Filters=[{"Name": "replication-task-arn", "Values": [platform.task_arn]}])
    return tasks["ReplicationTasks"][0]["Status"]


def _invocations(platform) -> int:
    """How many times the transform has run (its START lines in CloudWatch Logs)."""
    logs = platform.client("logs")
    group = f"/aws/lambda/{platform.transform_function}"
    count = 0
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group):
        count += sum(1 for e in page["events"] if e["message"].startswith("START RequestId"))
    return count


def _policy_names(iam, role: str) -> list[str]:
    return iam.list_role_policies(RoleName=role)["PolicyNames"]


def _without(document: dict, action: str) -> dict:
    statements = []
    for statement in document["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        kept = [a for a in actions if a != action]
        if kept:
            statements.append({**statement, "Action": kept})
    return {**document, "Statement": statements}
