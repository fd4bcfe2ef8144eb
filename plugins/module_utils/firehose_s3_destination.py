# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The extended S3 destination of a Firehose delivery stream: the wanted one, the described one, the update.

Also the CloudWatch log stream its delivery errors go to (Firehose does not make it through the API).
"""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import canonical


def desired_destination(params):
    """The extended S3 destination in the API's shape (create and update take the same fields)."""
    destination = {
        "RoleARN": params["role_arn"],
        "BucketARN": params["bucket_arn"],
        "Prefix": params["prefix"],
        "ErrorOutputPrefix": params["error_output_prefix"],
        "BufferingHints": {
            "SizeInMBs": params["buffering_size_mb"],
            "IntervalInSeconds": params["buffering_interval_seconds"],
        },
        "CompressionFormat": params["compression"],
        "EncryptionConfiguration": (
            {"KMSEncryptionConfig": {"AWSKMSKeyARN": params["kms_key_arn"]}}
            if params["kms_key_arn"]
            else {"NoEncryptionConfig": "NoEncryption"}
        ),
        "ProcessingConfiguration": {
            "Enabled": bool(params["processors"]),
            "Processors": [
                {
                    "Type": p["type"],
                    "Parameters": [
                        {"ParameterName": k, "ParameterValue": str(v)}
                        for k, v in sorted((p["parameters"] or {}).items())
                    ],
                }
                for p in params["processors"]
            ],
        },
    }
    logging = params["cloudwatch_logging"]
    if logging:
        destination["CloudWatchLoggingOptions"] = {
            "Enabled": logging["enabled"],
            "LogGroupName": logging.get("log_group") or "",
            "LogStreamName": logging.get("log_stream") or "",
        }
    else:
        destination["CloudWatchLoggingOptions"] = {"Enabled": False}
    return destination


def current_destination(description):
    """(destination id, the extended S3 destination reduced to the fields this module manages)."""
    for dest in description.get("Destinations", []):
        s3 = dest.get("ExtendedS3DestinationDescription")
        if s3 is not None:
            return dest["DestinationId"], s3
    return None, None


def destination_differs(current, desired):
    """Whether any managed field differs; processors compare on the parameters given."""
    if current is None:
        return True
    for key, value in desired.items():
        if key == "ProcessingConfiguration":
            continue
        have = current.get(key)
        if key == "CloudWatchLoggingOptions" and not value.get("Enabled") and not (have or {}).get("Enabled"):
            continue
        if key in ("Prefix", "ErrorOutputPrefix"):
            have = have or ""
        if canonical(have) != canonical(value):
            return True
    want = desired["ProcessingConfiguration"]
    have = current.get("ProcessingConfiguration") or {"Enabled": False, "Processors": []}
    if bool(have.get("Enabled")) != want["Enabled"]:
        return True
    if want["Enabled"]:
        have_procs = have.get("Processors", [])
        if len(have_procs) != len(want["Processors"]):
            return True
        for h, w in zip(have_procs, want["Processors"], strict=True):
            have_params = {p["ParameterName"]: p["ParameterValue"] for p in h.get("Parameters", [])}
            if h.get("Type") != w["Type"] or any(
                have_params.get(p["ParameterName"]) != p["ParameterValue"] for p in w["Parameters"]
            ):
                return True
    return False


def destination_update(name, version_id, destination_id, desired):
    """The UpdateDestination request that makes the stream's extended S3 destination the desired one."""
    return {
        "DeliveryStreamName": name,
        "CurrentDeliveryStreamVersionId": version_id,
        "DestinationId": destination_id,
        "ExtendedS3DestinationUpdate": desired,
    }


def ensure_log_stream(module, params):
    """Create the error log stream when it is missing; True when it was created."""
    logging = params.get("cloudwatch_logging") or {}
    if not (logging.get("enabled", True) and logging.get("log_group") and logging.get("log_stream")):
        return False
    logs = module.client("logs", retry_decorator=AWSRetry.jittered_backoff())
    try:
        found = logs.describe_log_streams(
            aws_retry=True, logGroupName=logging["log_group"], logStreamNamePrefix=logging["log_stream"]
        ).get("logStreams", [])
    except is_boto3_error_code("ResourceNotFoundException"):
        if module.check_mode:
            return True  # the log group is still to be made by an earlier task of this run
        module.fail_json(msg=f"log group {logging['log_group']} does not exist: create it before the delivery stream")
    if any(stream["logStreamName"] == logging["log_stream"] for stream in found):
        return False
    if not module.check_mode:
        logs.create_log_stream(aws_retry=True, logGroupName=logging["log_group"], logStreamName=logging["log_stream"])
    return True
