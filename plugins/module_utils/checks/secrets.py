# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets: the database credentials secret. Only its keys and lengths are ever reported, never a value."""

from __future__ import annotations

import json

from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.common import (
    check,
    compare,
    first,
    tag_problems,
)

KEYS = ["dbInstanceIdentifier", "dbname", "engine", "host", "password", "port", "username"]


def _value(ctx):
    return json.loads(ctx.client("secretsmanager").get_secret_value(SecretId=ctx.name("secret"))["SecretString"])


@check("the secret holds a generated 32-character password and the connection details, tagged, encrypted")
def credentials(ctx):
    sm = ctx.client("secretsmanager")
    described = sm.describe_secret(SecretId=ctx.name("secret"))
    value = _value(ctx)
    got = {
        "keys": sorted(value),
        "password_length": len(str(value.get("password", ""))),
        "username_length": len(str(value.get("username", ""))),
        "dbname_length": len(str(value.get("dbname", ""))),
        "kms_key": described.get("KmsKeyId", "") if ctx.want("kms_key_id", "") else "",
        "untagged": tag_problems("secret", described.get("Tags"), ctx.want("tags")),
    }
    want = {
        "keys": KEYS,
        "password_length": 32,
        "username_length": len(ctx.want("db_username")),
        "dbname_length": len(ctx.want("db_name")),
        "kms_key": ctx.want("kms_key_id", ""),
        "untagged": [],
    }
    return compare(want, got)


@check("the secret holds the endpoint the instance reports (DMS reads it)")
def endpoint(ctx):
    instances = ctx.client("rds").describe_db_instances(DBInstanceIdentifier=ctx.name("db_instance"))["DBInstances"]
    reported = first(instances, f"DB instance {ctx.name('db_instance')}").get("Endpoint", {})
    value = _value(ctx)
    same_host = value.get("host") == reported.get("Address")
    same_port = value.get("port") == reported.get("Port")
    return same_host and same_port, {"host matches": same_host, "port matches": same_port}


CHECKS = (credentials, endpoint)
