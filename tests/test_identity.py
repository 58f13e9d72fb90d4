"""People's access: the identity stack's permission sets, each account's persona policies and
account assignments, the SAML alternative (stacks/identity.py, stacks/identity_settings.py,
components/permission_sets.py, components/persona_policies.py)."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

from policy_documents.service_authorization import action_access_level, action_resource_arns, validate_document
from stacks.config import ConfigError, parse_platform

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "policypacks" / "ml-guardrails"))
from ml_guardrails.identity import lint, load_document  # noqa: E402

PERMISSION_SET = "aws:ssoadmin/permissionSet:PermissionSet"
CMP_ATTACHMENT = "aws:ssoadmin/customerManagedPolicyAttachment:CustomerManagedPolicyAttachment"
ASSIGNMENT = "aws:ssoadmin/accountAssignment:AccountAssignment"
ATTRIBUTES = "aws:ssoadmin/instanceAccessControlAttributes:InstanceAccessControlAttributes"
POLICY = "aws:iam/policy:Policy"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
PERSONAS = ["data-scientist", "data-engineer", "mlops-engineer", "it-auditor", "model-risk-manager"]
SET_NAMES = {"data-scientist": "mrd-DataScientist", "data-engineer": "mrd-DataEngineer",
             "mlops-engineer": "mrd-MLOpsEngineer", "it-auditor": "mrd-ITAuditor", "model-risk-manager": "mrd-ModelRisk"}
PEOPLE_STACKS = ["security", "data-lake", "shared-services",
                 *(f"{p}-{e}" for p in ("fraud-detection", "document-vision") for e in ("dev", "preprod", "prod"))]
STRICT_SERVICES = ("iam", "kms", "s3", "sagemaker")
# Metrics have no ARN: the data's only resource type for these is a CloudWatch dataset.
NO_ARN_FOR_METRICS = {"cloudwatch:GetMetricData", "cloudwatch:ListMetrics"}
GROUPS = {"ml-data-scientists": "9a1b2c3d-0001-4e5f-8a9b-0c1d2e3f4a01",
          "ml-operations": "9a1b2c3d-0003-4e5f-8a9b-0c1d2e3f4a03",
          "data-engineering": "9a1b2c3d-0004-4e5f-8a9b-0c1d2e3f4a04",
          "it-audit": "9a1b2c3d-0005-4e5f-8a9b-0c1d2e3f4a05",
          "model-risk": "9a1b2c3d-0006-4e5f-8a9b-0c1d2e3f4a06"}


def _persona_policies(run) -> dict[str, dict]:
    """Persona -> its customer-managed policy document in this stack's account."""
    return {p.inputs["tags"]["persona"]: json.loads(p.inputs["policy"]) for p in run.of_type(POLICY)
            if p.inputs["name"].startswith("mrd-persona-")}


def _assignments(run) -> set[tuple[str, str]]:
    """(permission set ARN, group id) of the stack's assignments."""
    return {(a.inputs["permissionSetArn"], a.inputs["principalId"]) for a in run.of_type(ASSIGNMENT)}


def _actions(doc: dict) -> list[str]:
    return [a for s in doc["Statement"] for a in s["Action"]]


def _third_project(platform: dict) -> dict:
    project = copy.deepcopy(platform["projects"][0])
    project["name"] = "credit-risk"
    for i, (env, spec) in enumerate(project["environments"].items()):
        spec["email"] = f"aws-credit-{env}@meridian-bank.example"
        spec["cidr"] = f"10.67.{4 * i}.0/22"
    platform["projects"].append(project)
    return platform


# -- the identity stack -----------------------------------------------------------------------

def test_one_permission_set_per_persona_whose_permission_is_the_accounts_own_policy(sample_runs):
    run = sample_runs("identity")
    sets = {s.inputs["name"]: s for s in run.of_type(PERMISSION_SET)}
    assert sorted(sets) == sorted(SET_NAMES.values())
    assert {s.inputs["instanceArn"] for s in sets.values()} == {"arn:aws:sso:::instance/ssoins-6804a1b2c3d4e5f6"}
    assert {s.inputs["sessionDuration"] for s in sets.values()} == {"PT8H"}
    refs = {(a.inputs["permissionSetArn"], a.inputs["customerManagedPolicyReference"]["name"],
             a.inputs["customerManagedPolicyReference"]["path"]) for a in run.of_type(CMP_ATTACHMENT)}
    assert refs == {(sets[SET_NAMES[p]].outputs["arn"], f"mrd-persona-{p}", "/ml-platform/personas/") for p in PERSONAS}
    # Nothing else grants a permission set anything.
    assert not [r for r in run.resources if r.type.startswith("aws:ssoadmin/") and r.type not in
                (PERMISSION_SET, CMP_ATTACHMENT, ATTRIBUTES)]
    assert run.outputs["permissionSetArns"] == {p: sets[SET_NAMES[p]].outputs["arn"] for p in PERSONAS}


def test_the_studio_owner_attribute_carries_the_user_name(sample_runs):
    (attributes,) = sample_runs("identity").of_type(ATTRIBUTES)
    assert attributes.inputs["attributes"] == [{"key": "studio-owner", "values": [{"sources": ["${path:userName}"]}]}]


def test_permission_sets_do_not_grow_with_projects(sample_runs, run_platform, sample_platform):
    two = sample_runs("identity")
    three = run_platform("identity", _third_project(sample_platform))
    assert len(three.resources) == len(two.resources)
    assert [(r.type, r.name, r.inputs) for r in three.resources if r.type.startswith("aws:")] == \
           [(r.type, r.name, r.inputs) for r in two.resources if r.type.startswith("aws:")]
    # The new project's accounts get their own policies and assignments, in their own stack.
    assert "credit-risk-preprod" in three.outputs["personaPolicies"]["data-scientist"]["accounts"]


def test_a_delegated_administrator_hosts_the_permission_sets_and_the_assignments(run_platform, sample_platform, accounts,
                                                                                sample_runs):
    delegated = "aws:organizations/delegatedAdministrator:DelegatedAdministrator"
    assert "sso.amazonaws.com" not in {d.inputs["servicePrincipal"] for d in sample_runs("organization").of_type(delegated)}
    sample_platform["identity"]["admin_account"] = "security-tooling"
    organization = run_platform("organization", sample_platform)
    assert [d.inputs["accountId"] for d in organization.of_type(delegated)
            if d.inputs["servicePrincipal"] == "sso.amazonaws.com"] == [accounts["security-tooling"]]
    identity = run_platform("identity", sample_platform)
    assert {s.account for s in identity.of_type(PERMISSION_SET)} == {accounts["security-tooling"]}
    dev = run_platform("fraud-detection-dev", sample_platform, upstream=None)
    assert {a.account for a in dev.of_type(ASSIGNMENT)} == {accounts["security-tooling"]}


# -- account assignments ----------------------------------------------------------------------

@pytest.mark.parametrize("stack, expected", [
    ("fraud-detection-dev", {"data-scientist": "ml-data-scientists"}),
    ("fraud-detection-preprod", {"data-scientist": "ml-data-scientists", "mlops-engineer": "ml-operations",
                                 "model-risk-manager": "model-risk"}),
    ("fraud-detection-prod", {"mlops-engineer": "ml-operations", "model-risk-manager": "model-risk"}),
    ("data-lake", {"data-engineer": "data-engineering"}),
    ("security", {"it-auditor": "it-audit"}),
    ("shared-services", {"model-risk-manager": "model-risk"}),
])
def test_each_account_assigns_its_groups_to_the_permission_sets_for_itself(sample_runs, accounts, stack, expected):
    run = sample_runs(stack)
    arns = sample_runs("identity").outputs["permissionSetArns"]
    assert _assignments(run) == {(arns[persona], GROUPS[group]) for persona, group in expected.items()}
    account = {"security": "security-tooling"}.get(stack, stack)
    policies = {p.urn: p for p in run.of_type(POLICY) if p.inputs["name"].startswith("mrd-persona-")}
    for assignment in run.of_type(ASSIGNMENT):
        i = assignment.inputs
        assert (i["targetType"], i["targetId"], i["principalType"]) == ("AWS_ACCOUNT", accounts[account], "GROUP")
        assert i["instanceArn"] == "arn:aws:sso:::instance/ssoins-6804a1b2c3d4e5f6"
        # Through Identity Center's account (management), after the policy the permission set names exists.
        assert assignment.account == "111111111111"
        persona = next(p for p, arn in arns.items() if arn == i["permissionSetArn"])
        (policy,) = [p for p in policies.values() if p.inputs["name"] == f"mrd-persona-{persona}"]
        assert policy.urn in assignment.dependencies
        assert policy.account == accounts[account] and policy.inputs["path"] == "/ml-platform/personas/"


def test_a_group_narrowed_to_a_project_and_environment_is_assigned_only_there(run_platform, sample_platform):
    sample_platform["identity"]["groups"]["ml-data-scientists"].update(projects=["fraud-detection"], environments=["dev"])
    assert len(run_platform("fraud-detection-dev", sample_platform).of_type(ASSIGNMENT)) == 1
    preprod = run_platform("fraud-detection-preprod", sample_platform)
    assert GROUPS["ml-data-scientists"] not in {a.inputs["principalId"] for a in preprod.of_type(ASSIGNMENT)}
    assert run_platform("document-vision-dev", sample_platform).of_type(ASSIGNMENT) == []


def test_another_project_leaves_a_project_stacks_assignments_alone(sample_runs, run_platform, sample_platform):
    fraud = run_platform("fraud-detection-preprod", _third_project(sample_platform))
    assert _assignments(fraud) == _assignments(sample_runs("fraud-detection-preprod"))


# -- persona policies: scope per environment ----------------------------------------------------

def test_data_scientists_change_in_dev_read_in_preprod_and_have_nothing_in_prod(sample_runs):
    dev = _persona_policies(sample_runs("fraud-detection-dev"))["data-scientist"]
    assert {"sagemaker:CreateTrainingJob", "sagemaker:CreatePresignedDomainUrl"} <= set(_actions(dev))
    preprod = _persona_policies(sample_runs("fraud-detection-preprod"))["data-scientist"]
    # Besides the reads, only assuming the reviewer role, which reads datasets and models
    # (tests/test_workspace_studio.py checks that role's policy).
    (assume,) = [s for s in preprod["Statement"] if s["Sid"] == "AssumeDataRoles"]
    assert assume["Action"] == ["sts:AssumeRole"] and all(r.endswith("-ml-engineer") for r in assume["Resource"])
    levels = {a: action_access_level(a) for s in preprod["Statement"] if s is not assume for a in s["Action"]}
    assert set(levels.values()) <= {"Read", "List"}, levels
    assert any(a.startswith("logs:") for a in levels) and "cloudwatch:GetMetricData" in levels
    for stack in ("fraud-detection-prod", "document-vision-prod"):
        assert "data-scientist" not in _persona_policies(sample_runs(stack))


def test_ecr_push_only_in_dev_only_from_the_notebook_role_and_only_to_repositories_sagemaker_created(sample_runs):
    def job_policies(stack):
        return {p.inputs["role"]: json.loads(p.inputs["policy"]) for p in sample_runs(stack).of_type(ROLE_POLICY)
                if p.inputs.get("name", "").endswith("-job")}

    dev = job_policies("fraud-detection-dev")
    pushers = {role for role, doc in dev.items() if "ecr:PutImage" in _actions(doc)}
    assert pushers == {"mrd-fraud-detection-dev-sm-execution"}
    doc = dev["mrd-fraud-detection-dev-sm-execution"]
    (push,) = [s for s in doc["Statement"] if "ecr:PutImage" in s["Action"]]
    tagged = {"StringEquals": {"aws:ResourceTag/CreatedBy": "SageMaker"}}
    assert push["Condition"] == tagged
    account = push["Resource"][0].split(":")[4]
    assert push["Resource"] == [f"arn:aws:ecr:eu-west-1:{account}:repository/*"]
    (create,) = [s for s in doc["Statement"] if "ecr:CreateRepository" in s["Action"]]
    assert create["Condition"] == {"StringEquals": {"aws:RequestTag/CreatedBy": "SageMaker"}}
    (pull,) = [s for s in dev["mrd-fraud-detection-dev-sm-training"]["Statement"] if s["Sid"] == "PullSageMakerRepositories"]
    assert pull["Condition"] == tagged and "ecr:PutImage" not in pull["Action"]
    for stack in ("fraud-detection-preprod", "fraud-detection-prod"):
        for role, policy in job_policies(stack).items():
            assert "ecr:PutImage" not in _actions(policy) and "CreatedBy" not in json.dumps(policy), (stack, role)
        for persona, policy in _persona_policies(sample_runs(stack)).items():
            assert "ecr:PutImage" not in _actions(policy), (stack, persona)


def test_notebook_instances_start_and_stop_only_by_their_owner_tag(sample_runs, run_platform, sample_platform):
    assert "sagemaker:StartNotebookInstance" not in _actions(_persona_policies(sample_runs("fraud-detection-dev"))["data-scientist"])
    sample_platform["workspace"]["notebook_instances"] = True
    doc = _persona_policies(run_platform("fraud-detection-dev", sample_platform))["data-scientist"]
    (own,) = [s for s in doc["Statement"] if "sagemaker:StartNotebookInstance" in s["Action"]]
    assert {"sagemaker:StopNotebookInstance", "sagemaker:CreatePresignedNotebookInstanceUrl"} <= set(own["Action"])
    assert own["Condition"] == {"StringEquals": {"sagemaker:ResourceTag/studio-owner": "${aws:PrincipalTag/studio-owner}"}}
    assert all(r.endswith(":notebook-instance/*") for r in own["Resource"])


def test_mlops_engineers_operate_but_never_change_pipelines(sample_runs):
    for stack in ("fraud-detection-preprod", "fraud-detection-prod"):
        doc = _persona_policies(sample_runs(stack))["mlops-engineer"]
        writes = {a for a in _actions(doc) if action_access_level(a) not in ("Read", "List")}
        assert writes == {"sagemaker:RetryPipelineExecution", "sagemaker:StopPipelineExecution",
                          "sagemaker:UpdateEndpointWeightsAndCapacities"}, writes
    assert "mlops-engineer" not in _persona_policies(sample_runs("fraud-detection-dev"))


def test_model_risk_managers_read_registry_model_cards_and_lineage(sample_runs):
    for stack in ("fraud-detection-preprod", "fraud-detection-prod", "shared-services"):
        doc = _persona_policies(sample_runs(stack))["model-risk-manager"]
        assert {action_access_level(a) for a in _actions(doc)} <= {"Read", "List"}
        assert "sagemaker:DescribeModelPackageGroup" in _actions(doc)
    project = _actions(_persona_policies(sample_runs("fraud-detection-prod"))["model-risk-manager"])
    assert {"sagemaker:DescribeModelCard", "sagemaker:QueryLineage", "sagemaker:DescribeArtifact"} <= set(project)


def test_auditors_read_trail_and_config_and_the_archive_through_the_auditor_roles(sample_runs, accounts):
    doc = _persona_policies(sample_runs("security"))["it-auditor"]
    assert {action_access_level(a) for a in _actions(doc) if a != "sts:AssumeRole"} <= {"Read", "List"}
    (assume,) = [s for s in doc["Statement"] if s["Action"] == ["sts:AssumeRole"]]
    assert assume["Resource"] == [f"arn:aws:iam::{accounts['security-tooling']}:role/mrd-security-auditor"]
    assert {"cloudtrail:LookupEvents", "config:SelectAggregateResourceConfig"} <= set(_actions(doc))


def test_data_engineers_work_in_the_lake_through_the_roles_its_policies_name(sample_runs, accounts):
    run = sample_runs("data-lake")
    doc = _persona_policies(run)["data-engineer"]
    (assume,) = [s for s in doc["Statement"] if s["Action"] == ["sts:AssumeRole"]]
    assert assume["Resource"] == [f"arn:aws:iam::{accounts['data-lake']}:role/mrd-data-engineer"]
    assert any("s3:PutObject" in s["Action"] and all(":::mrd-transactions-" in r or ":::mrd-documents-" in r
                                                      or "data-lake" in r for r in s["Resource"])
               for s in doc["Statement"])
    (policy,) = [p for p in run.of_type(POLICY) if p.inputs["name"] == "mrd-persona-data-engineer"]
    attached = [a for a in run.of_type(ATTACHMENT) if a.inputs["policyArn"] == policy.outputs["arn"]]
    assert [a.inputs["role"] for a in attached] == ["mrd-data-engineer"]


@pytest.mark.parametrize("stack", PEOPLE_STACKS)
def test_persona_policies_are_narrow_valid_and_parliament_clean(sample_runs, stack):
    run = sample_runs(stack)
    for p in run.of_type(POLICY):
        if not p.inputs["name"].startswith("mrd-persona-"):
            continue
        doc = json.loads(p.inputs["policy"])
        assert validate_document(doc) == [], p.name
        assert lint(load_document("identity", "policy", p.inputs["policy"]), "MEDIUM") == [], p.name
        for statement in doc["Statement"]:
            assert statement["Effect"] == "Allow"
            for action in statement["Action"]:
                assert not (action.split(":")[0] in STRICT_SERVICES and "*" in action), (p.name, action)
                if statement["Resource"] == "*" and action not in NO_ARN_FOR_METRICS:
                    assert not action_resource_arns(action), (p.name, statement["Sid"], action)


# -- people's roles: trust in each mode ---------------------------------------------------------

def test_lake_people_roles_trust_the_data_engineer_sessions_without_mfa_keys(sample_runs, accounts):
    run = sample_runs("data-lake")
    (role,) = [r for r in run.of_type(ROLE) if r.inputs["name"] == "mrd-data-engineer"]
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert "MultiFactorAuth" not in json.dumps(statement)  # federated sessions never carry it
    lake = accounts["data-lake"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{lake}:root"}
    assert statement["Condition"] == {"ArnLike": {"aws:PrincipalArn": [
        f"arn:aws:iam::{lake}:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_mrd-DataEngineer_*"]}}


@pytest.fixture
def saml_platform(sample_platform):
    sample_platform["identity"] = {"mode": "saml", "saml_provider_name": "corporate-idp"}
    sample_platform["workspace"]["studio"]["auth_mode"] = "IAM"
    return sample_platform


def test_saml_mode_creates_persona_roles_trusting_the_provider_for_the_audience(run_platform, saml_platform, accounts):
    run = run_platform("fraud-detection-dev", saml_platform)
    assert run.of_type(ASSIGNMENT) == []
    (role,) = [r for r in run.of_type(ROLE) if r.inputs["name"] == "mrd-saml-data-scientist"]
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    account = accounts["fraud-detection-dev"]
    assert statement["Principal"] == {"Federated": f"arn:aws:iam::{account}:saml-provider/corporate-idp"}
    assert statement["Action"] == ["sts:AssumeRoleWithSAML", "sts:TagSession"]
    assert statement["Condition"] == {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}
    assert role.inputs["maxSessionDuration"] == 8 * 3600
    (policy,) = [p for p in run.of_type(POLICY) if p.inputs["name"] == "mrd-persona-data-scientist"]
    assert [a.inputs["role"] for a in run.of_type(ATTACHMENT) if a.inputs["policyArn"] == policy.outputs["arn"]] == \
           ["mrd-saml-data-scientist"]
    assert run.outputs["workspace"]["samlRoleArns"] == {"data-scientist": role.outputs["arn"]}
    # The people's roles the lake's grants name are assumed from the SAML persona role instead.
    for name in ("mrd-fraud-detection-dev-data-scientist", "mrd-fraud-detection-dev-ml-engineer"):
        (people,) = [r for r in run.of_type(ROLE) if r.inputs["name"] == name]
        (trust,) = json.loads(people.inputs["assumeRolePolicy"])["Statement"]
        assert trust["Condition"] == {"ArnLike": {"aws:PrincipalArn": [f"arn:aws:iam::{account}:role/mrd-saml-data-scientist"]}}
    assert run_platform("identity", saml_platform).of_type(PERMISSION_SET) == []


def test_saml_roles_are_known_roles_of_their_accounts(run_platform, saml_platform):
    from stacks.principal_settings import created_roles

    platform = parse_platform(saml_platform)
    listed = {(r.account, r.name) for r in created_roles(platform) if "-saml-" in r.name}
    assert ("fraud-detection-dev", "mrd-saml-data-scientist") in listed
    assert ("fraud-detection-prod", "mrd-saml-data-scientist") not in listed
    assert {("data-lake", "mrd-saml-data-engineer"), ("security-tooling", "mrd-saml-it-auditor"),
            ("shared-services", "mrd-saml-model-risk-manager")} <= listed
    prod = run_platform("fraud-detection-prod", saml_platform)
    assert {r.inputs["name"] for r in prod.of_type(ROLE) if "-saml-" in r.inputs["name"]} == \
           {n for a, n in listed if a == "fraud-detection-prod"}


def test_saml_mode_lake_roles_trust_the_saml_data_engineer_role(run_platform, saml_platform, accounts):
    run = run_platform("data-lake", saml_platform)
    (role,) = [r for r in run.of_type(ROLE) if r.inputs["name"] == "mrd-data-engineer"]
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    lake = accounts["data-lake"]
    assert statement["Condition"] == {"ArnLike": {"aws:PrincipalArn": [f"arn:aws:iam::{lake}:role/mrd-saml-data-engineer"]}}
    assert "MultiFactorAuth" not in json.dumps(statement)


# -- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("change, key", [
    (lambda p: p["identity"]["groups"]["it-audit"].update(personas=["wizard"]), "identity.groups.it-audit.personas[0]: unknown persona 'wizard'"),
    (lambda p: p["identity"]["groups"]["it-audit"].update(group_id="auditors"), "identity.groups.it-audit.group_id:"),
    (lambda p: p["identity"]["groups"]["it-audit"].update(projects=["nope"]), "identity.groups.it-audit.projects[0]: unknown project 'nope'"),
    (lambda p: p["identity"]["groups"]["it-audit"].update(environments=["qa"]), "identity.groups.it-audit.environments[0]: unknown environment 'qa'"),
    (lambda p: p["identity"].pop("instance_arn"), "identity.instance_arn:"),
    (lambda p: p["identity"].update(identity_store_id="store"), "identity.identity_store_id:"),
    (lambda p: p["identity"].update(admin_account="fraud-detection-dev"), "identity.admin_account:"),
    (lambda p: p["identity"].update(session_duration="PT24H"), "identity.session_duration:"),
    (lambda p: p["identity"].update(mode="saml"), "identity.saml_provider_name:"),
    (lambda p: p["identity"].update(mode="saml", saml_provider_name="idp"), "workspace.studio.auth_mode:"),
    (lambda p: p["workspace"]["studio"].update(environments=["dev", "data-lake"]),
     "workspace.studio.environments[1]: 'data-lake' is an account without a project VPC"),
    (lambda p: p["workspace"]["studio"]["user_profiles"]["fraud-detection"].append({"name": "x", "owner": "eve@example.com"}),
     "workspace.studio.user_profiles.fraud-detection[1].owner: 'eve@example.com' is not a configured person"),
])
def test_bad_identity_input_is_rejected_naming_the_key(sample_platform, change, key):
    change(sample_platform)
    with pytest.raises(ConfigError) as err:
        parse_platform(sample_platform)
    assert any(p.startswith(key) for p in err.value.problems), err.value.problems


def test_bad_identity_input_registers_nothing(run_platform, sample_platform):
    sample_platform["identity"]["groups"]["it-audit"]["personas"] = ["wizard"]
    from offline_preview.engine import PreviewError
    with pytest.raises(PreviewError) as info:
        run_platform("identity", sample_platform)
    assert "identity.groups.it-audit.personas[0]" in str(info.value)
    assert info.value.registered == []


def test_presigned_url_lifetime_has_no_condition_key_so_sessions_bound_it(run_platform, sample_platform):
    # README "How people get in": IAM cannot enforce ExpiresInSeconds or the Studio session
    # length because the authorization data has no key for them; should one appear, enforce it.
    from policy_documents.service_authorization import action_condition_keys

    keys = action_condition_keys("sagemaker:CreatePresignedDomainUrl")
    assert not [k for k in keys if "expir" in k or "session" in k or "duration" in k], keys
    sample_platform["identity"]["session_duration"] = "PT2H"
    identity = run_platform("identity", sample_platform)
    assert {s.inputs["sessionDuration"] for s in identity.of_type(PERMISSION_SET)} == {"PT2H"}
