#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: cloudwatch_metric_alarms
short_description: Converge a list of CloudWatch metric alarms in one call
version_added: 0.2.0
description:
  - Creates, updates or deletes several CloudWatch metric alarms at once. The current alarms are read
    with one C(DescribeAlarms) call, and only an alarm that differs from its desired settings is written
    (C(PutMetricAlarm) replaces an alarm whole), so an unchanged list reports no change.
  - One process for the whole list instead of one per alarm, as a loop over
    M(amazon.aws.cloudwatch_metric_alarm) needs; a converged platform's alarms are checked in well under a second.
  - Alarms not in the list are left alone.
author:
  - SmartStream platform team (@smartstream)
options:
  alarms:
    description:
      - The alarms. With I(state=absent) only C(name) is used.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Alarm name (1-255 characters).
        type: str
        required: true
      description:
        description: Alarm description.
        type: str
      namespace:
        description: Metric namespace, for example C(AWS/Kinesis). Required with I(state=present).
        type: str
      metric_name:
        description: Metric name. Required with I(state=present).
        type: str
      statistic:
        description: Statistic of the metric. Required with I(state=present).
        type: str
        choices: [SampleCount, Average, Sum, Minimum, Maximum]
      comparison:
        description: How the statistic is compared with I(threshold). Required with I(state=present).
        type: str
        choices: [GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold, LessThanOrEqualToThreshold]
      threshold:
        description: Threshold. Required with I(state=present).
        type: float
      period:
        description: Seconds of one evaluation period (10, 30 or a multiple of 60). Required with I(state=present).
        type: int
      evaluation_periods:
        description: Periods evaluated. Required with I(state=present).
        type: int
      datapoints_to_alarm:
        description: Breaching data points within I(evaluation_periods) that set the alarm; all of them when unset.
        type: int
      dimensions:
        description: Dimensions of the metric, name to value.
        type: dict
        default: {}
      unit:
        description: Unit of the metric; any unit when unset.
        type: str
      treat_missing_data:
        description: How missing data points count.
        type: str
        choices: [breaching, notBreaching, ignore, missing]
        default: missing
      alarm_actions:
        description: ARNs notified when the alarm goes to ALARM.
        type: list
        elements: str
        default: []
      ok_actions:
        description: ARNs notified when the alarm goes to OK.
        type: list
        elements: str
        default: []
      insufficient_data_actions:
        description: ARNs notified when the alarm goes to INSUFFICIENT_DATA.
        type: list
        elements: str
        default: []
      actions_enabled:
        description: Whether the actions run.
        type: bool
        default: true
  state:
    description: C(present) creates or updates every alarm of the list, C(absent) deletes them.
    choices: [present, absent]
    default: present
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Alarms of the stream and the delivery stream
  smartstream.pipeline.cloudwatch_metric_alarms:
    alarms:
      - name: smartstream-dev-kinesis-iterator-age
        description: Firehose is falling behind the CDC stream
        namespace: AWS/Kinesis
        metric_name: GetRecords.IteratorAgeMilliseconds
        statistic: Maximum
        comparison: GreaterThanThreshold
        threshold: 60000
        period: 300
        evaluation_periods: 1
        dimensions: {StreamName: smartstream-dev-cdc}
        treat_missing_data: notBreaching
        alarm_actions: [arn:aws:sns:eu-north-1:123456789012:smartstream-dev-alerts]

- name: Remove them
  smartstream.pipeline.cloudwatch_metric_alarms:
    alarms:
      - name: smartstream-dev-kinesis-iterator-age
    state: absent
"""

RETURN = r"""
alarms:
  description: Names of the alarms of the list that exist after the call (none with I(state=absent)).
  returned: always
  type: list
  elements: str
  sample: [smartstream-dev-kinesis-iterator-age]
changed_alarms:
  description: Names of the alarms created, updated or deleted (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: []
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import canonical

REQUIRED = ("namespace", "metric_name", "statistic", "comparison", "threshold", "period", "evaluation_periods")
# PutMetricAlarm parameter -> the alarm spec's key (DescribeAlarms returns the same names).
FIELDS = {
    "AlarmDescription": "description",
    "Namespace": "namespace",
    "MetricName": "metric_name",
    "Statistic": "statistic",
    "ComparisonOperator": "comparison",
    "Threshold": "threshold",
    "Period": "period",
    "EvaluationPeriods": "evaluation_periods",
    "DatapointsToAlarm": "datapoints_to_alarm",
    "Unit": "unit",
    "TreatMissingData": "treat_missing_data",
    "ActionsEnabled": "actions_enabled",
}
ACTIONS = {
    "AlarmActions": "alarm_actions",
    "OKActions": "ok_actions",
    "InsufficientDataActions": "insufficient_data_actions",
}


def desired_settings(spec):
    """The PutMetricAlarm parameters of one alarm spec (unset optional fields left out)."""
    settings = {"AlarmName": spec["name"]}
    for key, option in FIELDS.items():
        if spec.get(option) is not None:
            settings[key] = float(spec[option]) if key == "Threshold" else spec[option]
    for key, option in ACTIONS.items():
        settings[key] = sorted(spec.get(option) or [])
    settings["Dimensions"] = [{"Name": k, "Value": str(v)} for k, v in sorted((spec.get("dimensions") or {}).items())]
    return settings


def current_settings(alarm, desired):
    """The settings of a described alarm, in the form of ``desired`` (keys AWS leaves out when unset)."""
    current = {"AlarmName": alarm["AlarmName"]}
    for key in FIELDS:
        if key in alarm:
            current[key] = float(alarm[key]) if key == "Threshold" else alarm[key]
    for key in ACTIONS:
        current[key] = sorted(alarm.get(key) or [])
    current["Dimensions"] = sorted(alarm.get("Dimensions") or [], key=lambda d: d["Name"])
    if "DatapointsToAlarm" not in desired and current.get("DatapointsToAlarm") == current.get("EvaluationPeriods"):
        current.pop("DatapointsToAlarm", None)  # AWS may echo the default
    return current


def describe(client, names):
    found = {}
    paginator = client.get_paginator("describe_alarms")
    for start in range(0, len(names), 100):
        pages = paginator.paginate(AlarmNames=names[start : start + 100], AlarmTypes=["MetricAlarm"])
        for page in pages.build_full_result().get("MetricAlarms", []):
            found[page["AlarmName"]] = page
    return found


def converge(module, client, specs, state):
    names = [s["name"] for s in specs]
    current = describe(client, names)
    changed, before, after = [], {}, {}
    if state == "absent":
        gone = [n for n in names if n in current]
        if gone and not module.check_mode:
            for start in range(0, len(gone), 100):
                client.delete_alarms(aws_retry=True, AlarmNames=gone[start : start + 100])
        before = {n: current_settings(current[n], {}) for n in gone}
        return gone, [], before, {}
    for spec in specs:
        missing = [option for option in REQUIRED if spec.get(option) is None]
        if missing:
            module.fail_json(msg=f"alarm {spec['name']}: {', '.join(missing)} required with state=present")
        desired = desired_settings(spec)
        existing = current.get(spec["name"])
        was = current_settings(existing, desired) if existing else {}
        if canonical(was) != canonical(desired):
            changed.append(spec["name"])
            if existing:
                before[spec["name"]] = was
            after[spec["name"]] = desired
            if not module.check_mode:
                client.put_metric_alarm(aws_retry=True, **desired)
    return changed, names, before, after


def main():
    alarm_spec = dict(
        name=dict(type="str", required=True),
        description=dict(type="str"),
        namespace=dict(type="str"),
        metric_name=dict(type="str"),
        statistic=dict(type="str", choices=["SampleCount", "Average", "Sum", "Minimum", "Maximum"]),
        comparison=dict(
            type="str",
            choices=[
                "GreaterThanOrEqualToThreshold",
                "GreaterThanThreshold",
                "LessThanThreshold",
                "LessThanOrEqualToThreshold",
            ],
        ),
        threshold=dict(type="float"),
        period=dict(type="int"),
        evaluation_periods=dict(type="int"),
        datapoints_to_alarm=dict(type="int"),
        dimensions=dict(type="dict", default={}),
        unit=dict(type="str"),
        treat_missing_data=dict(
            type="str", default="missing", choices=["breaching", "notBreaching", "ignore", "missing"]
        ),
        alarm_actions=dict(type="list", elements="str", default=[]),
        ok_actions=dict(type="list", elements="str", default=[]),
        insufficient_data_actions=dict(type="list", elements="str", default=[]),
        actions_enabled=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(
        argument_spec=dict(
            alarms=dict(type="list", elements="dict", required=True, options=alarm_spec),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        supports_check_mode=True,
    )
    specs = module.params["alarms"]
    names = [s["name"] for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        module.fail_json(msg=f"alarm names must be unique: {', '.join(duplicates)}")
    bad = [n for n in names if not 1 <= len(n) <= 255]
    if bad:
        module.fail_json(msg=f"alarm names must be 1-255 characters: {bad}")
    client = module.client("cloudwatch", retry_decorator=AWSRetry.jittered_backoff())
    try:
        changed, present, before, after = converge(module, client, specs, module.params["state"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="CloudWatch alarms: the AWS request failed")
    result = {"changed": bool(changed), "changed_alarms": changed, "alarms": present}
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
