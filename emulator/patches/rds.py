"""Patches of moto's RDS for the local emulator (see emulator/README.md)."""

from __future__ import annotations

from typing import Any

from moto.rds import models as rds_models
from moto.rds import responses as rds_responses
from moto.rds.exceptions import DBParameterGroupNotFoundError

from emulator.patches.registry import patch as _patch

# --------------------------------------------------------------------------
# RDS engine-default parameters
# --------------------------------------------------------------------------
# AWS: a new DB parameter group already holds every parameter of its family
# with Source=engine-default and its metadata (ApplyType, DataType,
# AllowedValues, IsModifiable); DescribeDBParameters lists them all and
# DescribeEngineDefaultParameters returns them for a family. moto returns
# only the parameters a caller modified, without metadata, and has no
# DescribeEngineDefaultParameters, so amazon.aws.rds_instance_param_group
# reports every parameter as "not an available parameter".
#
# The catalogue holds the PostgreSQL parameters the platform sets or reads,
# with the metadata AWS documents for the postgres13..17 families.
_POSTGRES_DEFAULTS: list[dict[str, Any]] = [
    {
        "ParameterName": "rds.logical_replication",
        "ApplyType": "static",
        "DataType": "boolean",
        "AllowedValues": "0,1",
        "ParameterValue": "0",
        "Description": "Enables logical decoding.",
    },
    {
        "ParameterName": "rds.force_ssl",
        "ApplyType": "dynamic",
        "DataType": "boolean",
        "AllowedValues": "0,1",
        "ParameterValue": "0",
        "Description": "Force SSL connections.",
    },
    {
        "ParameterName": "max_replication_slots",
        "ApplyType": "static",
        "DataType": "integer",
        "AllowedValues": "5-8388607",
        "Description": "Sets the maximum number of replication slots.",
    },
    {
        "ParameterName": "max_wal_senders",
        "ApplyType": "static",
        "DataType": "integer",
        "AllowedValues": "5-8388607",
        "Description": "Sets the maximum number of simultaneously running WAL sender processes.",
    },
    {
        "ParameterName": "max_logical_replication_workers",
        "ApplyType": "static",
        "DataType": "integer",
        "AllowedValues": "0-262143",
        "Description": "Maximum number of logical replication worker processes.",
    },
    {
        "ParameterName": "wal_sender_timeout",
        "ApplyType": "dynamic",
        "DataType": "integer",
        "AllowedValues": "0-3600000",
        "ParameterValue": "30000",
        "Description": "Sets the maximum time to wait for WAL replication (ms).",
    },
    {
        "ParameterName": "shared_preload_libraries",
        "ApplyType": "static",
        "DataType": "list",
        "AllowedValues": "auto_explain,orafce,pg_cron,pg_hint_plan,pg_similarity,"
        "pg_stat_statements,pg_tle,pg_transport,plprofiler,pglogical",
        "ParameterValue": "pg_stat_statements",
        "Description": "Lists shared libraries to preload into server.",
    },
    {
        "ParameterName": "log_min_duration_statement",
        "ApplyType": "dynamic",
        "DataType": "integer",
        "AllowedValues": "-1-2147483647",
        "Description": "Sets the minimum execution time above which statements will be logged.",
    },
    {
        "ParameterName": "log_connections",
        "ApplyType": "dynamic",
        "DataType": "boolean",
        "AllowedValues": "0,1",
        "Description": "Logs each successful connection.",
    },
    {
        "ParameterName": "log_disconnections",
        "ApplyType": "dynamic",
        "DataType": "boolean",
        "AllowedValues": "0,1",
        "Description": "Logs end of a session, including duration.",
    },
    {
        "ParameterName": "idle_in_transaction_session_timeout",
        "ApplyType": "dynamic",
        "DataType": "integer",
        "AllowedValues": "0-2147483647",
        "Description": "Sets the maximum allowed duration of any idling transaction (ms).",
    },
]
_POSTGRES_FAMILIES = {f"postgres{v}" for v in range(13, 18)}


def engine_default_parameters(family: str) -> list[dict[str, Any]]:
    """The engine-default parameters of a family ([] for families not catalogued)."""
    if family not in _POSTGRES_FAMILIES:
        return []
    return [
        {**param, "Source": "engine-default", "IsModifiable": True, "ApplyMethod": "pending-reboot"}
        for param in _POSTGRES_DEFAULTS
    ]


@_patch
def rds_engine_default_parameters() -> None:
    """DescribeEngineDefaultParameters, and DescribeDBParameters listing defaults."""

    def describe_engine_default_parameters(self: Any) -> Any:
        family = self.params.get("DBParameterGroupFamily")
        return rds_responses.ActionResult(
            {"EngineDefaults": {"DBParameterGroupFamily": family, "Parameters": engine_default_parameters(family)}}
        )

    def describe_db_parameters(self: Any) -> Any:
        name = self.params.get("DBParameterGroupName")
        groups = self.backend.describe_db_parameter_groups({"db_parameter_group_name": name})
        if not groups:
            raise DBParameterGroupNotFoundError(name)
        group = groups[0]
        merged = {p["ParameterName"]: p for p in engine_default_parameters(group.family)}
        for user_param in group.parameters.values():
            base = merged.get(user_param["ParameterName"], {})
            merged[user_param["ParameterName"]] = {**base, **user_param, "Source": "user"}
        source = self.params.get("Source")
        params = [p for p in merged.values() if not source or p.get("Source") == source]
        return rds_responses.ActionResult({"Parameters": params})

    rds_responses.RDSResponse.describe_engine_default_parameters = describe_engine_default_parameters
    rds_responses.RDSResponse.describe_db_parameters = describe_db_parameters


@_patch
def rds_parameter_group_not_found() -> None:
    """DescribeDBParameterGroups of an unknown name raises DBParameterGroupNotFound.

    AWS answers DBParameterGroupNotFound; moto returns an empty list, which
    makes amazon.aws.rds_instance_param_group fail with an IndexError instead
    of creating the group.
    """
    original = rds_models.RDSBackend.describe_db_parameter_groups

    def describe_db_parameter_groups(self: Any, kwargs: dict[str, Any]) -> Any:
        found = original(self, kwargs)
        name = kwargs.get("db_parameter_group_name")
        if name and not found:
            raise DBParameterGroupNotFoundError(name)
        return found

    rds_models.RDSBackend.describe_db_parameter_groups = describe_db_parameter_groups


# --------------------------------------------------------------------------
# RDS: gp3 baseline performance
# --------------------------------------------------------------------------
# AWS: an RDS instance on gp3 storage reports its Iops and StorageThroughput;
# without provisioned values they are the baseline (below 400 GiB: 3000 IOPS
# and 125 MiB/s; from 400 GiB: 12000 IOPS and 500 MiB/s). moto reports
# neither, and amazon.aws.rds_instance fails with KeyError 'StorageThroughput'
# when it compares an existing gp3 instance.
def gp3_baseline(allocated_gib: int) -> tuple[int, int]:
    """(IOPS, MiB/s) of RDS gp3 storage without provisioned performance."""
    return (3000, 125) if allocated_gib < 400 else (12000, 500)


@_patch
def rds_gp3_baseline_performance() -> None:
    """DescribeDBInstances reports gp3 Iops and StorageThroughput (the baseline unless provisioned)."""
    from moto.rds.models import DBInstance

    prop = DBInstance.storage_throughput

    def getter(self: Any) -> Any:
        value = prop.fget(self)
        if value is None and self.storage_type == "gp3":
            return gp3_baseline(int(self.allocated_storage or 20))[1]
        return value

    DBInstance.storage_throughput = property(getter, prop.fset)
    original_init = DBInstance.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if self.storage_type == "gp3" and not self.iops:
            self.iops = gp3_baseline(int(self.allocated_storage or 20))[0]

    DBInstance.__init__ = __init__


# --------------------------------------------------------------------------
# Slow mode (SMARTSTREAM_EMULATOR_SLOW, emulator/slow.py): RDS times
# --------------------------------------------------------------------------
# AWS: CreateDBInstance answers ``creating``; a small PostgreSQL instance is
# ``available`` after ~15 minutes (``backing-up`` for the first automated
# backup near the end); DeleteDBInstance shows ``deleting`` ~5 minutes, then
# DescribeDBInstances raises DBInstanceNotFound. moto (and the rds engine,
# which provisions in milliseconds) are ``available`` / gone at once. In
# slow mode the instance shows those statuses for the scaled times while its
# real status is ``available`` (an engine failure shows at once), and a
# deleted instance is still described as ``deleting``.
# (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html#Overview.DBInstance.Status)
@_patch
def rds_instance_times_slow() -> None:
    """Slow mode: creating -> backing-up -> available, and deleting, take AWS's times scaled."""
    from moto.rds.exceptions import DBInstanceNotFoundError
    from moto.rds.models import DBInstance

    from emulator import slow

    lingering = slow.Lingering()
    slow.status_property(DBInstance, "status")
    create, delete = rds_models.RDSBackend.create_db_instance, rds_models.RDSBackend.delete_db_instance
    describe = rds_models.RDSBackend.describe_db_instances

    def create_db_instance(self: Any, db_kwargs: dict[str, Any]) -> Any:
        instance = create(self, db_kwargs)
        lingering.discard(self, instance.db_instance_identifier)
        slow.show(instance, "available", [(s, slow.seconds(f"rds.{s}")) for s in ("creating", "backing-up")])
        return instance

    def delete_db_instance(self: Any, db_instance_identifier: str, *args: Any, **kwargs: Any) -> Any:
        instance = delete(self, db_instance_identifier, *args, **kwargs)
        if slow.enabled():
            slow.forget(instance)
            instance.status = "deleting"
            lingering.add(self, db_instance_identifier, instance, slow.seconds("rds.deleting"))
        return instance

    def describe_db_instances(self: Any, db_instance_identifier: str | None = None, filters: Any = None) -> Any:
        try:
            found = describe(self, db_instance_identifier, filters)
        except DBInstanceNotFoundError:
            gone = lingering.get(self, db_instance_identifier or "")
            if gone is None:
                raise
            return [gone]
        if db_instance_identifier or filters:
            return found
        known = {i.db_instance_identifier for i in found}
        return found + [i for key, i in lingering.of(self).items() if key not in known]

    rds_models.RDSBackend.create_db_instance, rds_models.RDSBackend.delete_db_instance = (
        create_db_instance,
        delete_db_instance,
    )
    rds_models.RDSBackend.describe_db_instances = describe_db_instances


# --------------------------------------------------------------------------
# RDS event subscriptions: modify, add / remove source identifiers
# --------------------------------------------------------------------------
# AWS: ModifyEventSubscription changes a subscription's SnsTopicArn,
# SourceType, EventCategories and Enabled in place (the source identifiers
# change only through AddSourceIdentifierToSubscription /
# RemoveSourceIdentifierFromSubscription); each returns the subscription;
# an unknown name raises SubscriptionNotFound. moto has create, describe and
# delete only (a modify answered "not yet implemented").
# (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyEventSubscription.html)
@_patch
def rds_modify_event_subscription() -> None:
    """ModifyEventSubscription, AddSourceIdentifierToSubscription, RemoveSourceIdentifierFromSubscription."""
    from moto.core.responses import ActionResult

    def subscription(backend: Any, name: str) -> Any:
        return next(iter(backend.describe_event_subscriptions(name)))  # SubscriptionNotFound when unknown

    def modify(self: Any) -> Any:
        found = subscription(self.backend, self.params.get("SubscriptionName"))
        for key, attribute in (
            ("SnsTopicArn", "sns_topic_arn"),
            ("SourceType", "source_type"),
            ("EventCategories", "event_categories"),
            ("Enabled", "enabled"),
        ):
            if self.params.get(key) is not None:
                setattr(found, attribute, self.params[key])
        return ActionResult({"EventSubscription": found})

    def change_source(add: bool) -> Any:
        def handler(self: Any) -> Any:
            found = subscription(self.backend, self.params.get("SubscriptionName"))
            source = self.params.get("SourceIdentifier")
            ids = [i for i in found.source_ids if i != source]
            found.source_ids = [*ids, source] if add else ids
            return ActionResult({"EventSubscription": found})

        return handler

    rds_responses.RDSResponse.modify_event_subscription = modify
    rds_responses.RDSResponse.add_source_identifier_to_subscription = change_source(True)
    rds_responses.RDSResponse.remove_source_identifier_from_subscription = change_source(False)


# --------------------------------------------------------------------------
# RDS CA certificates: DescribeCertificates, an instance's CA and server certificate
# --------------------------------------------------------------------------
# AWS (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeCertificates.html,
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html): DescribeCertificates lists
# the CA certificates RDS provides (rds-ca-2019, rds-ca-rsa2048-g1, rds-ca-rsa4096-g1, rds-ca-ecc384-g1) with
# DefaultCertificateForNewLaunches; CertificateIdentifier (not case-sensitive) narrows it to one, or raises
# CertificateNotFound. An instance created without CACertificateIdentifier gets the default CA,
# rds-ca-rsa2048-g1, and DescribeDBInstances reports CertificateDetails: the CA and when the instance's server
# certificate ends (issued for a year, renewed by RDS under the G1 CAs).
# moto has no DescribeCertificates, gives instances "rds-ca-default" (no such CA) and no CertificateDetails.
@_patch
def rds_ca_certificates() -> None:
    """DescribeCertificates; instances default to rds-ca-rsa2048-g1 and report CertificateDetails."""
    from moto.rds.exceptions import RDSClientError
    from moto.rds.models import DBInstance

    from emulator.patches import rds_catalogue

    def describe_certificates(self: Any) -> Any:
        wanted = (self.params.get("CertificateIdentifier") or "").lower()
        if wanted and wanted not in rds_catalogue.CA_CERTIFICATES:
            raise RDSClientError("CertificateNotFound", f"Certificate {wanted} not found.")
        names = [wanted] if wanted else sorted(rds_catalogue.CA_CERTIFICATES)
        return rds_responses.ActionResult(
            {
                "DefaultCertificateForNewLaunches": rds_catalogue.DEFAULT_CA,
                "Certificates": [rds_catalogue.ca_certificate(n, self.region) for n in names],
            }
        )

    original_init = DBInstance.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if self.ca_certificate_identifier in (None, "", "rds-ca-default"):
            self.ca_certificate_identifier = rds_catalogue.DEFAULT_CA

    def certificate_details(self: Any) -> dict[str, Any]:
        ca = self.ca_certificate_identifier
        return {"CAIdentifier": ca, "ValidTill": rds_catalogue.server_certificate_valid_till(ca, self.created)}

    rds_responses.RDSResponse.describe_certificates = describe_certificates
    DBInstance.__init__ = __init__
    DBInstance.certificate_details = property(certificate_details)


# --------------------------------------------------------------------------
# RDS engine versions: DescribeDBEngineVersions
# --------------------------------------------------------------------------
# AWS (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBEngineVersions.html): lists
# the engine versions RDS offers, filtered by Engine, EngineVersion (a major version such as "15" matches its
# minors), DBParameterGroupFamily and DefaultOnly (the default version of the engine, or of the major
# version asked for). moto has no DescribeDBEngineVersions. The catalogue (patches/rds_catalogue.py) holds
# the RDS for PostgreSQL versions in standard support; other engines list nothing.
@_patch
def rds_describe_db_engine_versions() -> None:
    """DescribeDBEngineVersions for RDS for PostgreSQL, with its filters."""
    from emulator.patches import rds_catalogue

    def describe_db_engine_versions(self: Any) -> Any:
        default_only = str(self.params.get("DefaultOnly", "false")).lower() == "true"
        return rds_responses.ActionResult(
            {
                "DBEngineVersions": rds_catalogue.engine_versions(
                    self.params.get("Engine"),
                    self.params.get("EngineVersion"),
                    self.params.get("DBParameterGroupFamily"),
                    default_only,
                )
            }
        )

    rds_responses.RDSResponse.describe_db_engine_versions = describe_db_engine_versions


# --------------------------------------------------------------------------
# RDS engine version: a major version alone takes its default minor
# --------------------------------------------------------------------------
# AWS (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html, EngineVersion):
# given only a major version ("15"), RDS creates the instance with that major's default minor version, and
# DescribeDBInstances reports it ("15.15"). moto keeps "15", so a client that compares the two as strings
# (amazon.aws.rds_instance does) is idempotent locally and not on AWS. Applies to RDS for PostgreSQL, whose
# versions the catalogue (patches/rds_catalogue.py) holds; other engines keep moto's behaviour.
@_patch
def rds_major_version_takes_its_default_minor() -> None:
    """CreateDBInstance with a postgres major version alone gives the instance its default minor."""
    from emulator.patches import rds_catalogue

    instance = rds_models.DBInstance
    original = instance.engine_version

    def set_engine_version(self: Any, value: str) -> None:
        if getattr(self, "engine", None) == "postgres" and value and "." not in str(value):
            defaults = rds_catalogue.engine_versions("postgres", str(value), default_only=True)
            if defaults:
                value = defaults[0]["EngineVersion"]
        original.fset(self, value)

    instance.engine_version = property(original.fget, set_engine_version)
