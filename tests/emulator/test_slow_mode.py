"""Slow mode (SMARTSTREAM_EMULATOR_SLOW): resources take AWS's creation and deletion times, scaled.

Each test picks a scale at which every status lasts long enough to be seen on a busy machine (the
RDS one 60, the scale `make bench-deploy` uses; others up to 300 to stay short). Each records the
statuses a resource shows, polling, and checks when each began against emulator/slow.py's AWS_SECONDS.
Instant mode (unset) is checked to be unchanged: everything ready, and gone, at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from emulator import slow
from emulator.engines.firehose import FirehoseEngine
from tests.emulator.test_engine_firehose import DELIVERY, _body, _objects, _put, _setup, _until

FAST = 300.0


@pytest.fixture
def slow_mode(emulator: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[float], None]]:
    """Switch slow mode on at a scale (as the emulator's start does); off again after the test."""

    def set_scale(scale: float) -> None:
        monkeypatch.setenv(slow.ENV, f"{scale:g}")
        slow.configure()

    set_scale(FAST)
    yield set_scale
    monkeypatch.delenv(slow.ENV)
    slow.reset()


_WARM_UP = {
    "rds": "describe_db_instances",
    "dms": "describe_replication_instances",
    "ec2": "describe_nat_gateways",
    "kinesis": "list_streams",
    "firehose": "list_delivery_streams",
    "lambda": "list_functions",
}


def _client(service: str) -> Any:
    """A client of the service, its first (slow: moto loads the service) request made."""
    client = boto3.client(service, region_name="us-east-1")
    if service in _WARM_UP:
        getattr(client, _WARM_UP[service])()
    return client


def _timeline(status: Callable[[], Any], until: Any, start: float, timeout: float = 30.0) -> list[tuple[Any, float]]:
    """The statuses seen (status, seconds from ``start``), polling until ``until`` (None: gone).

    The last entry is ("poll", longest poll in s): how late a change may be seen.
    """
    seen: list[tuple[Any, float]] = []
    longest = 0.0
    while True:
        sent = time.monotonic()
        current = status()
        longest = max(longest, time.monotonic() - sent)
        if not seen or seen[-1][0] != current:
            seen.append((current, time.monotonic() - start))
        if current == until:
            return [*seen, ("poll", longest)]
        assert time.monotonic() - start < timeout, f"still {current} after {timeout} s: {seen}"
        time.sleep(0.02)


def _assert_times(seen: list[tuple[Any, float]], expected: list[tuple[Any, float]], lag: float) -> None:
    """``seen`` went through the statuses of ``expected``, each from about its time (s after the call).

    A status cannot show before its time (the call started the clock after ``start``), and shows at
    the latest one call (``lag``: how long the creating/deleting call took) and two polls after it.
    """
    *seen, (_, poll) = seen
    assert [s for s, _ in seen] == [s for s, _ in expected], seen
    for (status, at), (_, want) in list(zip(seen, expected, strict=True))[1:]:  # the first: at the first look
        assert want - 0.05 <= at <= want + lag + 2 * poll + 1.0, (
            f"{status} at {at:.2f} s, expected {want:.2f} s: {seen}"
        )


def _call(func: Callable[..., Any], **kwargs: Any) -> tuple[Any, float, float]:
    """func(**kwargs), when it was called and how long it took."""
    start = time.monotonic()
    result = func(**kwargs)
    return result, start, time.monotonic() - start


# ------------------------------------------------------------------ RDS


def _rds_status(rds: Any, ident: str) -> Callable[[], str | None]:
    def status() -> str | None:
        try:
            return rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]["DBInstanceStatus"]
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "DBInstanceNotFound"
            return None

    return status


def _create_db(rds: Any, ident: str) -> tuple[Any, float, float]:
    return _call(
        rds.create_db_instance, DBInstanceIdentifier=ident, DBInstanceClass="db.t3.micro", Engine="postgres",
        AllocatedStorage=20, MasterUsername="admin1", MasterUserPassword="secret-password-1",
    )  # fmt: skip


def test_rds_instance_creating_backing_up_available_then_deleting(slow_mode: Any) -> None:
    slow_mode(60)
    rds = _client("rds")
    _, start, lag = _create_db(rds, "slow-db")
    creating, backing_up = slow.seconds("rds.creating"), slow.seconds("rds.backing-up")
    seen = _timeline(_rds_status(rds, "slow-db"), "available", start)
    _assert_times(seen, [("creating", 0), ("backing-up", creating), ("available", creating + backing_up)], lag)
    # Listed while deleting (DescribeDBInstances without an identifier), then gone
    _, start, lag = _call(rds.delete_db_instance, DBInstanceIdentifier="slow-db", SkipFinalSnapshot=True)
    listed = rds.describe_db_instances()["DBInstances"]
    assert [(i["DBInstanceIdentifier"], i["DBInstanceStatus"]) for i in listed] == [("slow-db", "deleting")]
    seen = _timeline(_rds_status(rds, "slow-db"), None, start)
    _assert_times(seen, [("deleting", 0), (None, slow.seconds("rds.deleting"))], lag)
    assert rds.describe_db_instances()["DBInstances"] == []


# ------------------------------------------------------------------ DMS (moto's state manager)


def test_dms_replication_instance_creating_available_then_deleting(slow_mode: Any) -> None:
    slow_mode(120)
    dms = _client("dms")
    created, start, lag = _call(
        dms.create_replication_instance,
        ReplicationInstanceIdentifier="slow-ri",
        ReplicationInstanceClass="dms.t3.micro",
    )
    arn = created["ReplicationInstance"]["ReplicationInstanceArn"]

    def status() -> str | None:
        found = dms.describe_replication_instances(Filters=[{"Name": "replication-instance-arn", "Values": [arn]}])[
            "ReplicationInstances"
        ]
        return found[0]["ReplicationInstanceStatus"] if found else None

    seen = _timeline(status, "available", start)
    _assert_times(seen, [("creating", 0), ("available", slow.seconds("dms.creating"))], lag)
    _, start, lag = _call(dms.delete_replication_instance, ReplicationInstanceArn=arn)
    _assert_times(_timeline(status, None, start), [("deleting", 0), (None, slow.seconds("dms.deleting"))], lag)


# ------------------------------------------------------------------ NAT gateway


def test_nat_gateway_pending_available_then_deleting_deleted(slow_mode: Any) -> None:
    slow_mode(60)
    ec2 = _client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.0.0/24")["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    created, start, lag = _call(ec2.create_nat_gateway, SubnetId=subnet, AllocationId=allocation)
    nat = created["NatGateway"]["NatGatewayId"]

    def state() -> str:
        return ec2.describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"][0]["State"]

    seen = _timeline(state, "available", start)
    _assert_times(seen, [("pending", 0), ("available", slow.seconds("nat.pending"))], lag)
    _, start, lag = _call(ec2.delete_nat_gateway, NatGatewayId=nat)
    _assert_times(_timeline(state, "deleted", start), [("deleting", 0), ("deleted", slow.seconds("nat.deleting"))], lag)


# ------------------------------------------------------------------ Kinesis and Firehose


def test_kinesis_stream_creating_then_active(slow_mode: Any) -> None:
    slow_mode(20)
    kinesis = _client("kinesis")
    _, start, lag = _call(kinesis.create_stream, StreamName="slow-stream", ShardCount=1)

    def status() -> str:
        return kinesis.describe_stream_summary(StreamName="slow-stream")["StreamDescriptionSummary"]["StreamStatus"]

    seen = _timeline(status, "ACTIVE", start)
    _assert_times(seen, [("CREATING", 0), ("ACTIVE", slow.seconds("kinesis.creating"))], lag)


def test_firehose_creating_active_deleting_and_the_engine_delivers_only_once_active(
    slow_mode: Any, engine_host: Any
) -> None:
    slow_mode(30)
    kinesis = _client("kinesis")
    kinesis.create_stream(StreamName="cdc-stream", ShardCount=1)
    summary = kinesis.describe_stream_summary
    _timeline(
        lambda: summary(StreamName="cdc-stream")["StreamDescriptionSummary"]["StreamStatus"], "ACTIVE", time.monotonic()
    )
    _, start, lag = _call(_setup, kinesis_stream=False)
    firehose, engine = _client("firehose"), FirehoseEngine(engine_host)
    # A record written while the delivery stream is CREATING is not delivered (Firehose reads from ACTIVE)
    _put(b"while-creating\n")
    engine.tick()

    def status() -> str | None:
        try:
            return firehose.describe_delivery_stream(DeliveryStreamName=DELIVERY)["DeliveryStreamDescription"][
                "DeliveryStreamStatus"
            ]
        except ClientError:
            return None

    seen = _timeline(status, "ACTIVE", start)
    _assert_times(seen, [("CREATING", 0), ("ACTIVE", slow.seconds("firehose.creating"))], lag)
    _put(b"once-active\n")
    objects = _until(engine, _objects)
    assert [_body(k) for k in objects] == [b"once-active\n"]
    _, start, lag = _call(firehose.delete_delivery_stream, DeliveryStreamName=DELIVERY)
    _assert_times(_timeline(status, None, start), [("DELETING", 0), (None, slow.seconds("firehose.deleting"))], lag)


# ------------------------------------------------------------------ Lambda's VPC ENIs


def test_lambda_vpc_enis_block_the_security_group_until_released(slow_mode: Any) -> None:
    ec2, lam = _client("ec2"), _client("lambda")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.8.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
    group = ec2.create_security_group(GroupName="fn", Description="fn", VpcId=vpc)["GroupId"]
    role = _client("iam").create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam.create_function(
        FunctionName="fn", Runtime="python3.12", Role=role, Handler="h.h", Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
        VpcConfig={"SubnetIds": subnets, "SecurityGroupIds": [group]},
    )  # fmt: skip
    filters = [{"Name": "group-id", "Values": [group]}, {"Name": "description", "Values": ["AWS Lambda VPC ENI*"]}]

    def statuses() -> tuple[str, ...] | None:
        enis = ec2.describe_network_interfaces(Filters=filters)["NetworkInterfaces"]
        return tuple(sorted(e["Status"] for e in enis)) or None

    assert statuses() == ("in-use", "in-use")
    _, start, lag = _call(lam.delete_function, FunctionName="fn")
    with pytest.raises(ClientError, match="DependencyViolation"):
        ec2.delete_security_group(GroupId=group)
    with pytest.raises(ClientError, match="DependencyViolation"):
        ec2.delete_subnet(SubnetId=subnets[0])
    in_use = slow.seconds("lambda_eni.in-use")
    seen = _timeline(statuses, None, start)
    _assert_times(
        seen,
        [
            (("in-use", "in-use"), 0),
            (("available", "available"), in_use),
            (None, in_use + slow.seconds("lambda_eni.available")),
        ],
        lag,
    )
    ec2.delete_security_group(GroupId=group)
    ec2.delete_subnet(SubnetId=subnets[0])


# ------------------------------------------------------------------ instant mode unchanged


def test_instant_mode_is_unchanged(emulator: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(slow.ENV, raising=False)
    rds, dms, firehose = _client("rds"), _client("dms"), _client("firehose")
    _create_db(rds, "fast-db")
    assert _rds_status(rds, "fast-db")() == "available"
    rds.delete_db_instance(DBInstanceIdentifier="fast-db", SkipFinalSnapshot=True)
    assert _rds_status(rds, "fast-db")() is None
    arn = dms.create_replication_instance(
        ReplicationInstanceIdentifier="fast-ri", ReplicationInstanceClass="dms.t3.micro"
    )["ReplicationInstance"]["ReplicationInstanceArn"]
    dms.delete_replication_instance(ReplicationInstanceArn=arn)
    assert dms.describe_replication_instances()["ReplicationInstances"] == []
    _client("kinesis").create_stream(StreamName="cdc-stream", ShardCount=1)
    assert (
        _client("kinesis").describe_stream_summary(StreamName="cdc-stream")["StreamDescriptionSummary"]["StreamStatus"]
        == "ACTIVE"
    )
    _setup(kinesis_stream=False)
    description = firehose.describe_delivery_stream(DeliveryStreamName=DELIVERY)["DeliveryStreamDescription"]
    assert description["DeliveryStreamStatus"] == "ACTIVE"
    start = description["Source"]["KinesisStreamSourceDescription"]["DeliveryStartTimestamp"]
    assert start == description["CreateTimestamp"]
    firehose.delete_delivery_stream(DeliveryStreamName=DELIVERY)
    with pytest.raises(ClientError, match="ResourceNotFound"):
        firehose.describe_delivery_stream(DeliveryStreamName=DELIVERY)
