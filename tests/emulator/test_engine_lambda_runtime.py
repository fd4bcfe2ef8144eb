"""Engine lambda_runtime: functions run from their deployed zip in a subprocess, as Lambda runs them.

Each test deploys tiny functions (zips built here) into the in-process emulator with the engine installed,
then checks what AWS would show: Invoke's payload and FunctionError, the log group, the metrics, the
dead-letter queue, S3 notifications; the last one runs the real transform Lambda on DMS records.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from emulator.engines import lambda_runtime
from emulator.engines.lambda_runtime import async_queue

REGION = "us-east-1"
ACCOUNT = "123456789012"
REPO = Path(__file__).resolve().parents[2]
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=120)

ECHO = "def handler(event, context):\n    return {'event': event, 'name': context.function_name}\n"
RAISE = "def handler(event, context):\n    raise ValueError('the input is wrong')\n"
SLEEP = "import time\n\ndef handler(event, context):\n    print('going to sleep')\n    time.sleep(30)\n"
HOG = "def handler(event, context):\n    blocks = [b'x' * (64 << 20) for _ in range(8)]\n    return len(blocks)\n"
S3_CALL = """import os
import boto3
import helper

def handler(event, context):
    s3 = boto3.client('s3')
    s3.put_object(Bucket=os.environ['BUCKET'], Key='from-lambda.txt', Body=b'hello')
    return {
        'bucket': os.environ['BUCKET'],
        'keys': [o['Key'] for o in s3.list_objects_v2(Bucket=os.environ['BUCKET'])['Contents']],
        'remaining': context.get_remaining_time_in_millis(),
        'request_id': context.aws_request_id,
        'from_layer': helper.GREETING,
        'arn': context.invoked_function_arn,
        'env': {k: os.environ.get(k) for k in ('AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
                'AWS_LAMBDA_LOG_GROUP_NAME', 'AWS_REGION', '_HANDLER', 'AWS_SESSION_TOKEN')},
    }
"""


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture
def no_managed_policies(monkeypatch) -> None:
    """No function here uses an AWS managed policy: moto loading them again at each reset and at each new
    account's IAM backend costs seconds a test. Requested before ``engine_host``, so the reset sees it."""
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")


@pytest.fixture
def aws(no_managed_policies, engine_host, monkeypatch) -> Iterator[Callable[[str], Any]]:
    """The emulator with the engine installed; ``aws(service)`` gives a client of it."""
    monkeypatch.setattr(async_queue, "TIME_SCALE", 1 / 120)  # retries after 0.5 s and 1 s
    lambda_runtime.install(engine_host)

    def client(service: str) -> Any:
        return boto3.client(service, region_name=REGION, config=NO_RETRY)

    yield client


def deploy(aws, name: str, code: str, **config: Any) -> str:
    iam = aws("iam")
    try:
        role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    except ClientError:
        role = iam.get_role(RoleName=f"{name}-role")["Role"]["Arn"]
    files = config.pop("files", None) or {"app.py": code}
    return aws("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler=config.pop("Handler", "app.handler"),
        Code={"ZipFile": zip_of(files)},
        **config,
    )["FunctionArn"]


def invoke(aws, name: str, event: Any, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    response = aws("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode(), **kwargs)
    return response, json.loads(response["Payload"].read() or b"null")


def log_messages(aws, name: str) -> list[str]:
    try:
        events = aws("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    except ClientError:  # no log group yet
        return []
    return [e["message"] for e in events]


def wait_for(check: Callable[[], Any], seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    return check()


def test_request_response_returns_the_handlers_result_with_context_and_logs(aws):
    # Given a function returning its event and its name
    deploy(aws, "echo", ECHO)
    # When it is invoked with LogType=Tail
    response, payload = invoke(aws, "echo", {"hello": "world"}, LogType="Tail")
    # Then the payload is the handler's result, without FunctionError, and the log tail has START/END/REPORT
    assert payload == {"event": {"hello": "world"}, "name": "echo"}
    assert "FunctionError" not in response
    tail = base64.b64decode(response["LogResult"]).decode()
    assert tail.startswith("START RequestId: ") and "Version: $LATEST" in tail
    assert "END RequestId: " in tail and "REPORT RequestId: " in tail
    messages = log_messages(aws, "echo")
    assert messages[0].startswith("START RequestId:") and messages[-1].startswith("REPORT RequestId:")
    assert "Billed Duration:" in messages[-1] and "Memory Size: 128 MB" in messages[-1]
    streams = aws("logs").describe_log_streams(logGroupName="/aws/lambda/echo")["logStreams"]
    assert len(streams) == 1 and "/[$LATEST]" in streams[0]["logStreamName"]


def metric_sum(aws, name: str, metric: str) -> float:
    stats = aws("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName=metric,
        Dimensions=[{"Name": "FunctionName", "Value": name}],
        StartTime=time.time() - 600,
        EndTime=time.time() + 600,
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(d["Sum"] for d in stats)


def test_an_exception_is_the_error_payload_with_function_error_logged_and_counted(aws):
    # Given a function that raises
    deploy(aws, "fails", RAISE)
    # When it is invoked synchronously
    response, payload = invoke(aws, "fails", {})
    # Then Invoke answers 200 with X-Amz-Function-Error: Unhandled and the runtime's error payload
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    assert payload["errorMessage"] == "the input is wrong" and payload["errorType"] == "ValueError"
    assert (
        payload["stackTrace"]
        and "app.py" in payload["stackTrace"][0]
        and "raise ValueError" in payload["stackTrace"][0]
    )
    assert payload["requestId"] == response["ResponseMetadata"]["RequestId"]
    # And the error is one log event; Invocations and Errors are counted, Duration recorded
    errors = [m for m in log_messages(aws, "fails") if m.startswith("[ERROR] ValueError: the input is wrong")]
    assert len(errors) == 1 and "Traceback (most recent call last):" in errors[0]
    assert metric_sum(aws, "fails", "Invocations") == 1 and metric_sum(aws, "fails", "Errors") == 1
    assert metric_sum(aws, "fails", "Duration") > 0


def test_a_function_running_past_its_timeout_is_killed_with_aws_message(aws):
    # Given a function sleeping 30 s with Timeout 1
    deploy(aws, "sleeper", SLEEP, Timeout=1)
    # When it is invoked
    started = time.monotonic()
    response, payload = invoke(aws, "sleeper", {})
    # Then it is stopped after about one second with "Task timed out after 1.00 seconds"
    assert time.monotonic() - started < 8
    assert response["FunctionError"] == "Unhandled" and list(payload) == ["errorMessage"]
    stamp, request_id, *message = payload["errorMessage"].split(" ")
    assert stamp.endswith("Z") and len(request_id) == 36
    assert " ".join(message) == "Task timed out after 1.00 seconds"
    messages = log_messages(aws, "sleeper")
    assert "going to sleep" in messages and payload["errorMessage"] in messages
    assert any(m.startswith("REPORT") and "Status: timeout" in m for m in messages)


def test_a_function_using_more_than_its_memory_is_killed_as_out_of_memory(aws):
    # Given a function allocating 512 MB with MemorySize 128
    deploy(aws, "hog", HOG, MemorySize=128)
    # When it is invoked
    response, payload = invoke(aws, "hog", {})
    # Then it is killed: Runtime.ExitError "signal: killed"; REPORT says the memory was all used
    assert response["FunctionError"] == "Unhandled" and payload["errorType"] == "Runtime.ExitError"
    assert payload["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    report = [m for m in log_messages(aws, "hog") if m.startswith("REPORT")]
    assert "Memory Size: 128 MB\tMax Memory Used: 128 MB" in report[0]
    assert "Runtime.OutOfMemory" in report[0]


def test_the_function_has_its_environment_role_credentials_layers_and_reaches_the_emulator(aws):
    # Given a bucket and a function reading BUCKET from its environment and writing to it with boto3,
    # using a module of a layer of this account and the managed pandas layer
    aws("s3").create_bucket(Bucket="data")
    layer = aws("lambda").publish_layer_version(
        LayerName="helpers", Content={"ZipFile": zip_of({"python/helper.py": "GREETING = 'from a layer'\n"})}
    )["LayerVersionArn"]
    pandas = f"arn:aws:lambda:{REGION}:336392948345:layer:AWSSDKPandas-Python312:16"
    arn = deploy(
        aws, "writer", S3_CALL, Timeout=30, Environment={"Variables": {"BUCKET": "data"}}, Layers=[layer, pandas]
    )
    # When it is invoked
    response, payload = invoke(aws, "writer", {})
    # Then its object is in the emulator's bucket, written with the role's temporary credentials
    assert "FunctionError" not in response, payload
    assert payload["keys"] == ["from-lambda.txt"] and payload["from_layer"] == "from a layer"
    assert aws("s3").get_object(Bucket="data", Key="from-lambda.txt")["Body"].read() == b"hello"
    assert payload["env"]["AWS_SESSION_TOKEN"] and payload["env"]["AWS_REGION"] == REGION
    assert payload["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "writer" and payload["env"]["_HANDLER"] == "app.handler"
    assert payload["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert payload["env"]["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/writer"
    assert 0 < payload["remaining"] <= 30_000 and payload["arn"] == arn
    assert payload["request_id"] == response["ResponseMetadata"]["RequestId"]


def test_reserved_concurrency_zero_throttles(aws):
    # Given a function with reserved concurrency 0
    deploy(aws, "stopped", ECHO)
    aws("lambda").put_function_concurrency(FunctionName="stopped", ReservedConcurrentExecutions=0)
    # When it is invoked, Then Lambda throttles it (429) and counts a throttle, running nothing
    with pytest.raises(ClientError) as err:
        invoke(aws, "stopped", {})
    assert err.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert metric_sum(aws, "stopped", "Throttles") == 1 and metric_sum(aws, "stopped", "Invocations") == 0


def test_an_async_invocation_that_keeps_failing_is_retried_twice_then_dead_lettered(aws):
    # Given a failing function with an SQS dead-letter queue
    url = aws("sqs").create_queue(QueueName="dlq")["QueueUrl"]
    dlq = aws("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    deploy(aws, "async-fails", RAISE, DeadLetterConfig={"TargetArn": dlq})
    # When it is invoked asynchronously
    response = aws("lambda").invoke(FunctionName="async-fails", InvocationType="Event", Payload=b'{"n": 7}')
    # Then Invoke answers 202 at once; the function runs three times; the event lands in the DLQ
    assert response["StatusCode"] == 202

    def dead_lettered():
        return (
            aws("sqs").receive_message(QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=1).get("Messages")
        )

    message = wait_for(dead_lettered, 30)[0]
    assert json.loads(message["Body"]) == {"n": 7}
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["ErrorCode"] == "200" and attributes["ErrorMessage"] == "the input is wrong"
    starts = [m for m in log_messages(aws, "async-fails") if m.startswith("START")]
    assert len(starts) == 3 and all(attributes["RequestID"] in m for m in starts)


def test_event_invoke_config_limits_retries_and_sends_the_failure_to_its_destination(aws):
    # Given a failing function whose EventInvokeConfig allows no retry and names an on-failure queue
    url = aws("sqs").create_queue(QueueName="failures")["QueueUrl"]
    queue = aws("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    deploy(aws, "no-retry", RAISE)
    aws("lambda").put_function_event_invoke_config(
        FunctionName="no-retry",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue}},
    )
    # When it is invoked asynchronously
    aws("lambda").invoke(FunctionName="no-retry", InvocationType="Event", Payload=b'{"n": 1}')
    # Then it runs once and the destination gets Lambda's invocation record
    messages = wait_for(lambda: aws("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"), 20)
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestPayload"] == {"n": 1} and record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "the input is wrong"
    assert len([m for m in log_messages(aws, "no-retry") if m.startswith("START")]) == 1


RECORDER = "import json\n\ndef handler(event, context):\n    print('EVENT ' + json.dumps(event))\n"


def s3_with_function(aws, name: str, allow: bool, prefix: str = "raw/", suffix: str = ".json") -> str:
    aws("s3").create_bucket(Bucket="lake")
    arn = deploy(aws, name, RECORDER)
    if allow:
        aws("lambda").add_permission(
            FunctionName=name,
            StatementId="s3",
            Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com",
            SourceArn="arn:aws:s3:::lake",
            SourceAccount=ACCOUNT,
        )
    rule = [{"Name": "Prefix", "Value": prefix}, {"Name": "Suffix", "Value": suffix}]
    aws("s3").put_bucket_notification_configuration(
        Bucket="lake",
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "Id": "raw-created",
                    "LambdaFunctionArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": rule}},
                }
            ]
        },
    )
    return arn


def received_events(aws, name: str) -> list[dict[str, Any]]:
    messages = log_messages(aws, name)
    return [json.loads(m.removeprefix("EVENT ")) for m in messages if m.startswith("EVENT ")]


def test_s3_object_created_under_the_filter_invokes_the_function_with_the_s3_event(aws, engine_host):
    # Given a function S3 may invoke, notified of ObjectCreated under raw/ ending in .json
    s3_with_function(aws, "recorder", allow=True)
    # When objects are put under and outside the filter
    aws("s3").put_object(Bucket="lake", Key="other/x.json", Body=b"{}")
    aws("s3").put_object(Bucket="lake", Key="raw/x.txt", Body=b"{}")
    aws("s3").put_object(Bucket="lake", Key="raw/late batch été+1.json", Body=b'{"a": 1}')
    # Then only the matching object invokes it (one event queued), with S3's record and the URL-encoded key
    assert engine_host.status("lambda_runtime").counters["async_received"] == 1
    events = wait_for(lambda: received_events(aws, "recorder"))
    assert len(events) == 1
    record = events[0]["Records"][0]
    assert (record["eventVersion"], record["eventSource"], record["eventName"]) == (
        "2.1",
        "aws:s3",
        "ObjectCreated:Put",
    )
    assert record["s3"]["bucket"]["name"] == "lake" and record["s3"]["bucket"]["arn"] == "arn:aws:s3:::lake"
    assert record["s3"]["configurationId"] == "raw-created"
    obj = record["s3"]["object"]
    assert obj["key"] == "raw/late+batch+%C3%A9t%C3%A9%2B1.json"  # form-encoded, slashes kept
    assert obj["size"] == 8 and len(obj["eTag"]) == 32 and obj["sequencer"]
    assert record["awsRegion"] == REGION and record["eventTime"].endswith("Z")
    assert {"userIdentity", "requestParameters", "responseElements"} <= set(record)
    # And copying the object onto itself (REPLACE) is an ObjectCreated:Copy event
    key = "raw/late batch été+1.json"
    aws("s3").copy_object(
        Bucket="lake", Key=key, CopySource={"Bucket": "lake", "Key": key}, MetadataDirective="REPLACE"
    )
    events = wait_for(lambda: received_events(aws, "recorder")[1:])
    assert events[0]["Records"][0]["eventName"] == "ObjectCreated:Copy"
    assert events[0]["Records"][0]["s3"]["object"]["sequencer"] > obj["sequencer"]


def test_s3_does_not_invoke_a_function_whose_policy_does_not_allow_it(aws, engine_host):
    # Given a notification to a function with no resource policy for S3
    s3_with_function(aws, "closed", allow=False)
    # When a matching object is put
    aws("s3").put_object(Bucket="lake", Key="raw/y.json", Body=b"{}")
    # Then the function never runs, and the engine says why
    status = engine_host.status("lambda_runtime")
    assert wait_for(lambda: status.counters.get("denied_by_resource_policy"), 10) == 1
    assert received_events(aws, "closed") == []
    assert "s3.amazonaws.com may not invoke closed" in status.last_error


def _package(source: Path) -> bytes:
    """The deployment package exactly as the processing role builds it (plugins/modules/lambda_package.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("lambda_package", REPO / "plugins/modules/lambda_package.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(module.collect([str(source)], ["__pycache__", "*.pyc", "*.pyo", "tests", ".*"]))


def _employee(n: int) -> dict[str, Any]:
    return {
        "id": n,
        "first_name": f"First{n}",
        "last_name": f"Last{n}",
        "email": f"person{n}@example.com",
        "department": "Engineering",
        "salary": f"{50000 + n}.00",
        "hire_date": "2020-01-15",
        "created_at": "2026-11-24 10:00:00",
        "updated_at": "2026-11-24 10:00:00",
    }


def _dms(row: dict[str, Any], operation: str, txid: int) -> dict[str, Any]:
    ts = "2026-11-24T10:15:02.123456Z"
    metadata = {
        "timestamp": ts,
        "record-type": "data",
        "operation": operation,
        "partition-key-type": "primary-key",
        "partition-key-value": f"public.employees.{row['id']}",
        "schema-name": "public",
        "table-name": "employees",
        "transaction-id": txid,
        "commit-timestamp": ts,
    }
    return {"data": row, "metadata": metadata}


def test_the_real_transform_turns_raw_dms_records_into_trusted_parquet(aws):
    # Given the transform deployed as the processing role deploys it (zip, handler, environment, pandas
    # layer, dead-letter queue, S3 permission for the bucket, notification on raw/)
    s3 = aws("s3")
    s3.create_bucket(Bucket="lake")
    url = aws("sqs").create_queue(QueueName="transform-dlq")["QueueUrl"]
    dlq = aws("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    iam = aws("iam")
    role = iam.create_role(RoleName="transform", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    arn = aws("lambda").create_function(
        FunctionName="transform",
        Runtime="python3.12",
        Role=role,
        Handler="smartstream_transform.handler.lambda_handler",
        Code={"ZipFile": _package(REPO / "lambdas/transform/smartstream_transform")},
        MemorySize=1024,
        Timeout=60,
        Layers=[f"arn:aws:lambda:{REGION}:336392948345:layer:AWSSDKPandas-Python312:16"],
        DeadLetterConfig={"TargetArn": dlq},
        Environment={
            "Variables": {
                "RAW_PREFIX": "raw/",
                "TRUSTED_PREFIX": "trusted/",
                "QUARANTINE_PREFIX": "quarantine/",
                "OUTPUT_BUCKET": "lake",
                "LOG_LEVEL": "INFO",
            }
        },
    )["FunctionArn"]
    aws("lambda").add_permission(
        FunctionName="transform",
        StatementId="s3-raw-objects",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::lake",
        SourceAccount=ACCOUNT,
    )
    s3.put_bucket_notification_configuration(
        Bucket="lake",
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "LambdaFunctionArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "raw/"}]}},
                }
            ]
        },
    )
    # When Firehose-like raw objects of DMS records (GZIP) land under raw/
    records = [_dms(_employee(1), "insert", 501), _dms(_employee(2), "insert", 501)]
    records.append(_dms(_employee(1) | {"salary": "61000.00"}, "update", 502))
    body = gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode())
    s3.put_object(Bucket="lake", Key="raw/2026/11/24/10/cdc-1-2026-11-24-10-15-02-abc.gz", Body=body)

    # Then the transform writes the Parquet of public.employees under trusted/
    def trusted():
        return [o["Key"] for o in s3.list_objects_v2(Bucket="lake", Prefix="trusted/").get("Contents", [])]

    keys = wait_for(trusted, 40)
    assert len(keys) == 1 and keys[0].startswith("trusted/public/employees/dt=2026-11-24/"), keys
    table = pq.read_table(io.BytesIO(s3.get_object(Bucket="lake", Key=keys[0])["Body"].read()))
    assert table.num_rows == 3 and sorted(table.column("id").to_pylist()) == [1, 1, 2]
    # And its log group has its structured line, nothing went to the DLQ
    messages = wait_for(lambda: [m for m in log_messages(aws, "transform") if m.startswith("REPORT")])
    assert messages and any('"balanced": true' in m for m in log_messages(aws, "transform"))
    assert "Messages" not in aws("sqs").receive_message(QueueUrl=url)


@pytest.mark.parametrize(
    ("condition", "allowed"),
    [
        ({"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::lake"}, "StringEquals": {"AWS:SourceAccount": ACCOUNT}}, True),
        ({"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::other"}}, False),
        ({"StringEquals": {"AWS:SourceAccount": "999999999999"}}, False),
        ({"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::la*"}}, True),
        ({"NumericLessThan": {"aws:EpochTime": "1"}}, False),  # an operator not understood grants nothing
    ],
)
def test_the_resource_policy_decides_which_bucket_may_invoke(condition, allowed):
    from emulator.engines.lambda_runtime import policy

    fn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f"
    statement = {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "lambda:InvokeFunction"}
    document = {"Statement": [statement | {"Resource": fn, "Condition": condition}]}
    context = {"source_arn": "arn:aws:s3:::lake", "source_account": ACCOUNT}
    assert policy.allows(document, "s3.amazonaws.com", "lambda:InvokeFunction", fn, context) is allowed
    assert policy.allows(document, "events.amazonaws.com", "lambda:InvokeFunction", fn, context) is False
    deny = {**statement, "Effect": "Deny", "Resource": "*"}
    assert policy.allows({"Statement": [*document["Statement"], deny]}, "s3.amazonaws.com", "lambda:InvokeFunction",
                         fn, context) is False  # fmt: skip
