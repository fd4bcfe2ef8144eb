"""What RDS publishes rather than what an account creates: its CA certificates and its engine versions.

Data for the RDS patches (``patches/rds.py``): DescribeCertificates and
DescribeDBEngineVersions answer from here, and DescribeDBInstances reports an
instance's CA and server certificate from here.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

# --------------------------------------------------------------------------
# CA certificates
# --------------------------------------------------------------------------
# The CAs of the RDS user guide, "Using SSL/TLS to encrypt a connection to a DB
# instance or cluster" (Certificate authorities), with the validity AWS's own
# DescribeCertificates example shows for us-east-1 (example id
# to-describe-certificates-1680211777663; each Region has its own CA
# certificates, a few hours apart). rds-ca-2019 expired on 2024-08-22 and does
# not rotate server certificates; the G1 CAs do. Default for new instances:
# rds-ca-rsa2048-g1 (the guide: "The default CA is set to rds-ca-rsa2048-g1").
DEFAULT_CA = "rds-ca-rsa2048-g1"


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# identifier -> (ValidFrom, ValidTill, rotates the server certificate)
CA_CERTIFICATES: dict[str, tuple[datetime, datetime, bool]] = {
    "rds-ca-2019": (_utc("2019-09-19T18:16:53+00:00"), _utc("2024-08-22T17:08:50+00:00"), False),
    "rds-ca-rsa2048-g1": (_utc("2021-05-25T22:34:57+00:00"), _utc("2061-05-25T23:34:57+00:00"), True),
    "rds-ca-rsa4096-g1": (_utc("2021-05-25T22:38:35+00:00"), _utc("2121-05-25T23:38:35+00:00"), True),
    "rds-ca-ecc384-g1": (_utc("2021-05-25T22:41:55+00:00"), _utc("2121-05-25T23:41:55+00:00"), True),
}
SERVER_CERTIFICATE_DAYS = 365  # a DB server certificate lasts a year; a G1 CA renews it before it ends


def ca_certificate(identifier: str, region: str) -> dict[str, Any]:
    """The Certificate element of DescribeCertificates for one CA in ``region``."""
    valid_from, valid_till, _ = CA_CERTIFICATES[identifier]
    return {
        "CertificateIdentifier": identifier,
        "CertificateType": "CA",
        # The SHA-1 of AWS's certificate, which the emulator does not hold: a stable stand-in per Region.
        "Thumbprint": hashlib.sha1(f"{region}/{identifier}".encode()).hexdigest(),
        "ValidFrom": valid_from,
        "ValidTill": valid_till,
        "CertificateArn": f"arn:aws:rds:{region}::cert:{identifier}",
        "CustomerOverride": False,
    }


def server_certificate_valid_till(ca: str, created: datetime, now: datetime | None = None) -> datetime:
    """When the server certificate of an instance created at ``created`` under ``ca`` ends.

    A year after it was issued; under a rotating CA it is issued anew each
    year, so it always ends within the coming year; under rds-ca-2019 it ends
    no later than the CA.
    """
    now = now or datetime.now(UTC)
    created = created if created.tzinfo else created.replace(tzinfo=UTC)
    year = timedelta(days=SERVER_CERTIFICATE_DAYS)
    valid_till = created + year
    _, ca_valid_till, rotates = CA_CERTIFICATES.get(ca, CA_CERTIFICATES[DEFAULT_CA])
    if rotates:
        while valid_till <= now:
            valid_till += year
    return min(valid_till, ca_valid_till)


# --------------------------------------------------------------------------
# Engine versions (RDS for PostgreSQL)
# --------------------------------------------------------------------------
# The RDS for PostgreSQL release notes ("Amazon RDS for PostgreSQL updates")
# list the minor versions; after the end of standard support of 14.14-14.17,
# 15.9-15.12, 16.5-16.8 and 17.1-17.4 on 2026-05-31 (upgrade targets 14.20,
# 15.15, 16.11, 17.7) these remain. "If you specify a major version but no
# minor version, Amazon RDS defaults to the latest release of the major
# version": the last of each list is its default; the overall default is
# the newest major's.
POSTGRES_VERSIONS: dict[str, list[str]] = {
    "14": ["14.18", "14.19", "14.20"],
    "15": ["15.13", "15.14", "15.15"],
    "16": ["16.9", "16.10", "16.11"],
    "17": ["17.5", "17.6", "17.7"],
}


def _postgres_version(version: str, major: str, default: bool) -> dict[str, Any]:
    later = [v for m, vs in POSTGRES_VERSIONS.items() for v in vs if _key(v) > _key(version)]
    return {
        "Engine": "postgres",
        "EngineVersion": version,
        "MajorEngineVersion": major,
        "DBParameterGroupFamily": f"postgres{major}",
        "DBEngineDescription": "PostgreSQL",
        "DBEngineVersionDescription": f"PostgreSQL {version}-R1",
        "Status": "available",
        "ExportableLogTypes": ["postgresql", "upgrade"],
        "SupportsLogExportsToCloudwatchLogs": True,
        "SupportsReadReplica": True,
        "SupportsParallelQuery": False,
        "SupportsGlobalDatabases": False,
        "SupportsBabelfish": False,
        "SupportsCertificateRotationWithoutRestart": True,
        "SupportedCACertificateIdentifiers": sorted(c for c in CA_CERTIFICATES if c != "rds-ca-2019"),
        "SupportedEngineModes": ["provisioned"],
        "ValidUpgradeTarget": [
            {
                "Engine": "postgres",
                "EngineVersion": target,
                "Description": f"PostgreSQL {target}-R1",
                "AutoUpgrade": False,
                "IsMajorVersionUpgrade": target.split(".")[0] != major,
            }
            for target in later
        ],
        "_default": default,
    }


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def engine_versions(
    engine: str | None = None, version: str | None = None, family: str | None = None, default_only: bool = False
) -> list[dict[str, Any]]:
    """DBEngineVersions as DescribeDBEngineVersions filters them (a version matches whole components: 15 -> 15.x)."""
    found = [
        _postgres_version(v, major, v == versions[-1])
        for major, versions in POSTGRES_VERSIONS.items()
        for v in versions
    ]
    if engine:
        found = [e for e in found if e["Engine"] == engine]
    if version:
        found = [e for e in found if (e["EngineVersion"] + ".").startswith(version.rstrip(".") + ".")]
    if family:
        found = [e for e in found if e["DBParameterGroupFamily"] == family]
    if default_only:
        found = [e for e in found if e["_default"]]
        if not version and not family:
            found = found[-1:]  # the engine's default: its newest major version's
    return [{k: v for k, v in e.items() if k != "_default"} for e in found]
