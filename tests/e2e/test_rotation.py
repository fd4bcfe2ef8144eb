"""Credential rotation on the running platform: the replication user's secret rotated while changes flow loses
nothing; the established replication connection stays up, and DMS logs in with the new password when it
reconnects (a stop and resume reads the secret again)."""

from __future__ import annotations

import json
import threading

import psycopg

from tests.e2e import workload
from tests.e2e.conftest import converged
from tests.harness import dataflow


def _replication_secret(platform) -> tuple[str, dict]:
    name = platform.outputs["secrets"]["replication_secret_name"]
    value = platform.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
    return name, json.loads(value)


def _login_works(secret: dict) -> bool:
    try:
        with psycopg.connect(host=secret["host"], port=secret["port"], dbname=secret["dbname"],
                             user=secret["username"], password=secret["password"], sslmode="require"):  # fmt: skip
            return True
    except psycopg.OperationalError:
        return False


def _rotation_complete(platform, name: str, before: object) -> bool:
    """The rotation RotateSecret started in the background is done: a new LastRotatedDate, nothing pending."""
    described = platform.client("secretsmanager").describe_secret(SecretId=name)
    pending = ["AWSPENDING"] in described["VersionIdsToStages"].values()
    return described.get("LastRotatedDate") not in (None, before) and not pending


def _task_status(platform) -> str:
    dms = platform.client("dms")
    tasks = dms.describe_replication_tasks(Filters=[{"Name": "replication-task-arn", "Values": [platform.task_arn]}])
    return tasks["ReplicationTasks"][0]["Status"]


def test_rotating_the_replication_secret_while_changes_flow_loses_nothing(platform, source):
    name, before = _replication_secret(platform)
    assert _login_works(before)
    sm = platform.client("secretsmanager")
    writer_conn = platform.connect()  # the master user's own connection, in the writer's thread
    writer = threading.Thread(target=workload.run, args=(writer_conn, 60, 21, "rotation"))
    writer.start()
    # When the replication user's secret is rotated while the writer commits changes
    last_rotated = sm.describe_secret(SecretId=name).get("LastRotatedDate")
    sm.rotate_secret(SecretId=name)
    dataflow.wait_until(lambda: _rotation_complete(platform, name, last_rotated), 120)
    writer.join()
    writer_conn.close()
    _, after = _replication_secret(platform)
    # Then the password changed in PostgreSQL, the task kept running on its established connection
    assert after["password"] != before["password"]
    assert _login_works(after) and not _login_works(before)
    assert _task_status(platform) == "running"
    converged(platform, source)
    # And when DMS reconnects (stop, resume) it logs in with the rotated password and loses nothing
    dms = platform.client("dms")
    dms.stop_replication_task(ReplicationTaskArn=platform.task_arn)
    dataflow.wait_until(lambda: _task_status(platform) == "stopped", 60)
    workload.run(source, transactions=20, seed=22, tag="after-rotation")
    dms.start_replication_task(ReplicationTaskArn=platform.task_arn, StartReplicationTaskType="resume-processing")
    dataflow.wait_until(lambda: _task_status(platform) == "running", 60)
    converged(platform, source)
