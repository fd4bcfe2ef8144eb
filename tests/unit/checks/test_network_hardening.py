"""Endpoint policies and flow logs: built as the network role builds them they pass; each weakening fails."""

from __future__ import annotations

import json

from ansible_collections.smartstream.pipeline.plugins.module_utils.checks import network

from .conftest import ACCOUNT, PREFIX, client
from .test_network import EXPECTED, FLOW_LOG_GROUP, FLOW_LOG_ROLE, build, flow_log_trust, interface_policy, s3_policy

DEFAULT_POLICY = json.dumps(
    {"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}
)


def test_the_hardened_network_passes(check):
    build()
    for func in (network.endpoint_policies, network.flow_logs, network.flow_log_role):
        result = check(func, EXPECTED)
        assert result["ok"], result


def test_an_interface_endpoint_with_the_default_policy_fails(check):
    built = build()
    client("ec2").modify_vpc_endpoint(VpcEndpointId=built["sts_endpoint"], PolicyDocument=DEFAULT_POLICY)
    result = check(network.endpoint_policies, EXPECTED)
    assert not result["ok"]
    assert result["detail"] == [
        f"sts/?: not limited to aws:PrincipalAccount {ACCOUNT}",
        f"sts/?: not limited to aws:ResourceAccount {ACCOUNT}",
    ]


def test_an_interface_endpoint_open_to_another_account_fails(check):
    built = build()
    policy = {
        "Statement": [
            {
                "Sid": "Both",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "sts:*",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:PrincipalAccount": [ACCOUNT, "999999999999"], "aws:ResourceAccount": ACCOUNT}
                },
            }
        ]
    }
    client("ec2").modify_vpc_endpoint(VpcEndpointId=built["sts_endpoint"], PolicyDocument=json.dumps(policy))
    result = check(network.endpoint_policies, EXPECTED)
    assert not result["ok"] and result["detail"] == [f"sts/Both: not limited to aws:PrincipalAccount {ACCOUNT}"]


def test_the_s3_endpoint_reaching_another_bucket_fails(check):
    built = build()
    policy = json.loads(s3_policy())
    policy["Statement"][0]["Resource"].append("arn:aws:s3:::somebody-elses-bucket/*")
    client("ec2").modify_vpc_endpoint(VpcEndpointId=built["s3_endpoint"], PolicyDocument=json.dumps(policy))
    result = check(network.endpoint_policies, EXPECTED)
    assert not result["ok"]
    assert result["detail"] == [
        "s3/PlatformBucketsByThisAccount: resources outside the platform's buckets: "
        "['arn:aws:s3:::somebody-elses-bucket/*']"
    ]


def test_aws_owned_objects_pass_only_when_expected_and_read_only(check):
    built = build()
    layers = "arn:aws:s3:::prod-us-east-1-starport-layer-bucket/*"
    owned = {
        "Sid": "AwsOwnedObjects",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": layers,
    }
    client("ec2").modify_vpc_endpoint(VpcEndpointId=built["s3_endpoint"], PolicyDocument=s3_policy(owned))
    assert not check(network.endpoint_policies, EXPECTED)["ok"]
    expected = {**EXPECTED, "network": {**EXPECTED["network"], "s3_endpoint_aws_owned_resources": [layers]}}
    assert check(network.endpoint_policies, expected)["ok"]
    writable = {**owned, "Action": ["s3:GetObject", "s3:PutObject"]}
    client("ec2").modify_vpc_endpoint(VpcEndpointId=built["s3_endpoint"], PolicyDocument=s3_policy(writable))
    result = check(network.endpoint_policies, expected)
    assert not result["ok"] and result["detail"] == ["s3/AwsOwnedObjects: AWS-owned objects for more than s3:GetObject"]


def test_no_flow_log_fails_naming_it(check):
    built = build()
    client("ec2").delete_flow_logs(FlowLogIds=[built["flow_log"]])
    result = check(network.flow_logs, EXPECTED)
    assert not result["ok"] and result["detail"] == f"missing: flow log of {built['vpc']} to {FLOW_LOG_GROUP}"


def test_rejected_traffic_only_and_a_shorter_retention_fail(check):
    built = build()
    ec2 = client("ec2")
    role = client("iam").get_role(RoleName=FLOW_LOG_ROLE)["Role"]["Arn"]
    ec2.delete_flow_logs(FlowLogIds=[built["flow_log"]])
    ec2.create_flow_logs(
        ResourceIds=[built["vpc"]],
        ResourceType="VPC",
        TrafficType="REJECT",
        LogGroupName=FLOW_LOG_GROUP,
        DeliverLogsPermissionArn=role,
    )
    client("logs").put_retention_policy(logGroupName=FLOW_LOG_GROUP, retentionInDays=1)
    result = check(network.flow_logs, EXPECTED)
    assert not result["ok"]
    assert result["detail"] == {
        "traffic_type": {"want": "ALL", "got": "REJECT"},
        "retention_days": {"want": 7, "got": 1},
    }


def test_an_unencrypted_flow_log_group_fails_when_a_key_is_expected(check):
    build()
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    expected = {**EXPECTED, "network": {**EXPECTED["network"], "flow_logs_kms_key_arn": key}}
    result = check(network.flow_logs, expected)
    assert not result["ok"] and result["detail"] == {"kms_key": {"want": key, "got": ""}}


def test_a_flow_log_role_without_the_confused_deputy_conditions_fails(check):
    build()
    client("iam").update_assume_role_policy(RoleName=FLOW_LOG_ROLE, PolicyDocument=flow_log_trust({}))
    result = check(network.flow_log_role, EXPECTED)
    assert not result["ok"]
    assert result["detail"] == {
        "source_account": {"want": ["True"], "got": ["False"]},
        "source_arn": {"want": ["True"], "got": ["False"]},
    }


def test_a_flow_log_role_writing_elsewhere_fails(check):
    build()
    broad = {"Effect": "Allow", "Action": ["logs:PutLogEvents", "logs:CreateLogGroup"], "Resource": "*"}
    client("iam").put_role_policy(
        RoleName=FLOW_LOG_ROLE,
        PolicyName="extra",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [broad]}),
    )
    result = check(network.flow_log_role, EXPECTED)
    assert not result["ok"]
    assert result["detail"] == {
        "extra_actions": {"want": [], "got": ["logs:CreateLogGroup"]},
        "other_resources": {"want": [], "got": ["*"]},
    }
    assert PREFIX in FLOW_LOG_ROLE


def test_only_resourceless_actions_may_go_without_the_resource_account(check):
    built = build()
    ec2 = client("ec2")
    secrets = ec2.create_vpc_endpoint(
        VpcId=built["vpc"],
        ServiceName="com.amazonaws.us-east-1.secretsmanager",
        VpcEndpointType="Interface",
        SubnetIds=built["subnets"]["private"],
        SecurityGroupIds=[built["groups"]["endpoints"]],
    )["VpcEndpoint"]["VpcEndpointId"]
    scoped = json.loads(interface_policy("secretsmanager"))["Statement"][0]
    random = {
        "Sid": "ResourcelessActionsOfThisAccount",
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["secretsmanager:GetRandomPassword"],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
    }
    document = {"Version": "2012-10-17", "Statement": [scoped, random]}
    ec2.modify_vpc_endpoint(VpcEndpointId=secrets, PolicyDocument=json.dumps(document))
    assert check(network.endpoint_policies, EXPECTED)["ok"]

    random["Action"].append("secretsmanager:GetSecretValue")
    ec2.modify_vpc_endpoint(VpcEndpointId=secrets, PolicyDocument=json.dumps(document))
    result = check(network.endpoint_policies, EXPECTED)
    assert not result["ok"]
    assert result["detail"] == [
        f"secretsmanager/ResourcelessActionsOfThisAccount: not limited to aws:ResourceAccount {ACCOUNT}"
    ]
