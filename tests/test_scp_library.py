"""The SCP column of the guardrail catalog, statement by statement."""

from __future__ import annotations

import dataclasses
import re

import pytest

from policy_documents.scp_library import (
    GLOBAL_SERVICE_ACTIONS,
    NOT_REQUIRED_TO_CARRY,
    SCP_GUARDRAIL_IDS,
    STUDIO_SYSTEM_INSTANCE_TYPE,
    TAG_EXEMPT_SAGEMAKER_CREATES,
    TARGETS,
    VOLUME_KMS_KEY,
    ScpSettings,
    guardrail_id_for_sid,
    guardrail_statements,
)
from policy_documents.serialize import document
import policy_documents.service_authorization as service_authorization
from policy_documents.service_authorization import (
    action_supports_key,
    condition_key_predecessors,
    condition_key_successor,
    expand_actions,
    is_global_condition_key,
    validate_document,
)
from guardrail_catalog import read_catalog

ROLES = ("ml-platform-break-glass", "ml-platform-deployment")
ROLE_ARNS = [f"arn:aws:iam::*:role/{r}" for r in ROLES]
TAGS = ("owner", "project", "environment", "cost-center", "data-classification")
CONSUMERS = ("ml-platform-*-model-consumer*",)

# The catalog's `scp` layer: guardrail id -> the OU paths it names (`Root` is every account).
CATALOG_TARGETS = {g.id: set(g.scp.targets) for g in read_catalog() if g.scp}
OPTIONAL = {g.id for g in read_catalog() if g.scp and g.scp.optional}


def settings(**overrides) -> ScpSettings:
    base = dict(
        name_prefix="ml-platform",
        allowed_regions=("eu-west-1", "eu-central-1"),
        exempt_role_names=ROLES,
        mandatory_tags=TAGS,
        notebook_instance_types=("ml.t3.medium", "ml.m5.xlarge", "ml.g4dn.xlarge"),
        model_consumer_role_patterns=CONSUMERS,
    )
    return ScpSettings(**{**base, **overrides})


DEFAULT = guardrail_statements(settings())
WITH_SM9 = guardrail_statements(settings(sagemaker_source_vpce_ids=("vpce-0123456789abcdef0",),
                                         sagemaker_source_cidrs=("10.0.0.0/8",)))
COMPACT = guardrail_statements(settings(compact_action_lists=True))
ALL = [("default", g) for g in DEFAULT] + [("sm9", g) for g in WITH_SM9] + [("compact", g) for g in COMPACT]


def by_sid(statements) -> dict:
    return {g.sid: g for g in statements}


def actions(statement: dict) -> set[str]:
    entries = statement.get("Action", [])
    entries = [entries] if isinstance(entries, str) else entries
    return {a for entry in entries for a in expand_actions(entry)}


@pytest.mark.parametrize(("variant", "item"), ALL, ids=[f"{v}-{g.sid}" for v, g in ALL])
def test_every_statement_validates_against_the_service_data(variant, item):
    assert validate_document(document(item.statement)) == []


def test_the_guardrail_ids_are_the_catalog_scp_column():
    assert {g.guardrail_id for g in WITH_SM9} == set(CATALOG_TARGETS)
    assert OPTIONAL == {"SM-9"}
    assert {g.guardrail_id for g in DEFAULT} == set(CATALOG_TARGETS) - OPTIONAL  # on only when configured


def test_the_library_knows_the_catalog_scp_ids_in_catalog_order():
    assert SCP_GUARDRAIL_IDS == tuple(g.id for g in read_catalog() if g.scp)
    assert len(SCP_GUARDRAIL_IDS) >= 20


@pytest.mark.parametrize("item", WITH_SM9, ids=lambda g: g.sid)
def test_sid_carries_the_guardrail_id(item):
    assert re.fullmatch(r"[A-Za-z0-9]+", item.sid)
    assert item.sid.startswith(item.guardrail_id.replace("-", ""))
    assert guardrail_id_for_sid(item.sid) == item.guardrail_id


def test_sids_are_unique():
    sids = [g.sid for g in WITH_SM9]
    assert len(sids) == len(set(sids))


@pytest.mark.parametrize(("sid", "expected"), [
    ("S31DenyAccountPublicAccessChanges", "S3-1"), ("SM1RequireVolumeKmsKey", "SM-1"), ("SM4DenyX", "SM-4"),
    ("MOD1DenyX", "MOD-1"), ("LOG2ProtectLogArchive", "LOG-2"), ("CI2DenyPipelineChanges", "CI-2"),
])
def test_guardrail_id_for_sid(sid, expected):
    assert guardrail_id_for_sid(sid) == expected


@pytest.mark.parametrize("sid", ["SM10Deny", "SM2Deny", "IAM2Deny", "XYZ1Deny", "SM1", "sm1Deny", ""])
def test_guardrail_id_for_sid_rejects_ids_outside_the_scp_column(sid):
    with pytest.raises(ValueError):
        guardrail_id_for_sid(sid)


@pytest.mark.parametrize("item", WITH_SM9, ids=lambda g: g.sid)
def test_targets_follow_the_catalog(item):
    assert set(item.targets) == CATALOG_TARGETS[item.guardrail_id]
    assert set(item.targets) <= set(TARGETS)


@pytest.mark.parametrize("item", WITH_SM9, ids=lambda g: g.sid)
def test_every_statement_is_a_deny_exempting_only_the_configured_roles(item):
    statement = item.statement
    assert statement["Effect"] == "Deny"
    condition = statement["Condition"]
    assert condition["ArnNotLike"] == {"aws:PrincipalARN": ROLE_ARNS}
    # Nothing else may carve out principals; MOD-1 alone narrows whom it denies (ArnLike),
    # to exactly the configured model-consumer roles.
    principal = {op: k for op, entries in condition.items() for k in entries if k.lower().startswith("aws:principal")}
    if item.guardrail_id == "MOD-1":
        assert principal == {"ArnNotLike": "aws:PrincipalARN", "ArnLike": "aws:PrincipalARN"}
        assert condition["ArnLike"] == {"aws:PrincipalARN": [f"arn:aws:iam::*:role/{p}" for p in CONSUMERS]}
    else:
        assert principal == {"ArnNotLike": "aws:PrincipalARN"}


def test_exemption_follows_the_settings():
    custom = guardrail_statements(settings(exempt_role_names=("only-this-one",)))
    assert {str(g.statement["Condition"]["ArnNotLike"]) for g in custom} == {
        str({"aws:PrincipalARN": ["arn:aws:iam::*:role/only-this-one"]})}


def test_iam3_protects_the_exempt_roles_themselves():
    statement = by_sid(DEFAULT)["IAM3ProtectExemptRoles"].statement
    assert statement["Resource"] == ROLE_ARNS
    # Creating a role of that name elsewhere, or passing one to a service, would be a bypass.
    for action in ("iam:CreateRole", "iam:PassRole", "iam:UpdateAssumeRolePolicy", "iam:AttachRolePolicy",
                   "iam:DeleteRole", "iam:PutRolePolicy"):
        assert action in actions(statement)


def test_reg1_exempts_global_services_and_allows_only_the_regions():
    statement = by_sid(DEFAULT)["REG1DenyOutsideAllowedRegions"].statement
    assert "Action" not in statement
    assert statement["NotAction"] == list(GLOBAL_SERVICE_ACTIONS)
    for service in ("iam", "organizations", "sts", "cloudfront", "route53", "support", "budgets", "health"):
        assert f"{service}:*" in statement["NotAction"]
    assert statement["Condition"]["StringNotEquals"] == {"aws:RequestedRegion": ["eu-west-1", "eu-central-1"]}


@pytest.mark.parametrize("entry", GLOBAL_SERVICE_ACTIONS)
def test_each_global_service_entry_exists(entry):
    assert expand_actions(entry), entry


def test_sm1_lists_exactly_the_creates_that_support_the_volume_key():
    sm1 = [g.statement for g in DEFAULT if g.guardrail_id == "SM-1"]
    listed = set().union(*(actions(s) for s in sm1))
    names = (VOLUME_KMS_KEY, *condition_key_predecessors(VOLUME_KMS_KEY))
    expected = {a for a in expand_actions("sagemaker:Create*") if any(action_supports_key(a, k) for k in names)}
    assert listed == expected - set(NOT_REQUIRED_TO_CARRY)
    assert "sagemaker:CreateNotebookInstance" in listed and "sagemaker:CreateDomain" in listed
    assert "sagemaker:CreateTrainingJob" in listed
    assert "sagemaker:CreateModel" not in listed  # no volume: a Null test would deny it to everyone
    # Today no create lists the deprecated sagemaker:VolumeKmsKey any more: one key per block.
    assert all(s["Condition"]["Null"] == {"sagemaker:VolumeKmsKeyArn": "true"} for s in sm1)


def test_sm1_tests_the_current_volume_key_which_every_listed_action_supports():
    # The defect this guards against: SM-1 tested sagemaker:VolumeKmsKey, which AWS deprecated
    # (replaced by sagemaker:VolumeKmsKeyArn) and no longer lists for these creates, so it was
    # always absent and SM-1 denied every notebook, domain and training job.
    assert condition_key_successor(VOLUME_KMS_KEY) is None
    assert "sagemaker:VolumeKmsKey" in condition_key_predecessors(VOLUME_KMS_KEY)
    for g in (g for g in DEFAULT if g.guardrail_id == "SM-1"):
        null = g.statement["Condition"]["Null"]
        assert VOLUME_KMS_KEY in null, g.sid
        assert all(action_supports_key(a, k) for a in actions(g.statement) for k in null), g.sid


@pytest.mark.parametrize("item", [g for _, g in ALL], ids=lambda g: g.sid)
def test_no_statement_tests_a_deprecated_key_without_its_replacement(item):
    keys = {k for entries in item.statement["Condition"].values() for k in entries}
    for key in keys - {k for k in keys if is_global_condition_key(k)}:
        successor = condition_key_successor(key)
        assert successor is None or successor in keys, f"{item.sid}: {key} is deprecated (use {successor})"


def test_a_deprecated_key_still_listed_on_some_creates_is_tested_next_to_its_replacement(monkeypatch):
    # Data in which CreateNotebookInstance (only) still lists the deprecated key as well: its
    # statement tests both names in one Null block (denied only when neither is present); the
    # other creates keep a statement on the current key alone, so no Null test misfires.
    real = service_authorization.action_supports_key

    def supports(action, key):
        if action.lower() == "sagemaker:createnotebookinstance" and key.lower() == "sagemaker:volumekmskey":
            return True
        return real(action, key)
    monkeypatch.setattr(service_authorization, "action_supports_key", supports)
    sm1 = {g.sid: g.statement for g in guardrail_statements(settings()) if g.guardrail_id == "SM-1"}
    both = sm1["SM1RequireVolumeKmsKey"]
    assert both["Action"] == "sagemaker:CreateNotebookInstance"
    assert both["Condition"]["Null"] == {"sagemaker:VolumeKmsKeyArn": "true", "sagemaker:VolumeKmsKey": "true"}
    rest = sm1["SM1RequireVolumeKmsKeyPart2"]
    assert "sagemaker:CreateDomain" in rest["Action"] and "sagemaker:CreateNotebookInstance" not in rest["Action"]
    assert rest["Condition"]["Null"] == {"sagemaker:VolumeKmsKeyArn": "true"}
    assert sm1["SM1RequireJobVolumeKmsKey"]["Condition"]["Null"] == {"sagemaker:VolumeKmsKeyArn": "true"}


def test_sm1_jobs_on_local_storage_instances_are_not_required_to_carry_a_key():
    job = by_sid(DEFAULT)["SM1RequireJobVolumeKmsKey"].statement
    assert "sagemaker:CreateTrainingJob" in actions(job)
    assert "ml.g5.*" in job["Condition"]["ForAllValues:StringNotLike"]["sagemaker:InstanceTypes"]


@pytest.mark.parametrize("item", [g for g in DEFAULT if "true" in g.statement["Condition"].get("Null", {}).values()],
                         ids=lambda g: g.sid)
def test_presence_checks_only_cover_create_calls(item):
    # Updates carry only what changes: a Null test there would deny every ordinary update.
    # (A Null "false" test denies a key that is present, e.g. CI-2's StartBuild overrides.)
    assert all(a.split(":", 1)[1].startswith("Create") for a in actions(item.statement))


def test_sm3_requires_subnets_and_security_groups_separately():
    statements = by_sid(DEFAULT)
    subnets = statements["SM3RequireVpcSubnets"].statement
    groups = statements["SM3RequireVpcSecurityGroups"].statement
    assert subnets["Condition"]["Null"] == {"sagemaker:VpcSubnets": "true"}
    assert groups["Condition"]["Null"] == {"sagemaker:VpcSecurityGroupIds": "true"}
    for action in ("sagemaker:CreateNotebookInstance", "sagemaker:CreateTrainingJob", "sagemaker:CreateProcessingJob",
                   "sagemaker:CreateHyperParameterTuningJob", "sagemaker:CreateModel"):
        assert action in actions(subnets) and action in actions(groups)


@pytest.mark.parametrize(("sid", "action", "operator", "key", "value"), [
    ("SM4DenyNotebookDirectInternet", "sagemaker:CreateNotebookInstance", "StringNotEquals",
     "sagemaker:DirectInternetAccess", "Disabled"),
    ("SM4DenyDomainPublicInternet", "sagemaker:CreateDomain", "StringNotEquals",
     "sagemaker:AppNetworkAccessType", "VpcOnly"),
    ("SM4DenyDomainPublicInternetUpdate", "sagemaker:UpdateDomain", "StringEquals",
     "sagemaker:AppNetworkAccessType", "PublicInternetOnly"),
    ("SM5DenyNotebookRootAccess", "sagemaker:CreateNotebookInstance", "StringNotEquals", "sagemaker:RootAccess",
     "Disabled"),
    ("SM5DenyNotebookRootAccessUpdate", "sagemaker:UpdateNotebookInstance", "StringEquals", "sagemaker:RootAccess",
     "Enabled"),
    ("SM6RequireNetworkIsolation", "sagemaker:CreateTrainingJob", "BoolIfExists", "sagemaker:NetworkIsolation",
     "false"),
    ("SM6RequireTrafficEncryption", "sagemaker:CreateTrainingJob", "BoolIfExists",
     "sagemaker:InterContainerTrafficEncryption", "false"),
])
def test_sagemaker_value_guards(sid, action, operator, key, value):
    statement = by_sid(DEFAULT)[sid].statement
    assert action in actions(statement)
    assert statement["Condition"][operator] == {key: value}


def test_tag1_requires_each_mandatory_tag_on_tagged_sagemaker_creates():
    tag1 = [g.statement for g in DEFAULT if g.guardrail_id == "TAG-1"]
    assert [s["Condition"]["Null"] for s in tag1] == [{f"aws:RequestTag/{t}": "true"} for t in TAGS]
    assert [s["Sid"] for s in tag1][3] == "TAG1RequireCostCenterTag"
    for statement in tag1:
        listed = actions(statement)
        assert "sagemaker:CreateTrainingJob" in listed and "sagemaker:CreateDomain" in listed
        assert not listed & set(TAG_EXEMPT_SAGEMAKER_CREATES)
        assert "sagemaker:CreatePresignedDomainUrl" not in listed


def test_sm7_denies_endpoints():
    statement = by_sid(DEFAULT)["SM7DenyEndpoints"].statement
    assert {"sagemaker:CreateEndpoint", "sagemaker:CreateEndpointConfig", "sagemaker:UpdateEndpoint",
            "sagemaker:InvokeEndpoint"} <= actions(statement)
    assert "Condition" in statement and set(statement["Condition"]) == {"ArnNotLike"}


def test_sm8_allows_the_configured_instance_types_and_studio_system_apps():
    statement = by_sid(DEFAULT)["SM8LimitInstanceTypes"].statement
    assert statement["Condition"]["ForAnyValue:StringNotLike"] == {
        "sagemaker:InstanceTypes": ["ml.t3.medium", "ml.m5.xlarge", "ml.g4dn.xlarge", STUDIO_SYSTEM_INSTANCE_TYPE]}
    assert actions(statement) == {"sagemaker:CreateNotebookInstance", "sagemaker:UpdateNotebookInstance",
                                  "sagemaker:CreateApp"}


def test_sm9_only_when_configured():
    assert "SM9RequireTrustedNetwork" not in by_sid(DEFAULT)
    statement = by_sid(WITH_SM9)["SM9RequireTrustedNetwork"].statement
    assert statement["Action"] == "sagemaker:*"
    assert statement["Condition"]["StringNotEquals"] == {"aws:SourceVpce": ["vpce-0123456789abcdef0"]}
    assert statement["Condition"]["NotIpAddress"] == {"aws:SourceIp": ["10.0.0.0/8"]}
    only_cidrs = by_sid(guardrail_statements(settings(sagemaker_source_cidrs=("192.0.2.0/24",))))
    assert set(only_cidrs["SM9RequireTrustedNetwork"].statement["Condition"]) == {"NotIpAddress", "Bool", "ArnNotLike"}


def test_log2_protects_the_log_archive_buckets_by_name_pattern():
    statement = by_sid(DEFAULT)["LOG2ProtectLogArchive"].statement
    assert statement["Resource"] == [arn for name in ("log-archive", "config-history", "log-access")
                                     for arn in (f"arn:aws:s3:::ml-platform-{name}-*", f"arn:aws:s3:::ml-platform-{name}-*/*")]
    assert {"s3:DeleteBucket", "s3:PutBucketPolicy", "s3:PutLifecycleConfiguration",
            "s3:PutBucketObjectLockConfiguration"} <= actions(statement)
    # Exact bucket names: object actions (DeleteObject, PutObjectRetention) need the object ARNs.
    custom = by_sid(guardrail_statements(settings(log_archive_bucket_patterns=("audit-logs",))))
    assert custom["LOG2ProtectLogArchive"].statement["Resource"] == ["arn:aws:s3:::audit-logs", "arn:aws:s3:::audit-logs/*"]


def test_mod1_binds_to_consumer_roles_where_producers_are():
    statement = by_sid(DEFAULT)["MOD1DenyRekognitionProjectChanges"]
    assert statement.targets == ("Workloads",)
    custom = by_sid(guardrail_statements(settings(model_producer_ous=("Workloads/PreProd",),
                                                  model_consumer_role_patterns=("app-*",))))
    item = custom["MOD1DenyRekognitionProjectChanges"]
    assert item.targets == ("Workloads/PreProd",)
    assert item.statement["Condition"]["ArnLike"] == {"aws:PrincipalARN": ["arn:aws:iam::*:role/app-*"]}
    assert item.statement["Resource"] == "arn:aws:rekognition:*:*:project/*"
    # Exactly the seed's four verbs on projects and their versions, nothing else.
    expected = {a for p in ("rekognition:CreateProject*", "rekognition:DeleteProject*", "rekognition:StartProject*",
                            "rekognition:StopProject*") for a in expand_actions(p)}
    assert actions(item.statement) == expected
    assert {"rekognition:CreateProject", "rekognition:DeleteProject", "rekognition:StartProjectVersion",
            "rekognition:StopProjectVersion", "rekognition:DeleteProjectVersion"} <= expected
    assert not any(a in expected for a in ("rekognition:DetectCustomLabels", "rekognition:DescribeProjectVersions"))


def test_mod1_only_with_consumer_roles_and_producer_ous():
    assert "MOD-1" not in {g.guardrail_id for g in guardrail_statements(settings(model_consumer_role_patterns=()))}
    assert "MOD-1" not in {g.guardrail_id for g in guardrail_statements(settings(model_producer_ous=()))}


@pytest.mark.parametrize("sid", [g.sid for g in DEFAULT])
def test_compact_lists_match_the_same_actions(sid):
    assert actions(by_sid(COMPACT)[sid].statement) == actions(by_sid(DEFAULT)[sid].statement)


def test_settings_accept_lists_and_store_tuples():
    s = settings(allowed_regions=["eu-west-1"], exempt_role_names=["a", "b"])
    assert s.allowed_regions == ("eu-west-1",) and s.exempt_role_names == ("a", "b")
    hash(s)


def test_invalid_settings_report_every_problem_at_once():
    with pytest.raises(ValueError) as error:
        settings(allowed_regions=("eu-west-1", "europe"), exempt_role_names=(), notebook_instance_types=("t3.medium",),
                 sagemaker_source_cidrs=("10.0.0.1/8",), sagemaker_source_vpce_ids=("vpc-1",),
                 model_producer_ous=("Root",), mandatory_tags=("cost-center", "cost_center"),
                 baseline_role_patterns=("a-*",), baseline_automation_role_patterns=("b-*",))
    message = str(error.value)
    for fragment in ("allowed_regions[1]: 'europe'", "exempt_role_names: must not be empty",
                     "notebook_instance_types[0]: 't3.medium'", "sagemaker_source_cidrs[0]: '10.0.0.1/8'",
                     "sagemaker_source_vpce_ids[0]: 'vpc-1'", "model_producer_ous[0]: 'Root'",
                     "baseline_automation_role_patterns: b-* not among baseline_role_patterns",
                     "mandatory_tags: CostCenter would be the Sid of more than one tag"):
        assert fragment in message, message


def test_statements_are_deterministic():
    again = guardrail_statements(settings())
    assert again == DEFAULT


def test_settings_are_not_mutated_by_the_library():
    s = settings()
    before = dataclasses.asdict(s)
    guardrail_statements(s)
    assert dataclasses.asdict(s) == before


# --- TAG-1 follows the API models ------------------------------------------------------------

def test_every_action_tag1_lists_accepts_tags_in_its_api_model():
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    listed = set().union(*(actions(g.statement) for g in DEFAULT if g.guardrail_id == "TAG-1"))
    assert len(listed) >= 40
    for action in listed:
        shape = model.operation_model(action.split(":", 1)[1]).input_shape
        assert "Tags" in shape.members, action
        text = re.sub(r"<[^>]+>", "", shape.members["Tags"].documentation or "")
        assert "cannot supply a tag" not in text, action


def test_tag1_spares_calls_whose_request_cannot_carry_tags():
    listed = set().union(*(actions(g.statement) for g in DEFAULT if g.guardrail_id == "TAG-1"))
    # A version registered into a model package group takes the group's tags and refuses its
    # own; an edge deployment stage has no Tags parameter at all.
    for action in ("sagemaker:CreateModelPackage", "sagemaker:CreateEdgeDeploymentStage"):
        assert action_supports_key(action, "aws:RequestTag/${TagKey}")  # the IAM data alone would list it
        assert action not in listed
    assert {"sagemaker:CreateModelPackageGroup", "sagemaker:CreateTrainingJob", "sagemaker:CreateEndpoint"} <= listed


def test_tag1_lists_only_actions_that_support_the_request_tag_key():
    listed = set().union(*(actions(g.statement) for g in DEFAULT if g.guardrail_id == "TAG-1"))
    assert all(action_supports_key(a, "aws:RequestTag/${TagKey}") for a in listed)


# --- NET-1: every way out but the hub -------------------------------------------------------

def test_net1_denies_vpn_client_vpn_and_direct_connect_in_project_accounts():
    statement = by_sid(DEFAULT)["NET1DenyPrivateConnectivity"]
    assert statement.targets == ("Workloads",)
    assert actions(statement.statement) == {
        "ec2:CreateVpnGateway", "ec2:AttachVpnGateway", "ec2:CreateCustomerGateway", "ec2:CreateVpnConnection",
        "ec2:CreateClientVpnEndpoint", "ec2:AssociateClientVpnTargetNetwork",
        "directconnect:CreateDirectConnectGatewayAssociation", "directconnect:CreateDirectConnectGatewayAssociationProposal",
        "directconnect:AcceptDirectConnectGatewayAssociationProposal", "directconnect:UpdateDirectConnectGatewayAssociation",
        "directconnect:CreatePrivateVirtualInterface", "directconnect:AllocatePrivateVirtualInterface",
        "directconnect:CreateTransitVirtualInterface", "directconnect:AllocateTransitVirtualInterface"}
    assert statement.statement["Resource"] == "*"
    assert set(statement.statement["Condition"]) == {"ArnNotLike"}  # unconditional but for the exemption


def test_net1_denies_peering_with_vpcs_outside_the_organization_only():
    statement = by_sid(DEFAULT)["NET1DenyPeeringOutsideOrganization"].statement
    assert actions(statement) == {"ec2:CreateVpcPeeringConnection", "ec2:AcceptVpcPeeringConnection"}
    assert statement["Condition"]["StringNotEquals"] == {"aws:ResourceOrgID": "${aws:PrincipalOrgID}"}


def test_net1_still_denies_internet_gateways():
    statement = by_sid(DEFAULT)["NET1DenyInternetGateways"].statement
    assert actions(statement) == {"ec2:AttachInternetGateway", "ec2:CreateEgressOnlyInternetGateway",
                                  "ec2:CreateInternetGateway"}


# --- IAM-3, LOG-3, CI-2 and S3-1 with a baseline --------------------------------------------

BASELINE = settings(baseline_role_patterns=("ml-platform-account-baseline-*", "ml-platform-config-recorder-*"),
                    baseline_automation_role_patterns=("ml-platform-account-baseline-*",))
WITH_BASELINE = by_sid(guardrail_statements(BASELINE))
EXEC = "arn:aws:iam::*:role/stacksets-exec-*"
BASELINE_ARNS = ["arn:aws:iam::*:role/ml-platform-account-baseline-*", "arn:aws:iam::*:role/ml-platform-config-recorder-*"]


def _exempt(sid: str) -> list[str]:
    return WITH_BASELINE[sid].statement["Condition"]["ArnNotLike"]["aws:PrincipalARN"]


def test_without_a_baseline_nothing_exempts_the_stackset_roles():
    for item in DEFAULT:
        assert EXEC not in item.statement["Condition"]["ArnNotLike"]["aws:PrincipalARN"], item.sid
    statement = by_sid(DEFAULT)["IAM3ProtectExemptRoles"].statement
    assert statement["Resource"] == ROLE_ARNS and actions(statement) >= {"iam:CreateRole", "iam:PassRole"}


def test_iam3_with_a_baseline_gives_the_stackset_roles_only_role_lifecycle_and_only_on_baseline_roles():
    lifecycle = {"iam:AttachRolePolicy", "iam:CreateRole", "iam:DeleteRole", "iam:DeleteRolePolicy",
                 "iam:DetachRolePolicy", "iam:PutRolePolicy", "iam:TagRole", "iam:UntagRole",
                 "iam:UpdateAssumeRolePolicy", "iam:UpdateRole", "iam:UpdateRoleDescription"}
    boundaries = {"iam:DeleteRolePermissionsBoundary", "iam:PutRolePermissionsBoundary"}
    break_glass, deployment = ROLE_ARNS
    expected = {
        "IAM3ProtectDeploymentRole": ([deployment, EXEC], lifecycle | boundaries | {"iam:PassRole"}, False),
        "IAM3ProtectBreakGlassRole": ([break_glass], boundaries | {"iam:PassRole"}, False),
        "IAM3BreakGlassRoleOnlyFromBaseline": ([break_glass], lifecycle, True),
        "IAM3ProtectBaselineRoles": (BASELINE_ARNS, boundaries, False),
        "IAM3BaselineRolesOnlyFromBaseline": (BASELINE_ARNS, lifecycle | {"iam:PassRole"}, True),
    }
    iam3 = {sid: g for sid, g in WITH_BASELINE.items() if g.guardrail_id == "IAM-3"}
    assert set(iam3) == set(expected)
    for sid, (resources, acts, stackset) in expected.items():
        assert iam3[sid].statement["Resource"] == resources, sid
        assert actions(iam3[sid].statement) == acts, sid
        assert _exempt(sid) == ROLE_ARNS + ([EXEC] if stackset else []), sid


def test_log3_with_a_baseline_exempts_the_stackset_roles_from_exactly_the_recorder_calls():
    assert actions(WITH_BASELINE["LOG3DenyConfigChanges"].statement) == {"config:DeleteRetentionConfiguration"}
    assert _exempt("LOG3DenyConfigChanges") == ROLE_ARNS
    assert actions(WITH_BASELINE["LOG3ConfigOnlyFromBaseline"].statement) == {
        "config:DeleteConfigurationRecorder", "config:DeleteDeliveryChannel", "config:PutConfigurationRecorder",
        "config:PutDeliveryChannel", "config:StopConfigurationRecorder"}
    assert _exempt("LOG3ConfigOnlyFromBaseline") == ROLE_ARNS + [EXEC]
    assert actions(by_sid(DEFAULT)["LOG3DenyConfigChanges"].statement) == {
        "config:DeleteConfigurationRecorder", "config:DeleteDeliveryChannel", "config:DeleteRetentionConfiguration",
        "config:PutConfigurationRecorder", "config:PutDeliveryChannel", "config:StopConfigurationRecorder"}


def test_ci2_with_a_baseline_spares_only_the_baseline_roles_from_its_role_changes():
    roles = WITH_BASELINE["CI2DenyPipelineRoleChanges"].statement
    assert roles["NotResource"] == [ROLE_ARNS[0], *BASELINE_ARNS] and "Resource" not in roles
    assert all(a.startswith("iam:") for a in actions(roles))
    assert _exempt("CI2DenyPipelineRoleChanges") == ROLE_ARNS
    rest = WITH_BASELINE["CI2DenyPipelineChanges"].statement
    assert rest["Resource"] == "*" and not any(a.startswith("iam:") for a in actions(rest))
    assert _exempt("CI2DenyPipelineChanges") == ROLE_ARNS
    # Together, exactly the single statement's actions of a platform without a baseline.
    assert actions(roles) | actions(rest) == actions(by_sid(DEFAULT)["CI2DenyPipelineChanges"].statement)


def test_s31_exempts_only_the_baseline_automation_role():
    assert _exempt("S31DenyAccountPublicAccessChanges") == ROLE_ARNS + ["arn:aws:iam::*:role/ml-platform-account-baseline-*"]
    assert "ml-platform-config-recorder" not in str(_exempt("S31DenyAccountPublicAccessChanges"))


@pytest.mark.parametrize("item", list(WITH_BASELINE.values()), ids=lambda g: g.sid)
def test_every_baseline_statement_validates(item):
    assert validate_document(document(item.statement)) == []


# --- what the mutation run found unpinned ----------------------------------------------------

def test_an_empty_tag_key_is_refused():
    with pytest.raises(ValueError, match=r"mandatory_tags\[1\]: '' is invalid"):
        settings(mandatory_tags=("owner", ""))


def test_no_mandatory_tags_means_no_tag1():
    assert "TAG-1" not in {g.guardrail_id for g in guardrail_statements(settings(mandatory_tags=()))}


def test_statements_compare_by_their_content():
    a, b = DEFAULT[0], DEFAULT[1]
    assert dataclasses.replace(a, statement=b.statement) != a


def test_compact_lists_keep_wildcards_written_by_the_library():
    # SM-9 denies `sagemaker:*` as written; compaction must not touch a list with wildcards.
    compact = by_sid(guardrail_statements(settings(compact_action_lists=True, sagemaker_source_vpce_ids=("vpce-0123456789abcdef0",))))
    assert compact["SM9RequireTrustedNetwork"].statement["Action"] == "sagemaker:*"
