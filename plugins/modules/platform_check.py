#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: platform_check
short_description: Check a deployed SmartStream platform layer by layer, read-only
version_added: 0.1.0
description:
  - Reads the deployed platform through the AWS API and runs the checks of the selected layers (plain
    functions in C(plugins/module_utils/checks/), one file per layer), returning one result per check
    (layer, name, aspect, ok, detail).
  - I(configuration) checks audit how the platform is set up (encryption, public access blocks, TLS-only
    policies, private networking, IAM least privilege, the inventory's settings); I(health) checks say
    whether it works now (states, alarms, last crawls) and the C(freshness) layer how far behind each stage
    is, in seconds, against a threshold.
  - Changes nothing, so check mode runs the same checks. Never returns a secret's value (only its keys and
    lengths).
  - Fails when a check fails, unless O(fail_on_failure=false); fails with the AWS error when a request
    fails (credentials, permissions, throttling), naming the check. A resource that does not exist is a
    failed check, not an error.
author:
  - SmartStream platform team (@smartstream)
options:
  layers:
    description: Layers to check, run in the order the platform is built.
    type: list
    elements: str
    choices: [keys, network, secrets, storage, database, streaming, ingestion, processing, catalog, analytics,
              monitoring, iam, freshness]
    default: [keys, network, secrets, storage, database, streaming, ingestion, processing, catalog, analytics,
              monitoring, iam]
  aspects:
    description: Which checks of those layers to run.
    type: list
    elements: str
    choices: [configuration, health]
    default: [configuration, health]
  names:
    description:
      - Names of the platform's resources, as the C(smartstream) role and the layers' defaults compute them
        (C(playbooks/tasks/platform_names.yml) builds this dict).
      - Keys C(prefix), C(region), C(account_id), C(data_lake_bucket), C(athena_results_bucket), C(secret),
        C(db_instance), C(stream), C(delivery_stream), C(replication_instance), C(replication_task),
        C(source_endpoint), C(target_endpoint), C(dms_role), C(transform_function), C(ml_function),
        C(ml_schedule_rule), C(dlq), C(glue_database), C(crawlers) (name to zone prefix), C(workgroup),
        C(alert_topic), C(task_failure_rule), C(dashboard). A check whose name is missing fails and says so.
    type: dict
    required: true
  expected:
    description:
      - The settings the deployment must show (the inventory's values), one dict per layer, plus shared keys
        that every layer reads when its own dict lacks them (C(tags), C(log_retention_days)); for example
        C(network.vpc_cidr), C(storage.raw_expiration_days), C(streaming.shards), C(iam.roles) (role name to
        service principals). C(playbooks/tasks/platform_expected.yml) builds it from the layers' variables.
      - For the C(freshness) layer, C(freshness.thresholds) (seconds per stage - C(dms_source_latency),
        C(dms_target_latency), C(stream_iterator_age), C(firehose_data_freshness), C(raw_object_age),
        C(trusted_object_age)), C(freshness.trusted_tables) (C(schema.table)), C(freshness.metric_window_minutes)
        (15), C(freshness.raw_lookback_hours) (24) and C(freshness.trusted_lookback_days) (2).
      - A configuration check whose expected value is missing fails and says which key it needs.
    type: dict
    default: {}
  external_results:
    description:
      - Results of checks made outside the AWS API (for example a query of the source database from this
        host), each with C(layer), C(name), C(ok) and C(detail), added to RV(results), the report and the verdict.
    type: list
    elements: dict
    default: []
  fail_on_failure:
    description: Fail the task when a check fails. V(false) only reports (RV(failed_checks) tells).
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Health and freshness of every stage, reported, not failed
  smartstream.pipeline.platform_check:
    layers: [database, ingestion, streaming, storage, processing, catalog, monitoring, freshness]
    aspects: [health]
    names: "{{ platform_names }}"
    expected:
      freshness:
        trusted_tables: [public.employees]
        thresholds: {stream_iterator_age: 300, raw_object_age: 3600}
    fail_on_failure: false
  register: health

- name: Print the table
  ansible.builtin.debug:
    msg: "{{ health.report }}"

- name: Audit the storage layer's configuration (the task fails when a check fails)
  smartstream.pipeline.platform_check:
    layers: [storage]
    aspects: [configuration]
    names: "{{ platform_names }}"
    expected:
      tags: {Project: smartstream, Environment: prod, ManagedBy: "ansible:smartstream.pipeline"}
      storage:
        kms_key_id: ""
        noncurrent_version_expiration_days: 30
        raw_transition_days: 30
        raw_expiration_days: 365
        quarantine_expiration_days: 90
        athena_results_expiration_days: 30
"""

RETURN = r"""
results:
  description: One entry per check run, in the order of the layers.
  returned: always
  type: list
  elements: dict
  contains:
    layer:
      description: The layer the check belongs to.
      type: str
      sample: storage
    name:
      description: What the check asserts.
      type: str
      sample: both buckets encrypted, versioned, all public access blocked, owner-enforced, TLS 1.2+ only, tagged
    aspect:
      description: V(configuration) or V(health).
      type: str
      sample: configuration
    ok:
      description: Whether the check passed.
      type: bool
      sample: true
    detail:
      description: What was found; on failure the differences (want/got) or the cause.
      type: raw
      sample: as expected
    seconds:
      description: Freshness checks only, how far behind the stage is (null when no data flowed).
      type: float
      sample: 4.2
    threshold_seconds:
      description: Freshness checks only, the healthy threshold.
      type: float
      sample: 300
  sample: [{"layer": "streaming", "name": "Firehose active", "aspect": "health", "ok": true, "detail": "ACTIVE"}]
failed_checks:
  description: How many checks failed.
  returned: always
  type: int
  sample: 0
summary:
  description: One line, how many checks passed and which failed.
  returned: always
  type: str
  sample: 31 of 31 checks passed
report:
  description: A fixed-width table of the results, one line per check after a header.
  returned: always
  type: list
  elements: str
  sample: ["     | layer     | check         | seconds | detail", "ok   | streaming | Firehose active |         | ACTIVE"]
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.common import ASPECTS, Context
from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.report import summary, table
from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.runner import LAYERS, CheckError, run


class RetryingClient:
    """A boto3 client whose API calls retry throttling with jittered backoff (aws_retry=True on each)."""

    def __init__(self, client):
        self._client = client
        self._operations = set(client.meta.method_to_api_mapping)

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if name in self._operations:
            return lambda **kwargs: attribute(aws_retry=True, **kwargs)
        return attribute


def main():
    argument_spec = dict(
        layers=dict(type="list", elements="str", choices=list(LAYERS), default=[x for x in LAYERS if x != "freshness"]),
        aspects=dict(type="list", elements="str", choices=list(ASPECTS), default=list(ASPECTS)),
        names=dict(type="dict", required=True),
        expected=dict(type="dict", default={}),
        external_results=dict(type="list", elements="dict", default=[]),
        fail_on_failure=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    names = dict(module.params["names"])
    names.setdefault("region", module.region)

    def client(service):
        return RetryingClient(module.client(service, retry_decorator=AWSRetry.jittered_backoff()))

    context = Context(client, names, module.params["expected"])
    try:
        results = run(context, module.params["layers"], module.params["aspects"])
    except CheckError as e:
        module.fail_json_aws(e.cause, msg=f"{e.layer} check '{e.name}': the AWS request failed")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg="platform checks: the AWS request failed")
    for given in module.params["external_results"]:
        if not {"layer", "name", "ok"} <= set(given):
            module.fail_json(msg=f"external_results: each needs layer, name and ok; got {sorted(given)}")
        results.append(
            dict(given, aspect=given.get("aspect", "health"), ok=bool(given["ok"]), detail=given.get("detail", ""))
        )
    order = list(LAYERS)
    results.sort(key=lambda r: order.index(r["layer"]) if r["layer"] in order else len(order))
    failed = [r for r in results if not r["ok"]]
    outcome = dict(changed=False, results=results, failed_checks=len(failed), summary=summary(results))
    outcome["report"] = table(results)
    if failed and module.params["fail_on_failure"]:
        module.fail_json(msg=outcome["summary"], **outcome)
    module.exit_json(**outcome)


if __name__ == "__main__":
    main()
