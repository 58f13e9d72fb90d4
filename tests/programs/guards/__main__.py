"""Builds the component the stack's `case` names, with the one argument its guard refuses.

The repository root must be importable (the tests' conftest puts it on sys.path)."""

import botocore.session
import pulumi

from components.athena_workgroups import QueryWorkgroup
from components.guardrail_policies import GuardrailPolicies, OrganizationPolicySpec
from components.kms_keys import CustomerManagedKey, KeyUse, RolePrincipals
from components.lake_formation_grants import LakeFormationAdministration
from components.secure_bucket import SecureBucket
from components.transit_gateway_hub import OnPremisesConnection, TransitGatewayHub
from components.vpc_endpoints import VpcEndpoints
from components.workload_vpc import FlowLogSettings, VpcFlowLog, WorkloadVpc

ACCOUNT = "111122223333"
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
ADMINS = RolePrincipals(ACCOUNT, ["deployer"])
TAGS = {"owner": "team"}
USE = KeyUse(sid="Use", actions=["kms:Decrypt"], roles=[RolePrincipals(ACCOUNT, ["reader"])])


def key(**changes):
    args = {"alias": "alias/demo", "description": "demo", "administrators": ADMINS, "uses": [USE], **changes}
    return CustomerManagedKey("key", **args)


def vpc(**changes):
    args = {"label": "demo", "cidr": "10.1.0.0/22", "azs": 2, "account_id": ACCOUNT, "region": "eu-west-1",
            "tags": TAGS, "flow_logs": FlowLogSettings(key_administrators=("deployer",)), **changes}
    return WorkloadVpc("vpc", **args)


# The boundary comes from Athena's API model (botocore), not from the component under test.
ATHENA_MIN_CUTOFF = botocore.session.get_session().get_service_model("athena").shape_for(
    "BytesScannedCutoffValue").metadata["min"]

CASES = {
    "athena-cutoff": lambda: QueryWorkgroup(
        "wg", workgroup_name="analysts", results_bucket="results", results_prefix="athena/", kms_key_arn=KEY,
        bytes_scanned_cutoff=ATHENA_MIN_CUTOFF - 1, expected_bucket_owner=ACCOUNT),
    "athena-cutoff-at-minimum": lambda: QueryWorkgroup(
        "wg", workgroup_name="analysts", results_bucket="results", results_prefix="athena/", kms_key_arn=KEY,
        bytes_scanned_cutoff=ATHENA_MIN_CUTOFF, expected_bucket_owner=ACCOUNT),
    "scp-unknown-target": lambda: GuardrailPolicies(
        "scps", [OrganizationPolicySpec(name="p-1", target="Workloads", content="{}", description="d"),
                 OrganizationPolicySpec(name="p-2", target="Nowhere", content="{}", description="d")],
        target_ids={"Workloads": "ou-1"}, tags=TAGS),
    "key-deletion-window-short": lambda: key(deletion_window_days=29),
    "key-deletion-window-long": lambda: key(deletion_window_days=31),
    "key-duplicate-sid": lambda: key(uses=[USE, USE]),
    "key-administration-sid": lambda: key(uses=[KeyUse(sid="KeyAdministration", actions=["kms:Decrypt"],
                                                       roles=[ADMINS])]),
    "key-without-administrators": lambda: key(administrators=RolePrincipals(ACCOUNT, [])),
    "lake-formation-without-admins": lambda: LakeFormationAdministration("lf", admins=[]),
    "bucket-without-key": lambda: SecureBucket("b", bucket_name="demo-b", kms_key_arn=None, tags=TAGS),
    "log-target-with-key": lambda: SecureBucket("b", bucket_name="demo-b", kms_key_arn=KEY, tags=TAGS,
                                                access_log_target=True),
    "hub-without-edge-table": lambda: TransitGatewayHub(
        "hub", description="hub", amazon_side_asn=64512, route_tables=["shared", "dev"], share_principals={},
        tags=TAGS, on_premises=OnPremisesConnection(kind="vpn", cidrs=["192.168.0.0/16"],
                                                    customer_gateway_ip="203.0.113.10"),
        edge_route_table="edge"),
    "endpoints-unknown-service": lambda: VpcEndpoints(
        "endpoints", vpc_id="vpc-1", region="eu-west-1", organization_id="o-abc123", services=["sts", "nope"],
        subnet_ids=["subnet-1"], ingress_cidrs=["10.1.0.0/22"], tags=TAGS),
    "flow-log-without-key-administrators": lambda: VpcFlowLog(
        "flow", label="demo", vpc_id="vpc-1", account_id=ACCOUNT, region="eu-west-1",
        settings=FlowLogSettings(), tags=TAGS),
    "vpc-one-zone": lambda: vpc(azs=1),
    "vpc-more-zones-than-the-region": lambda: vpc(azs=9),
}

CASES[pulumi.Config().require("case")]()
