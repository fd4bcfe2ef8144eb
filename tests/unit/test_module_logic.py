"""Pure logic of the collection's modules (no AWS): requests built from wanted state."""

from __future__ import annotations

import json

import pytest
from ansible_collections.smartstream.pipeline.plugins.module_utils import smartstream_aws as utils
from ansible_collections.smartstream.pipeline.plugins.modules import athena_workgroup as wg
from ansible_collections.smartstream.pipeline.plugins.modules import glue_database as glue

CURRENT = {
    "name": "wg",
    "arn": "arn",
    "description": "d",
    "enabled": True,
    "enforce_workgroup_configuration": True,
    "publish_cloudwatch_metrics": False,
    "requester_pays": False,
    "output_location": "s3://b/r/",
    "encryption": "SSE_S3",
    "bytes_scanned_cutoff": 10_000_000_000,
    "tags": {},
}


def params(**given):
    base = dict.fromkeys(
        [
            "description",
            "enabled",
            "enforce_workgroup_configuration",
            "publish_cloudwatch_metrics",
            "requester_pays",
            "output_location",
            "encryption",
            "kms_key",
            "bytes_scanned_cutoff",
        ]
    )
    return base | given


def test_unchanged_workgroup_needs_no_request():
    want = wg.desired_view(CURRENT, params(), {})
    assert wg.update_request(CURRENT, want) == {}


def test_clearing_uses_the_remove_flags():
    want = wg.desired_view(CURRENT, params(output_location="", encryption="none", bytes_scanned_cutoff=0), {})

    request = wg.update_request(CURRENT, want)

    assert request == {
        "ConfigurationUpdates": {
            "ResultConfigurationUpdates": {"RemoveOutputLocation": True, "RemoveEncryptionConfiguration": True},
            "RemoveBytesScannedCutoffPerQuery": True,
        }
    }


def test_settings_state_and_description_in_one_request():
    want = wg.desired_view(CURRENT, params(encryption="SSE_KMS", kms_key="k", enabled=False, description="x"), {})

    request = wg.update_request(CURRENT, want)

    assert request["ConfigurationUpdates"]["ResultConfigurationUpdates"] == {
        "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": "k"}
    }
    assert request["State"] == "DISABLED" and request["Description"] == "x"


def test_create_request_holds_only_what_is_set():
    want = wg.desired_view({"name": "wg"}, params(output_location="s3://b/r/"), {})
    assert wg.create_request(want) == {
        "EnforceWorkGroupConfiguration": True,
        "PublishCloudWatchMetricsEnabled": False,
        "RequesterPaysEnabled": False,
        "ResultConfiguration": {"OutputLocation": "s3://b/r/"},
    }


def test_glue_input_keeps_unspecified_settings():
    current = {"Name": "db", "Description": "old", "LocationUri": "s3://x/", "Parameters": {"a": "1"}}
    wanted, merged = glue.desired_input(
        {"name": "db", "description": "new", "location_uri": None, "parameters": None}, current
    )
    assert merged == {"Name": "db", "Description": "new", "LocationUri": "s3://x/", "Parameters": {"a": "1"}}
    assert utils.changed_keys(current, wanted) == ["Description"]


def test_tag_changes_never_touch_aws_keys_and_none_leaves_tags():
    assert utils.tag_changes({"aws:cloudformation": "x", "a": "1"}, {"b": "2"}) == ({"b": "2"}, ["a"])
    assert utils.tag_changes({"a": "1"}, None) == ({}, [])
    assert utils.tag_changes({"a": "1"}, {"b": "2"}, purge_tags=False) == ({"b": "2"}, [])


def test_wait_for_returns_fails_or_times_out():
    clock = iter(range(0, 1000, 10))
    states = iter(["CREATING", "CREATING", "ACTIVE"])
    assert utils.wait_for(
        lambda: {"Status": next(states)},
        lambda r: r["Status"] == "ACTIVE",
        "stream",
        sleep=lambda _: None,
        clock=lambda: next(clock),
    ) == {"Status": "ACTIVE"}

    with pytest.raises(utils.WaitFailed, match="CREATING_FAILED"):
        utils.wait_for(
            lambda: {"Status": "CREATING_FAILED"},
            lambda r: False,
            "stream",
            failed=lambda r: "create failed" if r["Status"].endswith("FAILED") else None,
            sleep=lambda _: None,
        )

    ticks = iter(range(0, 10_000, 100))
    with pytest.raises(utils.WaitTimeout, match="timed out after 300 s"):
        utils.wait_for(
            lambda: {"Status": "CREATING"},
            lambda r: False,
            "stream",
            timeout=300,
            delay=50,
            sleep=lambda _: None,
            clock=lambda: next(ticks),
        )


def test_canonical_ignores_key_order():
    assert utils.canonical({"b": [1, {"y": 1, "x": 2}], "a": 1}) == utils.canonical(
        {"a": 1, "b": [1, {"x": 2, "y": 1}]}
    )


# ------------------------------------------------------------------ firehose
from ansible_collections.smartstream.pipeline.plugins.module_utils import dms_task_definition as task_definition  # noqa: E402
from ansible_collections.smartstream.pipeline.plugins.module_utils import dms_task_lifecycle as task_lifecycle  # noqa: E402
from ansible_collections.smartstream.pipeline.plugins.module_utils import firehose_kinesis_source as kinesis_source  # noqa: E402
from ansible_collections.smartstream.pipeline.plugins.module_utils import firehose_s3_destination as s3_destination  # noqa: E402
from ansible_collections.smartstream.pipeline.plugins.modules import dms_endpoint as endpoint  # noqa: E402
from ansible_collections.smartstream.pipeline.plugins.modules import dms_replication_instance as instance  # noqa: E402

FIREHOSE = {
    "role_arn": "arn:role",
    "bucket_arn": "arn:aws:s3:::lake",
    "prefix": "raw/",
    "error_output_prefix": "errors/",
    "buffering_size_mb": 5,
    "buffering_interval_seconds": 60,
    "compression": "GZIP",
    "kms_key_arn": None,
    "cloudwatch_logging": None,
    "processors": [{"type": "AppendDelimiterToRecord", "parameters": {"Delimiter": "\\n"}}],
}


def test_firehose_destination_compares_on_what_it_manages():
    desired = s3_destination.desired_destination(FIREHOSE)
    current = {**desired, "S3BackupMode": "Disabled", "CloudWatchLoggingOptions": {"Enabled": False}}
    current["ProcessingConfiguration"] = {
        "Enabled": True,
        "Processors": [
            {
                "Type": "AppendDelimiterToRecord",
                "Parameters": [
                    {"ParameterName": "Delimiter", "ParameterValue": "\\n"},
                    {"ParameterName": "Extra", "ParameterValue": "x"},
                ],
            }
        ],
    }
    assert not s3_destination.destination_differs(current, desired)
    assert s3_destination.destination_differs({**current, "CompressionFormat": "UNCOMPRESSED"}, desired)
    assert s3_destination.destination_differs({**current, "ProcessingConfiguration": {"Enabled": False}}, desired)
    assert s3_destination.destination_differs(None, desired)


def test_firehose_source_change_is_named():
    description = {
        "DeliveryStreamType": "KinesisStreamAsSource",
        "Source": {"KinesisStreamSourceDescription": {"KinesisStreamARN": "arn:a", "RoleARN": "arn:r"}},
    }
    params = {"source": "kinesis_stream", "kinesis_stream_arn": "arn:b", "source_role_arn": "arn:r"}
    assert kinesis_source.source_problem(description, params) == "source stream arn:a -> arn:b"
    assert kinesis_source.source_problem(description, {**params, "kinesis_stream_arn": "arn:a"}) is None
    assert "source type" in kinesis_source.source_problem(description, {**params, "source": "direct_put"})


# ------------------------------------------------------------------ DMS instance and endpoint
INSTANCE = {
    "instance_class": "dms.t3.medium",
    "allocated_storage": 50,
    "engine_version": None,
    "multi_az": False,
    "auto_minor_version_upgrade": True,
    "security_group_ids": ["sg-1"],
    "preferred_maintenance_window": None,
    "allow_major_version_upgrade": False,
    "publicly_accessible": False,
    "subnet_group": "sn",
    "kms_key_id": None,
}
CURRENT_INSTANCE = {
    "ReplicationInstanceClass": "dms.t3.medium",
    "AllocatedStorage": 50,
    "MultiAZ": False,
    "AutoMinorVersionUpgrade": True,
    "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-1"}],
    "PubliclyAccessible": False,
    "ReplicationSubnetGroup": {"ReplicationSubnetGroupIdentifier": "sn"},
}


def test_instance_modifications_and_replacements():
    assert instance.modifications(CURRENT_INSTANCE, INSTANCE) == {}
    assert instance.modifications(CURRENT_INSTANCE, {**INSTANCE, "allocated_storage": 100, "multi_az": True}) == {
        "AllocatedStorage": 100,
        "MultiAZ": True,
    }
    assert instance.replacement_reasons(CURRENT_INSTANCE, INSTANCE) == []
    reasons = instance.replacement_reasons(
        CURRENT_INSTANCE, {**INSTANCE, "publicly_accessible": True, "subnet_group": "x"}
    )
    assert [r.split()[0] for r in reasons] == ["publicly_accessible", "subnet_group"]


def test_endpoint_settings_compare_on_the_keys_given():
    params = {
        "endpoint_type": "target",
        "engine": "kinesis",
        "ssl_mode": "require",
        "kinesis": {
            "stream_arn": "arn:s",
            "access_role_arn": "arn:r",
            "message_format": "json",
            **dict.fromkeys(endpoint.KINESIS_FLAGS, False),
        },
    }
    wanted = endpoint.desired_settings(params)
    current = {
        "EndpointType": "target",
        "EngineName": "kinesis",
        "KinesisSettings": {**wanted["KinesisSettings"], "NoHexPrefix": False},
    }
    assert endpoint.differences(current, wanted) == {}
    changed = endpoint.differences(
        {**current, "KinesisSettings": {**current["KinesisSettings"], "MessageFormat": "json-unformatted"}}, wanted
    )
    assert list(changed) == ["KinesisSettings"]


def test_postgres_endpoint_names_the_secret_and_no_password():
    params = {
        "endpoint_type": "source",
        "engine": "postgres",
        "ssl_mode": "verify-full",
        "postgres": {
            "secret_arn": "arn:secret",
            "secret_access_role_arn": "arn:role",
            "database_name": "employees",
            "slot_name": None,
            "plugin_name": "pglogical",
            "heartbeat_enable": True,
            "heartbeat_frequency": None,
        },
    }
    wanted = endpoint.desired_settings(params)
    assert wanted["PostgreSQLSettings"] == {
        "SecretsManagerSecretId": "arn:secret",
        "SecretsManagerAccessRoleArn": "arn:role",
        "DatabaseName": "employees",
        "PluginName": "pglogical",
        "HeartbeatEnable": True,
    }
    assert "Password" not in wanted and wanted["SslMode"] == "verify-full"


# ------------------------------------------------------------------ DMS task
class FakeModule:
    def __init__(self, check_mode=False, **params):
        self.check_mode = check_mode
        self.params = {"identifier": "t", "wait": False, "wait_timeout": 10, "poll_interval": 1, **params}

    def fail_json(self, **kwargs):
        raise RuntimeError(kwargs["msg"])


class FakeDMS:
    def __init__(self):
        self.calls = []

    def start_replication_task(self, **kwargs):
        self.calls.append(("start", kwargs["StartReplicationTaskType"]))

    def stop_replication_task(self, **kwargs):
        self.calls.append(("stop",))


@pytest.mark.parametrize(
    ("status", "started_before", "run_state", "actions"),
    [
        ("ready", False, "started", ["start-replication"]),
        ("stopped", True, "started", ["resume-processing"]),
        ("running", True, "started", []),
        ("running", True, "stopped", ["stop"]),
        ("stopped", True, "stopped", []),
        ("running", True, "reloaded", ["stop", "reload-target"]),
        ("stopped", True, "resumed", ["resume-processing"]),
        ("failed", True, "started", ["resume-processing"]),
    ],
)
def test_run_state_branches_on_the_current_status(status, started_before, run_state, actions):
    client = FakeDMS()
    runner = task_lifecycle.Runner(FakeModule(), client)
    current = {
        "Status": status,
        "ReplicationTaskArn": "arn:t",
        "ReplicationTaskStartDate": "x" if started_before else None,
    }

    task_lifecycle.apply_run_state(runner, current, run_state, "t")

    assert runner.actions == actions
    assert len(client.calls) == len(actions)


@pytest.mark.parametrize("run_state", ["resumed", "reloaded"])
def test_a_task_that_never_ran_cannot_be_resumed_or_reloaded(run_state):
    runner = task_lifecycle.Runner(FakeModule(), FakeDMS())
    with pytest.raises(RuntimeError, match="never ran"):
        task_lifecycle.apply_run_state(runner, {"Status": "ready", "ReplicationTaskArn": "arn:t"}, run_state, "t")


def test_finished_full_load_counts_as_started_and_check_mode_calls_nothing():
    client = FakeDMS()
    runner = task_lifecycle.Runner(FakeModule(check_mode=True), client)
    finished = {
        "Status": "stopped",
        "StopReason": "Stop Reason FULL_LOAD_ONLY_FINISHED",
        "ReplicationTaskArn": "a",
        "ReplicationTaskStartDate": "x",
    }
    task_lifecycle.apply_run_state(runner, finished, "started", "t")
    assert runner.actions == []
    task_lifecycle.apply_run_state(runner, {"Status": "ready", "ReplicationTaskArn": "a"}, "started", "t")
    assert runner.actions == ["start-replication"] and client.calls == []


def test_task_settings_are_compared_on_the_keys_given_and_merged():
    current = {
        "TableMappings": '{"rules": [{"rule-id": "1"}]}',
        "ReplicationTaskSettings": '{"Logging": {"EnableLogging": true, "LogComponents": []}, "TargetMetadata": {}}',
    }
    params = {"table_mappings": {"rules": [{"rule-id": "1"}]}, "task_settings": {"Logging": {"EnableLogging": True}}}
    assert task_definition.mutable_changes(current, params) == {}
    changes = task_definition.mutable_changes(
        current, {**params, "task_settings": {"Logging": {"EnableLogging": False}}}
    )
    assert json.loads(changes["ReplicationTaskSettings"]) == {
        "Logging": {"EnableLogging": False, "LogComponents": []},
        "TargetMetadata": {},
    }
    assert "TableMappings" in task_definition.mutable_changes(current, {**params, "table_mappings": {"rules": []}})


# ------------------------------------------------------------------ Glue crawler run
from ansible_collections.smartstream.pipeline.plugins.modules import glue_crawler_run as crawler  # noqa: E402


class FakeGlue:
    def __init__(self, states):
        self.states = iter(states)
        self.started = 0

    def get_crawler(self, **_kwargs):
        return {"Crawler": next(self.states)}

    def start_crawler(self, **_kwargs):
        self.started += 1


class FailingModule(FakeModule):
    def fail_json(self, **kwargs):
        raise RuntimeError(kwargs["msg"])


def test_a_failed_crawl_fails_the_task_with_its_error():
    old = {"Status": "SUCCEEDED", "StartTime": 1}
    glue = FakeGlue(
        [
            {"State": "READY", "LastCrawl": old},
            {"State": "READY", "LastCrawl": old},  # the race: still the previous crawl
            {"State": "RUNNING", "LastCrawl": old},
            {"State": "READY", "LastCrawl": {"Status": "FAILED", "StartTime": 2, "ErrorMessage": "no permission"}},
        ]
    )
    module = FailingModule(name="c", wait=True, wait_timeout=60, poll_interval=0)

    with pytest.raises(RuntimeError, match="ended FAILED: no permission"):
        crawler.run(module, glue, module.params)
    assert glue.started == 1


def test_a_missing_crawler_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(crawler, "get_crawler", lambda client, name: None)  # what EntityNotFoundException becomes
    module = FailingModule(name="c", wait=True, wait_timeout=60, poll_interval=0)

    with pytest.raises(RuntimeError, match="Glue crawler c does not exist"):
        crawler.run(module, FakeGlue([]), module.params)


def test_wait_for_looks_soon_then_backs_off_to_the_delay():
    pauses = []
    states = iter(["CREATING"] * 7 + ["ACTIVE"])
    utils.wait_for(
        lambda: {"Status": next(states)},
        lambda r: r["Status"] == "ACTIVE",
        "instance",
        delay=15,
        sleep=pauses.append,
        clock=lambda: 0,
    )
    assert pauses == [1, 2, 4, 8, 15, 15, 15]
    pauses.clear()
    states = iter(["CREATING", "CREATING", "ACTIVE"])
    utils.wait_for(
        lambda: {"Status": next(states)}, lambda r: r["Status"] == "ACTIVE", "x", delay=0, sleep=pauses.append
    )
    assert pauses == [0, 0]
