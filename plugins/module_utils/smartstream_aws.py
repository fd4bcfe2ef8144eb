# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers shared by the smartstream.pipeline modules: list forms, waiting, tags, diffs, comparison."""

from __future__ import annotations

import json
import time

from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags


class WaitTimeout(Exception):
    """The resource did not reach the wanted state in time."""

    def __init__(self, what, last_state, timeout):
        super().__init__(f"timed out after {timeout} s waiting for {what}; last state: {last_state}")
        self.last_state = last_state


class WaitFailed(Exception):
    """The resource reached a state it cannot leave towards the wanted one."""

    def __init__(self, what, state, detail=None):
        message = f"{what} failed: state {state}"
        if detail:
            message += f" ({detail})"
        super().__init__(message)
        self.state = state


FIRST_POLL_S = 1


def wait_for(fetch, done, what, timeout=600, delay=5, failed=None, sleep=time.sleep, clock=time.monotonic):
    """Poll ``fetch()`` until ``done(result)``; raise WaitFailed when ``failed(result)`` gives a reason.

    ``failed`` returns a falsy value while the result may still become done,
    and a reason (string) when it cannot. Returns the last result.

    The first looks come quickly and the pause doubles up to ``delay`` (1, 2,
    4, ... s): a transition that takes seconds is seen within about a second
    of its end, one that takes minutes costs a look every ``delay`` seconds.
    """
    deadline = clock() + timeout
    pause = min(FIRST_POLL_S, delay)
    while True:
        result = fetch()
        if done(result):
            return result
        if failed is not None:
            reason = failed(result)
            if reason:
                raise WaitFailed(what, describe_state(result), reason)
        if clock() + pause > deadline:
            raise WaitTimeout(what, describe_state(result), timeout)
        sleep(pause)
        pause = min(pause * 2, delay)


def describe_state(result):
    if isinstance(result, dict):
        for key in ("Status", "State", "status", "state"):
            if key in result:
                return result[key]
    return result


def list_form_items(module, list_option, key="name", merge=True, skip_none=False):
    """The items a module converges: the entries of its list option, or its own options as the one item.

    With ``merge`` an entry is laid over the module's options (so the options
    beside the list are each entry's defaults); with ``skip_none`` an entry's
    unset (None) suboptions do not hide those defaults. Fails when two items
    have the same ``key``.
    """
    params = module.params
    entries = params[list_option]
    if entries is None:
        items = [params]
    elif merge:
        items = [{**params, **{k: v for k, v in e.items() if not (skip_none and v is None)}} for e in entries]
    else:
        items = list(entries)
    keys = [item[key] for item in items]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        module.fail_json(msg=f"{list_option}: {key} {', '.join(twice)} given twice")
    return items


def tag_changes(current, desired, purge_tags=True):
    """(tags to set, keys to remove); ``desired`` None leaves the tags alone. AWS-reserved keys are never touched."""
    if desired is None:
        return {}, []
    current = {k: v for k, v in (current or {}).items() if not k.startswith("aws:")}
    return compare_aws_tags(current, desired, purge_tags=purge_tags)


def set_ec2_tags(client, resource_id, to_set, to_remove, **call_options):
    """Remove and set tags of one EC2 resource (the output of tag_changes); ``call_options`` e.g. aws_retry=True."""
    if to_remove:
        client.delete_tags(Resources=[resource_id], Tags=[{"Key": k} for k in to_remove], **call_options)
    if to_set:
        tags = [{"Key": k, "Value": str(v)} for k, v in to_set.items()]
        client.create_tags(Resources=[resource_id], Tags=tags, **call_options)


def canonical(value):
    """A JSON-like value in canonical form: dict keys sorted, so equal documents compare equal."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def changed_keys(current, desired):
    """The keys of ``desired`` (ignoring None values) whose value differs from ``current``."""
    return sorted(k for k, v in desired.items() if v is not None and canonical(current.get(k)) != canonical(v))
