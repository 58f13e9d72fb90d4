"""Lake Formation: who administers the catalog, and who may see and query which database.

- `LakeFormationAdministration`: the account's data-lake settings: the named administrators
  only, no `IAMAllowedPrincipals` defaults on new databases and tables (so Lake Formation
  permissions, not broad IAM policies, decide), cross-account grants through AWS RAM (v4).
- `CrossAccountReadGrant`: DESCRIBE on databases and SELECT / DESCRIBE on all their tables to
  another account (never ALTER, INSERT, DELETE or DROP). The grant option lets that account's
  Lake Formation administrator pass the grant to its own roles; Lake Formation never lets a
  recipient share a resource on to a third account.
- `LocalPrincipalGrants`: permissions for roles of the catalog's own account (data engineers).
- `SharedDatabaseLinks`: in a consumer account, resource links to the shared databases and
  read grants to the consumer's roles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

READ_DATABASE = ("DESCRIBE",)
READ_TABLES = ("SELECT", "DESCRIBE")


class LakeFormationAdministration(pulumi.ComponentResource):
    """The account's Lake Formation settings with exactly `admins` as administrators.

    The role the program deploys with must be among `admins`: only administrators may grant.
    """

    settings: aws.lakeformation.DataLakeSettings

    def __init__(self, name: str, admins: Sequence[pulumi.Input[str]],
                 read_only_admins: Sequence[pulumi.Input[str]] = (), opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:data:LakeFormationAdministration", name, None, opts)
        if not admins:
            raise ValueError(f"{name}: Lake Formation needs at least one administrator")
        self.settings = aws.lakeformation.DataLakeSettings(
            name,
            admins=list(admins),
            read_only_admins=list(read_only_admins),
            # Empty defaults: new databases and tables get no IAMAllowedPrincipals grant.
            create_database_default_permissions=[],
            create_table_default_permissions=[],
            parameters={"CROSS_ACCOUNT_VERSION": "4"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})


def _grant(name: str, principal: pulumi.Input[str], permissions: Sequence[str], grantable: bool,
           parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource], *,
           database: aws.lakeformation.PermissionsDatabaseArgs | None = None,
           table: aws.lakeformation.PermissionsTableArgs | None = None) -> aws.lakeformation.Permissions:
    return aws.lakeformation.Permissions(
        name,
        principal=principal,
        permissions=list(permissions),
        permissions_with_grant_options=list(permissions) if grantable else None,
        database=database,
        table=table,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )


def _database_grant(name: str, principal: pulumi.Input[str], database: pulumi.Input[str],
                    permissions: Sequence[str], grantable: bool, parent: pulumi.Resource,
                    depends_on: Sequence[pulumi.Resource], catalog_id: pulumi.Input[str] | None = None) -> aws.lakeformation.Permissions:
    """`permissions` on one database."""
    return _grant(name, principal, permissions, grantable, parent, depends_on,
                  database=aws.lakeformation.PermissionsDatabaseArgs(name=database, catalog_id=catalog_id))


def _tables_grant(name: str, principal: pulumi.Input[str], database: pulumi.Input[str],
                  permissions: Sequence[str], grantable: bool, parent: pulumi.Resource,
                  depends_on: Sequence[pulumi.Resource], catalog_id: pulumi.Input[str] | None = None) -> aws.lakeformation.Permissions:
    """`permissions` on every table of one database."""
    return _grant(name, principal, permissions, grantable, parent, depends_on,
                  table=aws.lakeformation.PermissionsTableArgs(database_name=database, wildcard=True, catalog_id=catalog_id))


class CrossAccountReadGrant(pulumi.ComponentResource):
    """Read-only access for `account_id` to `databases` (name -> database name output) of this
    account's catalog: DESCRIBE on each database, SELECT and DESCRIBE on all its tables."""

    def __init__(self, name: str, account_id: pulumi.Input[str], databases: Mapping[str, pulumi.Input[str]],
                 depends_on: Sequence[pulumi.Resource] = (), opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:data:CrossAccountReadGrant", name, None, opts)
        for key, database in databases.items():
            slug = key.replace("_", "-")
            _database_grant(f"{name}-{slug}-database", account_id, database, READ_DATABASE, True, self, depends_on)
            _tables_grant(f"{name}-{slug}-tables", account_id, database, READ_TABLES, True, self, depends_on)
        self.register_outputs({})


@dataclass(frozen=True)
class LocalGrantSpec:
    """Permissions of roles of the catalog's own account, by label (used in resource names)."""

    principals: Mapping[str, pulumi.Input[str]]
    database_permissions: Sequence[str] = ("CREATE_TABLE", "ALTER", "DESCRIBE")
    table_permissions: Sequence[str] = ("SELECT", "INSERT", "DELETE", "DESCRIBE", "ALTER")
    location_arns: Sequence[pulumi.Input[str]] = ()


class LocalPrincipalGrants(pulumi.ComponentResource):
    """Grants to roles of this account on `databases` and, for creating tables on them, the
    data locations (`DATA_LOCATION_ACCESS`)."""

    def __init__(self, name: str, spec: LocalGrantSpec, databases: Mapping[str, pulumi.Input[str]],
                 depends_on: Sequence[pulumi.Resource] = (), opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:data:LocalPrincipalGrants", name, None, opts)
        for label, principal in spec.principals.items():
            for key, database in databases.items():
                slug = key.replace("_", "-")
                _database_grant(f"{name}-{label}-{slug}-database", principal, database, spec.database_permissions, False, self, depends_on)
                _tables_grant(f"{name}-{label}-{slug}-tables", principal, database, spec.table_permissions, False, self, depends_on)
            for j, location in enumerate(spec.location_arns):
                aws.lakeformation.Permissions(
                    f"{name}-{label}-location-{j}",
                    principal=principal,
                    permissions=["DATA_LOCATION_ACCESS"],
                    data_location=aws.lakeformation.PermissionsDataLocationArgs(arn=location),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
                )
        self.register_outputs({})


@dataclass(frozen=True)
class SharedDatabase:
    """A database shared with this account: the local link name, the owner's database, and the
    roles of this account (label -> ARN) that may read it."""

    link_name: str
    target_database: str
    readers: Mapping[str, pulumi.Input[str]]


class SharedDatabaseLinks(pulumi.ComponentResource):
    """In a consumer account: a resource link per shared database, and for each reader
    DESCRIBE on the link plus SELECT / DESCRIBE on the shared tables (no grant option).

    Requires this account's Lake Formation administration (pass it in `depends_on`) and the
    reader roles to exist.
    """

    link_names: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, catalog_id: pulumi.Input[str], region: str, databases: Sequence[SharedDatabase],
                 depends_on: Sequence[pulumi.Resource] = (), opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:data:SharedDatabaseLinks", name, None, opts)
        self.link_names = {}
        for shared in databases:
            slug = shared.link_name.replace("_", "-")
            link = aws.glue.CatalogDatabase(
                f"{name}-{slug}",
                name=shared.link_name,
                description=f"Resource link to {shared.target_database} in the data-lake account (read-only)",
                target_database=aws.glue.CatalogDatabaseTargetDatabaseArgs(
                    catalog_id=catalog_id, database_name=shared.target_database, region=region),
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
            )
            self.link_names[shared.link_name] = link.name
            for label, reader in shared.readers.items():
                _database_grant(f"{name}-{slug}-{label}-link", reader, link.name, READ_DATABASE, False, self, [link, *depends_on])
                _tables_grant(f"{name}-{slug}-{label}-tables", reader, shared.target_database, READ_TABLES, False, self,
                              [link, *depends_on], catalog_id=catalog_id)
        self.register_outputs({"linkNames": self.link_names})
