"""The RDS catalogue patches answer as AWS: its CA certificates, an instance's certificates, its engine versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from emulator import patches
from emulator.patches import rds_catalogue

patches.apply_all()
REGION = "eu-west-1"


@pytest.fixture
def rds(in_process_aws):
    return in_process_aws("rds", REGION)


def _instance(rds, **extra):
    return rds.create_db_instance(
        DBInstanceIdentifier="db", DBInstanceClass="db.t4g.micro", Engine="postgres", EngineVersion="15",
        MasterUsername="master", MasterUserPassword="secret-password", AllocatedStorage=20, **extra,
    )["DBInstance"]  # fmt: skip


def test_describe_certificates_lists_the_rds_cas_and_the_default(rds):
    answer = rds.describe_certificates()
    by_id = {c["CertificateIdentifier"]: c for c in answer["Certificates"]}
    assert answer["DefaultCertificateForNewLaunches"] == "rds-ca-rsa2048-g1"
    assert set(by_id) == {"rds-ca-2019", "rds-ca-rsa2048-g1", "rds-ca-rsa4096-g1", "rds-ca-ecc384-g1"}
    g1 = by_id["rds-ca-rsa2048-g1"]
    assert g1["CertificateType"] == "CA" and g1["CustomerOverride"] is False
    assert g1["CertificateArn"] == f"arn:aws:rds:{REGION}::cert:rds-ca-rsa2048-g1"
    assert len(g1["Thumbprint"]) == 40
    assert g1["ValidFrom"].year == 2021 and g1["ValidTill"].year == 2061
    assert by_id["rds-ca-rsa4096-g1"]["ValidTill"].year == by_id["rds-ca-ecc384-g1"]["ValidTill"].year == 2121
    assert by_id["rds-ca-2019"]["ValidTill"] < datetime(2024, 8, 23, tzinfo=UTC)


def test_describe_certificates_by_identifier_or_certificate_not_found(rds):
    found = rds.describe_certificates(CertificateIdentifier="RDS-CA-ECC384-G1")["Certificates"]
    assert [c["CertificateIdentifier"] for c in found] == ["rds-ca-ecc384-g1"]
    with pytest.raises(ClientError) as err:
        rds.describe_certificates(CertificateIdentifier="rds-ca-2015")
    assert err.value.response["Error"]["Code"] == "CertificateNotFound"


def test_an_instance_gets_the_default_ca_and_a_server_certificate_for_a_year(rds):
    _instance(rds)
    got = rds.describe_db_instances(DBInstanceIdentifier="db")["DBInstances"][0]
    assert got["CACertificateIdentifier"] == "rds-ca-rsa2048-g1"
    details = got["CertificateDetails"]
    assert details["CAIdentifier"] == "rds-ca-rsa2048-g1"
    ahead = details["ValidTill"] - datetime.now(UTC)
    assert timedelta(days=364) < ahead <= timedelta(days=365)


def test_an_instance_keeps_the_ca_it_asked_for(rds):
    _instance(rds, CACertificateIdentifier="rds-ca-rsa4096-g1")
    got = rds.describe_db_instances(DBInstanceIdentifier="db")["DBInstances"][0]
    assert got["CACertificateIdentifier"] == got["CertificateDetails"]["CAIdentifier"] == "rds-ca-rsa4096-g1"


def test_server_certificates_renew_under_g1_and_end_with_rds_ca_2019():
    created, now = datetime(2023, 1, 10, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC)
    assert rds_catalogue.server_certificate_valid_till("rds-ca-rsa2048-g1", created, now) == datetime(
        2027, 1, 9, tzinfo=UTC
    )
    assert rds_catalogue.server_certificate_valid_till("rds-ca-2019", created, now).year == 2024


def test_describe_db_engine_versions_filters_as_rds(rds):
    postgres = rds.describe_db_engine_versions(Engine="postgres")["DBEngineVersions"]
    assert {v["MajorEngineVersion"] for v in postgres} == {"14", "15", "16", "17"}
    fifteen = rds.describe_db_engine_versions(Engine="postgres", EngineVersion="15")["DBEngineVersions"]
    assert [v["EngineVersion"] for v in fifteen] == ["15.13", "15.14", "15.15"]
    assert {v["DBParameterGroupFamily"] for v in fifteen} == {"postgres15"}
    assert rds.describe_db_engine_versions(Engine="postgres", EngineVersion="15.1")["DBEngineVersions"] == []
    default = rds.describe_db_engine_versions(Engine="postgres", EngineVersion="15", DefaultOnly=True)
    assert [v["EngineVersion"] for v in default["DBEngineVersions"]] == ["15.15"]
    engine_default = rds.describe_db_engine_versions(Engine="postgres", DefaultOnly=True)["DBEngineVersions"]
    assert [v["EngineVersion"] for v in engine_default] == ["17.7"]
    family = rds.describe_db_engine_versions(Engine="postgres", DBParameterGroupFamily="postgres16")
    assert {v["EngineVersion"] for v in family["DBEngineVersions"]} == {"16.9", "16.10", "16.11"}
    assert rds.describe_db_engine_versions(Engine="mysql")["DBEngineVersions"] == []
    upgrades = {t["EngineVersion"]: t["IsMajorVersionUpgrade"] for t in fifteen[0]["ValidUpgradeTarget"]}
    assert upgrades["15.15"] is False and upgrades["16.9"] is True and "14.20" not in upgrades


def test_a_major_version_alone_gives_the_instance_its_default_minor(rds):
    created = _instance(rds)  # EngineVersion "15"
    default = rds.describe_db_engine_versions(Engine="postgres", EngineVersion="15", DefaultOnly=True)
    assert created["EngineVersion"] == default["DBEngineVersions"][0]["EngineVersion"] == "15.15"
    listed = {v["EngineVersion"] for v in rds.describe_db_engine_versions(Engine="postgres")["DBEngineVersions"]}
    assert rds.describe_db_instances(DBInstanceIdentifier="db")["DBInstances"][0]["EngineVersion"] in listed
    rds.create_db_instance(
        DBInstanceIdentifier="pinned", DBInstanceClass="db.t4g.micro", Engine="postgres", EngineVersion="15.13",
        MasterUsername="master", MasterUserPassword="secret-password", AllocatedStorage=20,
    )  # fmt: skip
    assert rds.describe_db_instances(DBInstanceIdentifier="pinned")["DBInstances"][0]["EngineVersion"] == "15.13"
