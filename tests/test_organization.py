"""The organization stack, run for real under the mocks: OU tree, accounts, SCPs, outputs."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from offline_preview.engine import PreviewError
from guardrail_catalog import read_catalog
from policy_documents.scp_library import guardrail_statements
from policy_documents.scp_packing import ScpLimitError, guardrail_ids_for_sid, pack_policies
from stacks.config import parse_platform
from stacks.organization import push_down_targets, scp_settings
from policy_documents.service_authorization import validate_document
from stacks.config import DEFAULT_OUS

OU = "aws:organizations/organizationalUnit:OrganizationalUnit"
ACCOUNT = "aws:organizations/account:Account"
POLICY = "aws:organizations/policy:Policy"
ATTACHMENT = "aws:organizations/policyAttachment:PolicyAttachment"


@pytest.fixture(scope="module")
def org(sample_runs):
    return sample_runs("organization")


def _ou_paths(run) -> dict[str, str]:
    """OU id -> path, rebuilt from what was registered (name + parent id)."""
    ous = run.of_type(OU)
    by_id = {r.id: r for r in ous}
    root_id = run.outputs["rootId"]

    def path(r):
        parent = r.inputs["parentId"]
        return r.inputs["name"] if parent == root_id else f"{path(by_id[parent])}/{r.inputs['name']}"

    return {r.id: path(r) for r in ous}


def test_full_ou_tree_under_the_root(org):
    assert sorted(_ou_paths(org).values()) == sorted(DEFAULT_OUS)
    assert org.outputs["ouIds"] == {path: ou_id for ou_id, path in _ou_paths(org).items()}


def test_every_account_in_its_ou(org, sample_platform):
    paths = _ou_paths(org)
    placed = {r.inputs["name"]: paths[r.inputs["parentId"]] for r in org.of_type(ACCOUNT)}
    shared = sample_platform["shared_accounts"]
    expected = {
        shared["log_archive"]["name"]: "Security",
        shared["security_tooling"]["name"]: "Security",
        shared["network"]["name"]: "Infrastructure",
        shared["shared_services"]["name"]: "Infrastructure",
        shared["data_lake"]["name"]: "Workloads/Prod",
        shared["automation"]["name"]: "Deployments",
        "mrd-sandbox-research": "Sandbox",
    }
    ou_of_env = {"dev": "Workloads/Dev", "preprod": "Workloads/PreProd", "prod": "Workloads/Prod"}
    for project in sample_platform["projects"]:
        for env in project["environments"]:
            expected[f"mrd-{project['name']}-{env}"] = ou_of_env[env]
    assert placed == expected


def test_accounts_are_protected_and_not_closed(org):
    for account in org.of_type(ACCOUNT):
        assert account.protect and account.retain_on_delete, account.name
        assert account.inputs["closeOnDeletion"] is False
        assert account.inputs["iamUserAccessToBilling"] == "DENY"
        assert account.inputs["roleName"] == "OrganizationAccountAccessRole"
        assert {"owner", "project", "environment", "cost-center", "data-classification"} <= set(account.inputs["tags"])


def _scps(run):
    return [p for p in run.of_type(POLICY) if p.inputs["type"] == "SERVICE_CONTROL_POLICY"]


def _targets(run) -> Counter:
    policies = {p.id: p for p in run.of_type(POLICY)}
    return Counter(a.inputs["targetId"] for a in run.of_type(ATTACHMENT)
                   if policies[a.inputs["policyId"]].inputs["type"] == "SERVICE_CONTROL_POLICY")


def test_scps_respect_both_aws_limits_and_keep_a_free_slot(org, sample_platform):
    limit = sample_platform["guardrails"]["scp_limit_per_target"]
    free = sample_platform["guardrails"]["scp_free_slots_per_target"]
    assert free >= 1
    for policy in _scps(org):
        assert len(policy.inputs["content"]) <= 5120, policy.name
        assert json.loads(policy.inputs["content"])  # valid JSON, minified
        assert ": " not in policy.inputs["content"] and "\n" not in policy.inputs["content"]
    for target, count in _targets(org).items():
        assert count <= limit - 1 - free, f"{target} carries {count} SCPs besides FullAWSAccess"


def test_slots_output_counts_what_is_attached(org, sample_platform):
    limit = sample_platform["guardrails"]["scp_limit_per_target"]
    paths = {**_ou_paths(org), org.outputs["rootId"]: "Root"}
    attached = {paths[t]: n + 1 for t, n in _targets(org).items()}  # FullAWSAccess included
    assert org.outputs["serviceControlPolicySlots"] == {
        t: {"used": n, "limit": limit, "free": limit - n} for t, n in attached.items()}
    assert all(v["free"] >= 1 for v in org.outputs["serviceControlPolicySlots"].values())


def _sids_on_path(org) -> dict[str, set[str]]:
    """OU path -> the Sids of every SCP on it from the root down (what its accounts get)."""
    paths = {**_ou_paths(org), org.outputs["rootId"]: "Root"}
    policies = {p.id: p for p in _scps(org)}
    at: dict[str, set[str]] = {}
    for a in org.of_type(ATTACHMENT):
        if a.inputs["policyId"] in policies:
            doc = json.loads(policies[a.inputs["policyId"]].inputs["content"])
            at.setdefault(paths[a.inputs["targetId"]], set()).update(s["Sid"] for s in doc["Statement"])
    found = {}
    for ou in ("Root", *DEFAULT_OUS):
        chain = ["Root"] + ["/".join(ou.split("/")[:i]) for i in range(1, ou.count("/") + 2)] if ou != "Root" else ["Root"]
        found[ou] = {sid for link in chain for sid in at.get(link, ())}
    return found


def test_scps_reach_every_ou_the_catalog_says(org):
    # Where a statement is attached (at an OU or at each of its children) may change with
    # packing; what every account below the catalog's target gets may not.
    on_path = _sids_on_path(org)
    # OUs that hold accounts or could (leaves): an OU with children and no account of its
    # own may hand its statements down to them.
    placed = {_ou_paths(org)[a.inputs["parentId"]] for a in org.of_type(ACCOUNT)}
    holding = {ou for ou in DEFAULT_OUS if ou in placed or not any(o.startswith(ou + "/") for o in DEFAULT_OUS)}
    assert {"Workloads/Dev", "Workloads/Prod", "Deployments", "Security", "Suspended"} <= holding
    carries = lambda ou, gid: any(gid in guardrail_ids_for_sid(sid) for sid in on_path[ou])  # noqa: E731
    for g in read_catalog():
        if not g.scp or g.id == "SM-9":  # SM-9 is off in the sample
            continue
        for target in g.scp.targets:
            below = [ou for ou in on_path if (ou == target or target == "Root" or ou.startswith(target + "/"))
                     and ou in holding]
            for ou in below:
                assert carries(ou, g.id), (g.id, ou)
    assert not carries("Workloads/Dev", "SM-6") and not carries("Workloads/Prod", "SM-7")
    assert not carries("Deployments", "TAG-1") and not carries("Sandbox", "CI-2")


def test_workloads_guardrails_move_down_only_to_ous_without_accounts(org, sample_platform):
    paths = {**_ou_paths(org), org.outputs["rootId"]: "Root"}
    # Workloads holds no account of its own, so what it cannot carry goes to its children.
    targets = {paths[t] for t in _targets(org)}
    assert {"Workloads", "Workloads/Dev", "Workloads/PreProd", "Workloads/Prod"} <= targets
    held = {ou for ou in (a.get("ou") for a in sample_platform["shared_accounts"].values()) if ou}
    assert "Workloads" not in held


def test_every_scp_validates_against_service_authorization_data(org):
    for policy in _scps(org):
        assert validate_document(json.loads(policy.inputs["content"])) == [], policy.name


EXEMPT = ["arn:aws:iam::*:role/mrd-break-glass", "arn:aws:iam::*:role/OrganizationAccountAccessRole"]
BREAK_GLASS, DEPLOYMENT = EXEMPT
AUTOMATION = "arn:aws:iam::*:role/mrd-account-baseline-*"
RECORDER = "arn:aws:iam::*:role/mrd-config-recorder-*"
STACKSET_EXEC = "arn:aws:iam::*:role/stacksets-exec-*"
LIFECYCLE = {"iam:AttachRolePolicy", "iam:CreateRole", "iam:DeleteRole", "iam:DeleteRolePolicy",
             "iam:DetachRolePolicy", "iam:PutRolePolicy", "iam:TagRole", "iam:UntagRole",
             "iam:UpdateAssumeRolePolicy", "iam:UpdateRole", "iam:UpdateRoleDescription"}
BOUNDARIES = {"iam:DeleteRolePermissionsBoundary", "iam:PutRolePermissionsBoundary"}


def _statements(run):
    for policy in _scps(run):
        yield from json.loads(policy.inputs["content"])["Statement"]


def _list(value):
    return value if isinstance(value, list) else [value]


def test_only_break_glass_and_deployment_roles_are_exempt_but_where_the_baseline_needs_exactly_this(org):
    # The README's exemption table: the baseline's automation role may set the account public
    # access block (S3-1); the StackSet execution roles keep exactly the calls CloudFormation
    # makes for the baseline's Config recorder and delivery channel (LOG-3) and roles (IAM-3).
    narrow = {
        "S31DenyAccountPublicAccessChanges": [AUTOMATION],
        "LOG3ConfigOnlyFromBaseline": [STACKSET_EXEC],
        "IAM3BreakGlassRoleOnlyFromBaseline": [STACKSET_EXEC],
        "IAM3BaselineRolesOnlyFromBaseline": [STACKSET_EXEC],
        # Release approvals: the approver groups' roles (delivery.approver_groups).
        "CI2ApprovalsOnlyByApprovers": ["arn:aws:iam::*:role/mrd-release-approver"],
    }
    seen = set()
    for statement in _statements(org):
        exempt = statement.get("Condition", {}).get("ArnNotLike", {}).get("aws:PrincipalARN")
        assert exempt is not None, f"{statement['Sid']} has no exemption condition"
        assert exempt == EXEMPT + narrow.get(statement["Sid"], []), statement["Sid"]
        seen.add(statement["Sid"])
    assert set(narrow) <= seen
    by_sid = {s["Sid"]: s for s in _statements(org)}
    assert set(_list(by_sid["LOG3ConfigOnlyFromBaseline"]["Action"])) == {
        "config:DeleteConfigurationRecorder", "config:DeleteDeliveryChannel", "config:PutConfigurationRecorder",
        "config:PutDeliveryChannel", "config:StopConfigurationRecorder"}
    # The retention configuration is not the baseline's: nobody but the exempt roles.
    assert any("config:DeleteRetentionConfiguration" in _list(s["Action"]) and s["Condition"]["ArnNotLike"][
        "aws:PrincipalARN"] == EXEMPT for s in _statements(org) if "LOG3" in s["Sid"])


def test_only_the_management_account_can_drive_the_stackset_execution_roles(org):
    # Service-managed StackSets are administered from the management account alone: with a
    # delegated administrator, that account could rewrite the break-glass role everywhere.
    delegated = {d.inputs["servicePrincipal"] for d in org.of_type(
        "aws:organizations/delegatedAdministrator:DelegatedAdministrator")}
    assert "member.org.stacksets.cloudformation.amazonaws.com" not in delegated


def test_each_platform_role_is_changed_only_by_whom_the_docs_say(org):
    # (role, action) -> the principals that may do it; every other principal is denied.
    iam3 = [s for s in _statements(org) if s["Sid"].startswith("IAM3")]

    def allowed(role: str, action: str) -> set[str]:
        principals = {"exempt", "stackset"}
        for s in iam3:
            if role in s["Resource"] and action in _list(s["Action"]):
                if STACKSET_EXEC not in s["Condition"]["ArnNotLike"]["aws:PrincipalARN"]:
                    principals.discard("stackset")
                assert s["Condition"]["ArnNotLike"]["aws:PrincipalARN"][:2] == EXEMPT
        return principals

    for action in sorted(LIFECYCLE | BOUNDARIES | {"iam:PassRole"}):
        assert allowed(DEPLOYMENT, action) == {"exempt"}, action
        assert allowed(STACKSET_EXEC, action) == {"exempt"}, action
        assert allowed(BREAK_GLASS, action) == ({"exempt", "stackset"} if action in LIFECYCLE else {"exempt"}), action
        for baseline in (AUTOMATION, RECORDER):
            expected = {"exempt"} if action in BOUNDARIES else {"exempt", "stackset"}
            assert allowed(baseline, action) == expected, (baseline, action)


def test_config_recorder_role_is_protected_like_the_other_baseline_roles(org):
    protected = {r for s in _statements(org) if s["Sid"].startswith("IAM3") for r in s["Resource"]}
    assert {RECORDER, AUTOMATION, BREAK_GLASS, DEPLOYMENT, STACKSET_EXEC} == protected


def test_ci2_role_changes_spare_only_the_roles_iam3_guards(org):
    by_sid = {s["Sid"]: s for s in _statements(org)}
    roles = by_sid["CI2DenyPipelineRoleChanges"]
    assert roles["NotResource"] == [BREAK_GLASS, AUTOMATION, RECORDER]
    assert {"iam:CreateRole", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy"} <= set(roles["Action"])
    assert roles["Condition"]["ArnNotLike"]["aws:PrincipalARN"] == EXEMPT
    rest = by_sid["CI2DenyPipelineChanges"]
    assert rest["Resource"] == "*" and not any(a.startswith("iam:") for a in rest["Action"])
    assert {"codepipeline:UpdatePipeline", "codebuild:UpdateProject", "kms:PutKeyPolicy"} <= set(rest["Action"])


def test_log_archive_buckets_are_the_security_stack_buckets(org):
    (log2,) = [s for s in _statements(org) if s["Sid"].startswith("LOG2")]
    for name in ("mrd-log-archive-111111111111", "mrd-config-history-111111111111", "mrd-log-access-111111111111"):
        # the bucket and its objects (DeleteObject, PutObjectRetention act on object ARNs)
        assert {f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"} <= set(log2["Resource"])


def test_tag_policy_covers_mandatory_tags(org, sample_platform):
    tag_policies = [p for p in org.of_type(POLICY) if p.inputs["type"] == "TAG_POLICY"]
    assert len(tag_policies) == 1
    assert set(json.loads(tag_policies[0].inputs["content"])["tags"]) == set(sample_platform["mandatory_tags"])


def test_delegated_administrators_are_security_tooling_and_shared_services(org):
    delegated = {d.inputs["servicePrincipal"]: d.inputs["accountId"] for d in org.of_type(DELEGATED)}
    ids = org.outputs["accountIds"]
    assert delegated == {
        "access-analyzer.amazonaws.com": ids["security-tooling"],
        "config-multiaccountsetup.amazonaws.com": ids["security-tooling"],
        "config.amazonaws.com": ids["security-tooling"],
        SERVICE_CATALOG: ids["shared-services"],
    }


# -- Service Catalog shares the shared-services portfolio through the organization ----------------
DELEGATED = "aws:organizations/delegatedAdministrator:DelegatedAdministrator"
CATALOG_ACCESS = "aws:servicecatalog/organizationsAccess:OrganizationsAccess"
SERVICE_CATALOG = "servicecatalog.amazonaws.com"


def test_service_catalog_organization_access_is_on_before_shared_services_is_its_administrator(org, sample_platform):
    (access,) = org.of_type(CATALOG_ACCESS)
    assert access.inputs["enabled"] is True
    # Only the management account may turn it on (a delegated administrator cannot).
    assert access.account == sample_platform["organization"]["management_account_id"]
    (organization,) = org.of_type("aws:organizations/organization:Organization")
    assert organization.urn in access.dependencies
    assert SERVICE_CATALOG in organization.inputs["awsServiceAccessPrincipals"]
    (delegation,) = [d for d in org.of_type(DELEGATED) if d.inputs["servicePrincipal"] == SERVICE_CATALOG]
    assert {organization.urn, access.urn} <= set(delegation.dependencies)


def test_the_portfolio_share_is_made_from_the_service_catalog_administrator(org, sample_runs):
    (share,) = sample_runs("shared-services").of_type("aws:servicecatalog/portfolioShare:PortfolioShare")
    assert share.inputs["type"] == "ORGANIZATIONAL_UNIT"
    (delegation,) = [d for d in org.of_type(DELEGATED) if d.inputs["servicePrincipal"] == SERVICE_CATALOG]
    assert share.account == delegation.inputs["accountId"] == org.outputs["accountIds"]["shared-services"]


def test_without_the_portfolio_service_catalog_is_not_integrated(org, run_platform, sample_platform):
    sample_platform["shared_services"]["service_catalog"]["enabled"] = False
    run = run_platform("organization", sample_platform)
    assert not run.of_type(CATALOG_ACCESS)
    (organization,) = run.of_type("aws:organizations/organization:Organization")
    (sample,) = org.of_type("aws:organizations/organization:Organization")
    assert organization.inputs["awsServiceAccessPrincipals"] == [
        p for p in sample.inputs["awsServiceAccessPrincipals"] if p != SERVICE_CATALOG]
    assert SERVICE_CATALOG not in {d.inputs["servicePrincipal"] for d in run.of_type(DELEGATED)}


def test_an_identity_center_administrator_other_than_management_is_delegated(run_platform, sample_platform):
    sample_platform.setdefault("identity", {})["admin_account"] = "security-tooling"
    run = run_platform("organization", sample_platform)
    delegated = {d.inputs["servicePrincipal"]: d.inputs["accountId"] for d in run.of_type(DELEGATED)}
    assert delegated["sso.amazonaws.com"] == run.outputs["accountIds"]["security-tooling"]
    (organization,) = run.of_type("aws:organizations/organization:Organization")
    assert "sso.amazonaws.com" in organization.inputs["awsServiceAccessPrincipals"]


def test_ram_sharing_with_the_organization_is_on(org):
    assert len(org.of_type("aws:ram/sharingWithOrganization:SharingWithOrganization")) == 1
    (organization,) = org.of_type("aws:organizations/organization:Organization")
    assert "ram.amazonaws.com" in organization.inputs["awsServiceAccessPrincipals"]


def test_outputs_contract(org, sample_platform):
    out = org.outputs
    assert out["organizationId"].startswith("o-") and out["rootId"].startswith("r-")
    assert out["managementAccountId"] == sample_platform["organization"]["management_account_id"]
    assert out["memberRoleName"] == "OrganizationAccountAccessRole"
    assert all(v.startswith("ou-") for v in out["ouIds"].values())
    assert all(len(v) == 12 and v.isdigit() for v in out["accountIds"].values())
    assert {"log-archive", "security-tooling", "network", "shared-services", "data-lake", "automation",
            "fraud-detection-dev", "document-vision-prod", "mrd-sandbox-research"} <= set(out["accountIds"])
    assert all(v["characters"] <= 5120 for v in out["serviceControlPolicies"].values())


def test_existing_organization_is_adopted_and_protected(org):
    (organization,) = org.of_type("aws:organizations/organization:Organization")
    assert organization.import_id == "o-mrd0example1" and organization.protect
    assert "SERVICE_CONTROL_POLICY" in organization.inputs["enabledPolicyTypes"]


def test_bad_configuration_registers_nothing(run_platform, sample_platform):
    sample_platform["home_region"] = "us-east-1"
    sample_platform["shared_accounts"]["network"]["email"] = "nope"
    with pytest.raises(PreviewError) as info:
        run_platform("organization", sample_platform)
    assert "home_region: 'us-east-1' is not in allowed_regions" in str(info.value)
    assert "shared_accounts.network.email: 'nope' is not a valid e-mail address" in str(info.value)
    assert info.value.registered == []


def test_a_full_target_falls_back_to_wildcard_action_lists(run_platform, sample_platform):
    # Thirteen mandatory tags make TAG-1 thirteen statements of ~1,900 characters: with explicit
    # lists, Workloads and its children cannot carry them within 5 SCPs less one free slot; the
    # same guardrails packed with wildcards that match exactly the same actions fit.
    extra = [f"extra-tag-{i}" for i in range(8)]
    sample_platform["mandatory_tags"] += extra
    sample_platform["default_tags"].update({t: "x" for t in extra})
    assert sample_platform["guardrails"]["scp_limit_per_target"] == 5
    assert sample_platform["guardrails"]["scp_free_slots_per_target"] == 1
    platform = parse_platform(sample_platform)
    with pytest.raises(ScpLimitError):  # the premise: explicit lists do not fit
        pack_policies(guardrail_statements(scp_settings(platform, compact=False)), "mrd",
                      free_slots_per_target=1, children=push_down_targets(platform))
    run = run_platform("organization", sample_platform)
    assert max(_targets(run).values()) <= 3
    assert any("*" in a for s in _statements(run) for a in _list(s.get("Action", []))
               if s["Sid"].startswith(("SM", "TAG")))
    for policy in _scps(run):
        assert validate_document(json.loads(policy.inputs["content"])) == []


def test_scps_that_cannot_fit_fail_before_any_resource(run_platform, sample_platform):
    # Three SCPs per target, one of them free: one document for guardrails is too few for
    # what reaches the project OUs, even with wildcards and everything pushed down.
    sample_platform["guardrails"]["scp_limit_per_target"] = 3
    with pytest.raises(PreviewError) as info:
        run_platform("organization", sample_platform)
    message = str(info.value)
    assert "Workloads/Dev (guardrails " in message and "TAG-1" in message
    assert "may hold 1 (3 per target, 1 reserved for FullAWSAccess, 1 kept free)" in message
    assert info.value.registered == []


def test_a_limit_that_leaves_no_slot_is_a_configuration_error(run_platform, sample_platform):
    sample_platform["guardrails"]["scp_limit_per_target"] = 1
    sample_platform["guardrails"]["scp_free_slots_per_target"] = 0
    with pytest.raises(PreviewError) as info:
        run_platform("organization", sample_platform)
    assert "guardrails.scp_limit_per_target: 1 leaves no slot besides FullAWSAccess (allowed: 2 to 10)" in str(info.value)
    assert info.value.registered == []

def test_readme_slots_table_is_the_samples(org):
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    rows = {m.group(1): int(m.group(2)) for m in re.finditer(r"^\| `([A-Za-z/]+)` \| (\d) \|$", readme, re.M)}
    assert rows == {t: v["used"] for t, v in org.outputs["serviceControlPolicySlots"].items()}


# -- trusted access follows the layers' settings ---------------------------------------------------
ORGANIZATION = "aws:organizations/organization:Organization"
MALWARE_PROTECTION = "malware-protection.guardduty.amazonaws.com"


def _principals(run) -> list[str]:
    (organization,) = run.of_type(ORGANIZATION)
    return organization.inputs["awsServiceAccessPrincipals"]


def _integrations(run) -> dict[str, str]:
    """Trusted-access principal -> the registered resource that needs it (what each
    organization-wide integration of a layer uses, per the Organizations User Guide)."""
    needs = {
        "aws:cloudtrail/trail:Trail": lambda r: r.inputs.get("isOrganizationTrail") and "cloudtrail.amazonaws.com",
        "aws:cfg/configurationAggregator:ConfigurationAggregator":
            lambda r: r.inputs.get("organizationAggregationSource") and "config.amazonaws.com",
        "aws:cfg/organizationManagedRule:OrganizationManagedRule": lambda r: "config-multiaccountsetup.amazonaws.com",
        "aws:cloudformation/stackSet:StackSet":
            lambda r: r.inputs.get("permissionModel") == "SERVICE_MANAGED" and "member.org.stacksets.cloudformation.amazonaws.com",
        "aws:guardduty/organizationAdminAccount:OrganizationAdminAccount": lambda r: "guardduty.amazonaws.com",
        "aws:guardduty/organizationConfigurationFeature:OrganizationConfigurationFeature":
            lambda r: r.inputs["name"] == "EBS_MALWARE_PROTECTION" and MALWARE_PROTECTION,
        "aws:securityhub/organizationAdminAccount:OrganizationAdminAccount": lambda r: "securityhub.amazonaws.com",
        "aws:accessanalyzer/analyzer:Analyzer":
            lambda r: r.inputs["type"].startswith("ORGANIZATION") and "access-analyzer.amazonaws.com",
        "aws:ram/principalAssociation:PrincipalAssociation":
            lambda r: ":organizations::" in r.inputs["principal"] and "ram.amazonaws.com",
        "aws:ram/sharingWithOrganization:SharingWithOrganization": lambda r: "ram.amazonaws.com",
        "aws:organizations/delegatedAdministrator:DelegatedAdministrator": lambda r: r.inputs["servicePrincipal"],
        "aws:controltower/controlTowerControl:ControlTowerControl": lambda r: "controltower.amazonaws.com",
        "aws:servicecatalog/organizationsAccess:OrganizationsAccess": lambda r: "servicecatalog.amazonaws.com",
        "aws:servicecatalog/portfolioShare:PortfolioShare":
            lambda r: r.inputs["type"] in ("ORGANIZATION", "ORGANIZATIONAL_UNIT") and "servicecatalog.amazonaws.com",
    }
    found = {}
    for typ, principal_of in needs.items():
        for resource in run.of_type(typ):
            principal = principal_of(resource)
            if principal:
                found.setdefault(principal, resource.name)
    return found


def test_trusted_access_covers_every_integration_the_layers_register(org, sample_runs):
    needed = {**_integrations(org), **_integrations(sample_runs("security")), **_integrations(sample_runs("network")),
              **_integrations(sample_runs("shared-services"))}
    # GuardDuty auto-enables Malware Protection for EC2 in every member (the sample's features);
    # the Studio portfolio is shared to an OU.
    assert MALWARE_PROTECTION in needed and "ram.amazonaws.com" in needed
    assert SERVICE_CATALOG in _integrations(sample_runs("shared-services"))
    missing = {p: r for p, r in needed.items() if p not in _principals(org)}
    assert missing == {}, f"integrations without trusted access (the organization would disable them): {missing}"


def test_malware_protection_principal_follows_the_guardduty_feature(org, run_platform, sample_platform):
    assert "EBS_MALWARE_PROTECTION" in sample_platform["security"]["services"]["guardduty_features"]
    assert MALWARE_PROTECTION in _principals(org)
    sample_platform["security"]["services"]["guardduty_features"] = ["S3_DATA_EVENTS"]
    run = run_platform("organization", sample_platform)
    assert _principals(run) == [p for p in _principals(org) if p != MALWARE_PROTECTION]


def test_control_tower_mode_keeps_the_landing_zone_integration(org, run_platform, sample_platform):
    assert "controltower.amazonaws.com" not in _principals(org)
    sample_platform["security"]["control_tower"]["enabled"] = True
    assert "controltower.amazonaws.com" in _principals(run_platform("organization", sample_platform))


def test_declared_extra_principals_are_kept(org, run_platform, sample_platform):
    sample_platform["organization"]["extra_service_access_principals"] = ["inspector2.amazonaws.com", MALWARE_PROTECTION]
    principals = _principals(run_platform("organization", sample_platform))
    assert "inspector2.amazonaws.com" in principals and "inspector2.amazonaws.com" not in _principals(org)
    assert principals == sorted(set(principals))


def test_identity_center_trusted_access_follows_the_identity_mode(org, run_platform, sample_platform):
    # Derived from identity.mode, not declared: the sample declares no extra principal.
    assert sample_platform["organization"]["extra_service_access_principals"] == []
    assert "sso.amazonaws.com" in _principals(org)
    sample_platform["identity"] = {"mode": "saml", "saml_provider_name": "corporate-idp"}
    sample_platform["workspace"]["studio"]["auth_mode"] = "IAM"
    principals = _principals(run_platform("organization", sample_platform))
    assert principals == [p for p in _principals(org) if p != "sso.amazonaws.com"]


def test_extra_principals_must_be_service_principals(run_platform, sample_platform):
    sample_platform["organization"]["extra_service_access_principals"] = [
        "sso.example.com", "sso.amazonaws.com", "sso.amazonaws.com"]
    with pytest.raises(PreviewError) as info:
        run_platform("organization", sample_platform)
    message = str(info.value)
    assert ("organization.extra_service_access_principals[0]: 'sso.example.com' is not an AWS service principal "
            "(allowed: lowercase names ending in .amazonaws.com") in message
    assert "organization.extra_service_access_principals[2]: 'sso.amazonaws.com' is listed twice" in message
    assert "extra_service_access_principals[1]" not in message
    assert info.value.registered == []


# -- account quota -----------------------------------------------------------------------------------
SERVICE_QUOTA = "aws:servicequotas/serviceQuota:ServiceQuota"


def _planned_accounts(platform: dict) -> int:
    """The organization's accounts in a raw platform definition, the management account included."""
    return (len(platform["shared_accounts"]) + len(platform.get("sandbox_accounts", []))
            + sum(len(p["environments"]) for p in platform.get("projects", [])) + 1)


def test_account_quota_is_requested_from_the_management_account_in_us_east_1(org, sample_platform):
    assert _planned_accounts(sample_platform) == 14  # beyond the default quota of 10
    (quota,) = org.of_type(SERVICE_QUOTA)
    assert quota.inputs["serviceCode"] == "organizations"
    assert quota.inputs["quotaCode"] == "L-29A0C5DF"  # Default maximum number of accounts
    assert quota.region == "us-east-1"
    assert quota.account == sample_platform["organization"]["management_account_id"]
    assert quota.inputs["value"] == 14 + sample_platform["organization"]["account_quota"]["headroom"]
    # The request goes first: accounts beyond the current quota cannot be created before it.
    accounts = org.of_type(ACCOUNT)
    assert len(accounts) == 13
    assert all(quota.urn in account.dependencies for account in accounts)


def test_account_quota_headroom_other_accounts_and_opt_out(run_platform, sample_platform):
    sample_platform["organization"]["account_quota"] = {"headroom": 0}
    (quota,) = run_platform("organization", sample_platform).of_type(SERVICE_QUOTA)
    assert quota.inputs["value"] == 14
    # An adopted organization's own accounts count too.
    sample_platform["organization"]["account_quota"] = {"headroom": 2, "other_accounts": 30}
    (quota,) = run_platform("organization", sample_platform).of_type(SERVICE_QUOTA)
    assert quota.inputs["value"] == 14 + 30 + 2
    sample_platform["organization"]["account_quota"] = {"request_increase": False}
    assert run_platform("organization", sample_platform).of_type(SERVICE_QUOTA) == []


def test_no_quota_request_while_the_default_holds_the_plan(run_platform, sample_platform):
    # 6 shared + 1 sandbox + 2 project accounts + management = 10, the default quota.
    fraud = sample_platform["projects"][0]
    del fraud["environments"]["prod"]
    sample_platform["projects"] = [fraud]
    lake = sample_platform["data_lake"]
    lake["consumers"] = [c for c in lake["consumers"] if c["project"] == fraud["name"]]
    for consumer in lake["consumers"]:
        consumer["environments"] = [e for e in consumer["environments"] if e in fraud["environments"]]
    profiles = sample_platform.get("workspace", {}).get("studio", {}).get("user_profiles", {})
    for name in [n for n in profiles if n != fraud["name"]]:
        del profiles[name]
    # Without prod, the project's delivery can be a training pipeline at most.
    sample_platform["delivery"]["projects"] = {fraud["name"]: {"scenario": "training"}}
    sample_platform["model_sharing"]["projects"] = {}  # document-vision's shared model
    assert _planned_accounts(sample_platform) == 10
    run = run_platform("organization", sample_platform)
    assert run.of_type(SERVICE_QUOTA) == []
    assert len(run.of_type(ACCOUNT)) == 9


# -- tag policy ----------------------------------------------------------------------------------------
def test_tag_policy_enforces_the_key_spelling_on_supported_resource_types(org, sample_platform):
    (policy,) = [p for p in org.of_type(POLICY) if p.inputs["type"] == "TAG_POLICY"]
    rules = json.loads(policy.inputs["content"])["tags"]
    assert list(rules) == sample_platform["mandatory_tags"]
    enforced = rules["owner"]["enforced_for"]["@@assign"]
    # The platform's data and ML resources, one resource type each (no service-wide wildcard).
    assert {"s3:bucket", "kms:key", "sagemaker:domain", "sagemaker:endpoint", "sagemaker:model"} <= set(enforced)
    assert all(re.fullmatch(r"[a-z0-9-]+:[a-z0-9-]+", t) for t in enforced), enforced
    for tag, rule in rules.items():
        # Only the key's spelling: no value list, so any value stays compliant.
        assert rule == {"tag_key": {"@@assign": tag}, "enforced_for": {"@@assign": enforced}}
    # Says what it is: a tag policy does not make the tags exist (the SCP and Config rule do).
    assert "spelling" in policy.inputs["description"] and "presence" in policy.inputs["description"]
