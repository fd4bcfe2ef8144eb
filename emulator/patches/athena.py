"""Patches of moto's Athena for the local emulator (see emulator/README.md)."""

from __future__ import annotations

from typing import Any

from emulator.patches.registry import patch as _patch


# --------------------------------------------------------------------------
# Athena work groups
# --------------------------------------------------------------------------
# AWS: GetWorkGroup of an unknown name raises InvalidRequestException
# ("WorkGroup <name> is not found."); moto answers {"WorkGroup": null}.
# AWS: UpdateWorkGroup applies ConfigurationUpdates (each setting given, and
# the Remove* flags clearing the output location, the encryption, the
# expected bucket owner, the ACL and the bytes-scanned cutoff), Description
# and State; moto has no UpdateWorkGroup at all.
@_patch
def athena_work_group_not_found() -> None:
    """GetWorkGroup of an unknown work group raises InvalidRequestException."""
    from moto.athena.responses import AthenaResponse

    original = AthenaResponse.get_work_group

    def get_work_group(self: Any) -> Any:
        name = self._get_param("WorkGroup")
        if self.athena_backend.get_work_group(name) is None:
            return self.error(f"WorkGroup {name} is not found.", 400)
        return original(self)

    AthenaResponse.get_work_group = get_work_group


@_patch
def athena_update_work_group() -> None:
    """UpdateWorkGroup with ConfigurationUpdates, the Remove* flags, Description and State."""
    from moto.athena.responses import AthenaResponse

    def update_work_group(self: Any) -> Any:
        name = self._get_param("WorkGroup")
        group = self.athena_backend.work_groups.get(name)
        if group is None:
            return self.error(f"WorkGroup {name} is not found.", 400)
        if self._get_param("Description") is not None:
            group.description = self._get_param("Description")
        if self._get_param("State"):
            group.state = self._get_param("State")
        updates = self._get_param("ConfigurationUpdates") or {}
        config = group.configuration
        for key in (
            "EnforceWorkGroupConfiguration",
            "PublishCloudWatchMetricsEnabled",
            "BytesScannedCutoffPerQuery",
            "RequesterPaysEnabled",
            "EngineVersion",
        ):
            if key in updates:
                config[key] = updates[key]
        if updates.get("RemoveBytesScannedCutoffPerQuery"):
            config.pop("BytesScannedCutoffPerQuery", None)
        result_updates = updates.get("ResultConfigurationUpdates") or {}
        result = config.setdefault("ResultConfiguration", {})
        for key in ("OutputLocation", "EncryptionConfiguration", "ExpectedBucketOwner", "AclConfiguration"):
            if key in result_updates:
                result[key] = result_updates[key]
            if result_updates.get(f"Remove{key}"):
                result.pop(key, None)
        return "{}"

    AthenaResponse.update_work_group = update_work_group


# --------------------------------------------------------------------------
# Athena named queries: UpdateNamedQuery, DeleteNamedQuery
# --------------------------------------------------------------------------
# AWS: UpdateNamedQuery changes Name, Description and QueryString of a saved
# query (not its database or work group); DeleteNamedQuery removes it; both
# raise InvalidRequestException for an unknown id. DeleteWorkGroup with
# RecursiveDeleteOption removes the work group's saved queries too. moto
# implements none of this.
@_patch
def athena_named_query_update_delete() -> None:
    """UpdateNamedQuery, DeleteNamedQuery, and recursive DeleteWorkGroup removing saved queries."""
    from moto.athena.models import AthenaBackend
    from moto.athena.responses import AthenaResponse

    def _query(self: Any) -> Any:
        query_id = self._get_param("NamedQueryId")
        return query_id, self.athena_backend.named_queries.get(query_id)

    def update_named_query(self: Any) -> Any:
        query_id, query = _query(self)
        if query is None:
            return self.error(f"NamedQuery {query_id} was not found.", 400)
        query.name = self._get_param("Name")
        query.description = self._get_param("Description") or ""
        query.query_string = self._get_param("QueryString")
        return "{}"

    def delete_named_query(self: Any) -> Any:
        query_id, query = _query(self)
        if query is None:
            return self.error(f"NamedQuery {query_id} was not found.", 400)
        del self.athena_backend.named_queries[query_id]
        return "{}"

    original_delete = AthenaBackend.delete_work_group

    def delete_work_group(self: Any, name: str) -> Any:
        for query_id in [q.id for q in self.named_queries.values() if q.workgroup.name == name]:
            del self.named_queries[query_id]
        return original_delete(self, name)

    AthenaResponse.update_named_query = update_named_query
    AthenaResponse.delete_named_query = delete_named_query
    AthenaBackend.delete_work_group = delete_work_group


# --------------------------------------------------------------------------
# Athena: tags of an untagged work group
# --------------------------------------------------------------------------
# AWS: ListTagsForResource of an existing work group without tags returns an
# empty list. moto raises "Does Not Exist" unless the work group has tags.
@_patch
def athena_list_tags_untagged() -> None:
    """ListTagsForResource of an existing untagged work group returns no tags."""
    from moto.athena.models import AthenaBackend

    original = AthenaBackend.list_tags_for_resource

    def list_tags_for_resource(self: Any, resource_arn: str) -> Any:
        found = original(self, resource_arn)
        if found is None and any(g.arn == resource_arn for g in self.work_groups.values()):
            return {"Tags": []}
        return found

    AthenaBackend.list_tags_for_resource = list_tags_for_resource
