"""A data domain of the lake: its KMS key, its raw / curated / features buckets, their
registration with Lake Formation and their Glue catalog databases (whitepaper "Data
management"; governed-environments blog: the data lake account catalogs and shares data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.data_access import (
    ObjectGrant,
    ServiceGrant,
    data_bucket_statements,
    key_uses_for,
)
from components.kms_keys import CustomerManagedKey, RolePrincipals
from components.secure_bucket import BucketAccess, LifecycleRule, SecureBucket

ZONES = ("raw", "curated", "features")


@dataclass(frozen=True)
class ZoneReader:
    """Read access of one consumer (roles of one account) to some zones of the domain."""

    roles: RolePrincipals
    zones: Sequence[str]
    prefix: str = ""  # "" for the whole zone, e.g. "redacted/" for masked copies only


@dataclass(frozen=True)
class ServiceReader:
    """An AWS service reading zones for an account (Rekognition Custom Labels training)."""

    sid: str
    service: str
    source_account: pulumi.Input[str]
    zones: Sequence[str]
    prefix: str = ""


@dataclass(frozen=True)
class DataDomainArgs:
    """Everything a domain needs, resolved from configuration by the stack.

    `writers` write every zone (data engineers and the Lake Formation data-access role);
    `write_back` writes only under `write_back_prefix` of the curated and features zones.
    `databases` maps a catalog database name to (zone, prefix inside the zone's bucket).
    """

    domain: str
    region: str
    bucket_names: Mapping[str, str]
    databases: Mapping[str, tuple[str, str]]
    key_alias: str
    key_administrators: RolePrincipals
    writers: RolePrincipals
    lake_formation_role_arn: pulumi.Input[str]
    write_back: RolePrincipals | None = None
    write_back_prefix: str = "contributed/"
    readers: Sequence[ZoneReader] = ()
    service_readers: Sequence[ServiceReader] = ()
    lifecycle: Mapping[str, Sequence[LifecycleRule]] = field(default_factory=dict)
    access_log_bucket: pulumi.Input[str] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    # Roles granted access must belong to this organization (`aws:PrincipalOrgID`).
    organization_id: pulumi.Input[str] | None = None
    # The deploying role: may list (HeadBucket) but never read or write objects.
    bucket_managers: RolePrincipals | None = None
    allow_destroy: bool = False


class DataDomain(pulumi.ComponentResource):
    """One domain: a customer-managed key naming only the domain's principals, three
    `SecureBucket`s whose policies admit exactly the writers and readers given, each bucket
    registered as a Lake Formation data location, and the domain's catalog databases.

    Outputs: `key_arn`, `buckets` (zone -> SecureBucket), `database_names` (name -> Output),
    `locations` (the Lake Formation registrations, for grants on data locations to wait for).
    """

    key_arn: pulumi.Output[str]
    buckets: dict[str, SecureBucket]
    database_names: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: DataDomainArgs, lake_formation_settings: pulumi.Resource | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:data:DataDomain", name, None, opts)
        a = args
        bucket_arns = {z: f"arn:aws:s3:::{a.bucket_names[z]}" for z in ZONES}
        grants_by_zone: dict[str, list[ObjectGrant]] = {}
        services_by_zone: dict[str, list[ServiceGrant]] = {}
        for zone in ZONES:
            grants = [ObjectGrant("DomainWriters", [a.writers], write=True)]
            if a.write_back is not None and zone != "raw":
                grants.append(ObjectGrant("ApprovedWriteBack", [a.write_back], write=True, read=False, delete=False,
                                          prefix=a.write_back_prefix))
            # One statement per prefix for all consumers keeps the policy small as projects grow.
            by_prefix: dict[str, list[RolePrincipals]] = {}
            for reader in a.readers:
                if zone in reader.zones:
                    by_prefix.setdefault(reader.prefix, []).append(reader.roles)
            grants += [ObjectGrant(_reader_sid(prefix), roles, prefix=prefix) for prefix, roles in by_prefix.items()]
            grants_by_zone[zone] = grants
            services_by_zone[zone] = [ServiceGrant(s.sid, s.service, s.source_account, prefix=s.prefix)
                                      for s in a.service_readers if zone in s.zones]

        all_grants = [g for z in ZONES for g in grants_by_zone[z]]
        all_services = [s for z in ZONES for s in services_by_zone[z]]
        key = CustomerManagedKey(
            f"{name}-key",
            alias=a.key_alias,
            description=f"Data domain {a.domain}: raw, curated and feature data",
            administrators=a.key_administrators,
            # The key policy does not know prefixes: a reader limited to `redacted/` decrypts
            # only what the bucket policy lets it fetch.
            uses=key_uses_for(a.region, all_grants, all_services, organization_id=a.organization_id),
            tags=a.tags,
            allow_destroy=a.allow_destroy,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.key_arn = key.arn
        self.buckets = {}
        self.locations: list[aws.lakeformation.Resource] = []
        depends = [lake_formation_settings] if lake_formation_settings is not None else []
        for zone in ZONES:
            bucket = SecureBucket(
                f"{name}-{zone}",
                bucket_name=a.bucket_names[zone],
                kms_key_arn=key.arn,
                tags={**a.tags, "data-domain": a.domain, "data-zone": zone},
                access_log_bucket=a.access_log_bucket,
                lifecycle_rules=a.lifecycle.get(zone, ()),
                access=BucketAccess(statements=data_bucket_statements(
                    bucket_arns[zone], grants_by_zone[zone], services_by_zone[zone], organization_id=a.organization_id,
                    managers=a.bucket_managers)),
                allow_destroy=a.allow_destroy,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.buckets[zone] = bucket
            # Lake Formation vends credentials of its data-access role for this location.
            location = aws.lakeformation.Resource(
                f"{name}-{zone}-location",
                arn=bucket.arn,
                role_arn=a.lake_formation_role_arn,
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
            )
            self.locations.append(location)
        self.database_names = {}
        for db_name, (zone, prefix) in a.databases.items():
            database = aws.glue.CatalogDatabase(
                f"{name}-{db_name.replace('_', '-')}",
                name=db_name,
                description=f"{a.domain} / {zone}{' / ' + prefix.rstrip('/') if prefix else ''}. {a.description}".strip(),
                location_uri=f"s3://{a.bucket_names[zone]}/{prefix}",
                tags={**a.tags, "data-domain": a.domain, "data-zone": zone},
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
            )
            self.database_names[db_name] = database.name
        self.register_outputs({
            "keyArn": self.key_arn,
            "buckets": {z: b.bucket for z, b in self.buckets.items()},
            "databases": self.database_names,
        })


def _reader_sid(prefix: str) -> str:
    label = "".join(w.capitalize() for w in prefix.strip("/").replace("_", "-").split("-") if w)
    return f"ConsumersRead{label}Only"
