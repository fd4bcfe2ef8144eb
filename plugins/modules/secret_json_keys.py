#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: secret_json_keys
short_description: Set some keys of a JSON secret in AWS Secrets Manager, keeping the others
version_added: 0.1.0
description:
  - Reads the current value of a Secrets Manager secret that holds a JSON object, sets the given
    keys, and stores a new version only when a value differs. Keys not given (for example a
    generated password) are kept as they are.
  - C(community.aws.secretsmanager_secret) can only replace a whole value, and with
    C(overwrite=false) never updates it; the database layer needs to add the instance's C(host)
    to the credentials secret without knowing or regenerating the password.
  - Can also return the whole value (I(return_value)), for tasks that must connect with it.
    Such tasks must set C(no_log).
  - Neither the output nor the diff ever contains values; the diff lists the names of the keys
    that change.
  - In check mode a missing secret is not an error (an earlier task of the same run would create
    it). The module then reports every given key as changing, and RV(value) holds only those keys.
  - Several secrets can be set in one run with I(secrets) (one secret after the other, each as
    with I(secret_id) and I(keys)).
author:
  - SmartStream platform team (@smartstream)
options:
  secret_id:
    description:
      - Name or ARN of the secret. It must exist and hold a JSON object.
      - Exactly one of I(secret_id) and I(secrets) is required.
    type: str
  keys:
    description:
      - Keys to set and their values. Values may be strings, numbers or booleans. Empty reads only.
      - Only with I(secret_id).
    type: dict
    default: {}
  secrets:
    description:
      - Several secrets, each with its keys, set in this order in one module run.
      - The result lists each secret in RV(secrets); the module reports a change when any secret changes.
    type: list
    elements: dict
    suboptions:
      secret_id:
        description: Name or ARN of the secret. It must exist and hold a JSON object.
        required: true
        type: str
      keys:
        description: Keys to set and their values, as I(keys).
        type: dict
        default: {}
  return_value:
    description:
      - Return the whole value of the secret (after the change) as RV(value); with I(secrets), the
        value of each secret in its entry of RV(secrets).
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Add the database endpoint to the credentials secret
  smartstream.pipeline.secret_json_keys:
    secret_id: smartstream/dev/rds/master
    keys:
      host: smartstream-dev-db.abc123.eu-north-1.rds.amazonaws.com
      port: 5432

- name: The endpoint into both credentials secrets, in one run
  smartstream.pipeline.secret_json_keys:
    secrets:
      - secret_id: smartstream/dev/rds/master
        keys: {host: smartstream-dev-db.abc123.eu-north-1.rds.amazonaws.com, port: 5432}
      - secret_id: smartstream/dev/rds/replication
        keys: {host: smartstream-dev-db.abc123.eu-north-1.rds.amazonaws.com, port: 5432}

- name: Read the credentials to connect (never logged)
  smartstream.pipeline.secret_json_keys:
    secret_id: smartstream/dev/rds/master
    return_value: true
  register: credentials
  no_log: true
"""

RETURN = r"""
changed_keys:
  description: Names of the keys whose values were (or in check mode would be) changed.
  returned: with I(secret_id)
  type: list
  elements: str
  sample: ["host"]
arn:
  description: ARN of the secret (empty in check mode when the secret does not exist).
  returned: with I(secret_id)
  type: str
  sample: arn:aws:secretsmanager:eu-north-1:123456789012:secret:smartstream/dev/rds/master-AbCdEf
version_id:
  description: Version id of the current value after the change.
  returned: with I(secret_id)
  type: str
  sample: 1b2c3d4e-0000-1111-2222-333344445555
value:
  description: The whole JSON value after the change.
  returned: with I(secret_id) when I(return_value=true)
  type: dict
  sample: {"username": "dbadmin", "host": "db.example"}
secrets:
  description:
    - With I(secrets), one entry per secret, in the order given, with the keys RV(changed_keys), RV(arn),
      RV(version_id) (and RV(value) when I(return_value=true)) as above, plus C(secret_id) and C(changed).
  returned: with I(secrets)
  type: list
  elements: dict
  sample: [{"secret_id": "smartstream/dev/rds/master", "changed": true, "changed_keys": ["host"],
            "arn": "arn:aws:secretsmanager:eu-north-1:123456789012:secret:smartstream/dev/rds/master-AbCdEf",
            "version_id": "1b2c3d4e-0000-1111-2222-333344445555"}]
"""

import json

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

SCALARS = (str, int, float, bool)


def changed_names(current, wanted):
    """Names of the keys of ``wanted`` whose value differs from ``current`` (sorted)."""
    return sorted(k for k, v in wanted.items() if k not in current or current[k] != v)


def set_keys(module, client, secret_id, wanted):
    """Set ``wanted`` in one secret: its result (changed, changed_keys, arn, version_id, value)."""
    bad = sorted(k for k, v in wanted.items() if not isinstance(v, SCALARS))
    if bad:
        module.fail_json(msg=f"secret {secret_id}: keys {', '.join(bad)}: values must be strings, numbers or booleans")
    try:
        current = client.get_secret_value(aws_retry=True, SecretId=secret_id)
    except is_boto3_error_code("ResourceNotFoundException"):
        if not module.check_mode:
            module.fail_json(msg=f"secret {secret_id} does not exist")
        return {"changed": True, "changed_keys": sorted(wanted), "arn": "", "version_id": "", "value": dict(wanted)}
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"secret {secret_id}: could not read its value")

    try:
        value = json.loads(current.get("SecretString") or "")
    except ValueError:
        value = None
    if not isinstance(value, dict):
        module.fail_json(msg=f"secret {secret_id} does not hold a JSON object; refusing to change it")

    names = changed_names(value, wanted)
    version_id = current["VersionId"]
    if names and not module.check_mode:
        value.update(wanted)
        try:
            put = client.put_secret_value(aws_retry=True, SecretId=secret_id, SecretString=json.dumps(value))
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg=f"secret {secret_id}: could not store the new value")
        version_id = put["VersionId"]
    elif names:
        value.update(wanted)
    return {
        "changed": bool(names),
        "changed_keys": names,
        "arn": current["ARN"],
        "version_id": version_id,
        "value": value,
    }


def main():
    argument_spec = dict(
        secret_id=dict(type="str"),
        keys=dict(type="dict", default={}, no_log=True),
        # The secrets' names only: each one's keys are no_log.
        secrets=dict(
            type="list",
            elements="dict",
            no_log=False,
            options=dict(
                secret_id=dict(type="str", required=True),
                keys=dict(type="dict", default={}, no_log=True),
            ),
        ),
        return_value=dict(type="bool", default=False),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("secret_id", "secrets")],
        required_one_of=[("secret_id", "secrets")],
        supports_check_mode=True,
    )
    if module.params["secrets"] is not None and module.params["keys"]:
        module.fail_json(msg="keys goes with secret_id; with secrets, each secret has its own keys")
    client = module.client("secretsmanager", retry_decorator=AWSRetry.jittered_backoff())
    return_value = module.params["return_value"]

    if module.params["secrets"] is None:
        result = set_keys(module, client, module.params["secret_id"], module.params["keys"] or {})
        if not return_value:
            del result["value"]
        if module._diff:
            result["diff"] = {"before": {"keys_to_change": []}, "after": {"keys_to_change": result["changed_keys"]}}
        module.exit_json(**result)

    results = []
    for item in module.params["secrets"]:
        one = set_keys(module, client, item["secret_id"], item["keys"] or {})
        if not return_value:
            del one["value"]
        results.append(dict(one, secret_id=item["secret_id"]))
    result = {"changed": any(r["changed"] for r in results), "secrets": results}
    if module._diff:
        result["diff"] = {
            "before": {"keys_to_change": {}},
            "after": {"keys_to_change": {r["secret_id"]: r["changed_keys"] for r in results if r["changed_keys"]}},
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
