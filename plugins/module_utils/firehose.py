# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Firehose delivery stream: describe it, return it, wait for it, and converge it (create, update, delete).

The source is in firehose_kinesis_source, the extended S3 destination in firehose_s3_destination.
"""

from __future__ import annotations

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
)
from ansible_collections.smartstream.pipeline.plugins.module_utils.firehose_kinesis_source import (
    SOURCE_TYPES,
    source_configuration,
    source_problem,
)
from ansible_collections.smartstream.pipeline.plugins.module_utils.firehose_s3_destination import (
    current_destination,
    desired_destination,
    destination_differs,
    destination_update,
)
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import tag_changes, wait_for


def describe(client, name):
    try:
        return client.describe_delivery_stream(aws_retry=True, DeliveryStreamName=name)["DeliveryStreamDescription"]
    except is_boto3_error_code("ResourceNotFoundException"):
        return None


def get_tags(client, name):
    return boto3_tag_list_to_ansible_dict(
        client.list_tags_for_delivery_stream(aws_retry=True, DeliveryStreamName=name).get("Tags", [])
    )


def wait_active(module, client, name):
    def failed(desc):
        if desc is None:
            return "the stream disappeared"
        if desc["DeliveryStreamStatus"] in ("CREATING_FAILED", "DELETING_FAILED"):
            return (desc.get("FailureDescription") or {}).get("Details", "no details")
        return None

    wait_for(
        lambda: describe(client, name),
        lambda d: d is not None and d["DeliveryStreamStatus"] == "ACTIVE",
        f"delivery stream {name} to become ACTIVE",
        timeout=module.params["wait_timeout"],
        delay=5,
        failed=failed,
    )


def view(client, description):
    """A described stream as the module returns it (snake case, with tags); {} for none."""
    if description is None:
        return {}
    out = camel_dict_to_snake_dict(description)
    out["tags"] = get_tags(client, description["DeliveryStreamName"])
    return out


def ensure_present(module, client, params):
    name = params["name"]
    description = describe(client, name)
    before = view(client, description)
    desired = desired_destination(params)
    changed = False
    if description is None:
        changed = True
        if module.check_mode:
            return changed, before, {"delivery_stream_name": name, "delivery_stream_status": "CREATING"}
        request = {
            "DeliveryStreamName": name,
            "DeliveryStreamType": SOURCE_TYPES[params["source"]],
            "ExtendedS3DestinationConfiguration": desired,
        }
        source = source_configuration(params)
        if source is not None:
            request["KinesisStreamSourceConfiguration"] = source
        if params["tags"]:
            request["Tags"] = ansible_dict_to_boto3_tag_list(params["tags"])
        client.create_delivery_stream(aws_retry=True, **request)
        if params["wait"]:
            wait_active(module, client, name)
        return changed, before, view(client, describe(client, name))

    problem = source_problem(description, params)
    if problem:
        module.fail_json(
            msg=f"Delivery stream {name}: its source cannot change in place ({problem}); "
            "it requires replacement: delete it (state=absent) and create it again",
            delivery_stream=before,
        )
    if description["DeliveryStreamStatus"] == "CREATING" and params["wait"] and not module.check_mode:
        wait_active(module, client, name)
        description = describe(client, name)
    destination_id, current = current_destination(description)
    if destination_differs(current, desired):
        changed = True
        if not module.check_mode:
            client.update_destination(
                aws_retry=True, **destination_update(name, description["VersionId"], destination_id, desired)
            )
    to_set, to_remove = tag_changes(before.get("tags", {}), params["tags"], params["purge_tags"])
    if to_set or to_remove:
        changed = True
        if not module.check_mode:
            if to_set:
                client.tag_delivery_stream(
                    aws_retry=True, DeliveryStreamName=name, Tags=ansible_dict_to_boto3_tag_list(to_set)
                )
            if to_remove:
                client.untag_delivery_stream(aws_retry=True, DeliveryStreamName=name, TagKeys=to_remove)
    if changed and not module.check_mode and params["wait"]:
        wait_active(module, client, name)
    return changed, before, view(client, describe(client, name)) if changed and not module.check_mode else before


def ensure_absent(module, client, params):
    name = params["name"]
    description = describe(client, name)
    if description is None:
        return False, {}, {}
    before = view(client, description)
    # Already DELETING: an earlier run asked; this one only waits (and changes nothing).
    deleting = description["DeliveryStreamStatus"] == "DELETING"
    if not module.check_mode:
        if not deleting:
            client.delete_delivery_stream(aws_retry=True, DeliveryStreamName=name)
        if params["wait"]:
            wait_for(
                lambda: describe(client, name),
                lambda d: d is None,
                f"delivery stream {name} to be deleted",
                timeout=params["wait_timeout"],
                delay=params["poll_interval"],
            )
    if deleting:
        return False, before, {} if params["wait"] and not module.check_mode else before
    return True, before, {}
