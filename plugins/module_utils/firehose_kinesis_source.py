# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The source of a Firehose delivery stream: a Kinesis data stream (KinesisStreamAsSource) or direct puts."""

from __future__ import annotations

SOURCE_TYPES = {"kinesis_stream": "KinesisStreamAsSource", "direct_put": "DirectPut"}


def source_configuration(params):
    """The KinesisStreamSourceConfiguration of CreateDeliveryStream (None with source=direct_put)."""
    if params["source"] != "kinesis_stream":
        return None
    return {
        "KinesisStreamARN": params["kinesis_stream_arn"],
        "RoleARN": params["source_role_arn"],
    }


def source_problem(description, params):
    """Why the existing stream's source differs from the wanted one (None when it does not)."""
    wanted_type = SOURCE_TYPES[params["source"]]
    if description.get("DeliveryStreamType") != wanted_type:
        return f"source type {description.get('DeliveryStreamType')} -> {wanted_type}"
    if wanted_type == "KinesisStreamAsSource":
        src = (description.get("Source") or {}).get("KinesisStreamSourceDescription") or {}
        if src.get("KinesisStreamARN") != params["kinesis_stream_arn"]:
            return f"source stream {src.get('KinesisStreamARN')} -> {params['kinesis_stream_arn']}"
        if src.get("RoleARN") != params["source_role_arn"]:
            return f"source role {src.get('RoleARN')} -> {params['source_role_arn']}"
    return None
