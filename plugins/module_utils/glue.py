# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers shared by the Glue modules of smartstream.pipeline."""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code


def get_crawler(client, name):
    """The crawler called ``name`` as GetCrawler returns it, or None when there is none."""
    try:
        return client.get_crawler(aws_retry=True, Name=name)["Crawler"]
    except is_boto3_error_code("EntityNotFoundException"):
        return None
