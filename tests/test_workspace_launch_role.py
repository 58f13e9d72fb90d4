"""The Service Catalog launch role of the Studio self-service product (issues 13 and 14): the
role the shared-services launch constraint names exists in every account that launches the
product, is trusted by Service Catalog of that account only and may do exactly what the
product's CloudFormation template does there."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest
import yaml

from policy_documents.service_authorization import action_resource_arns, validate_document
from stacks import shared_services_settings as ss
from stacks.config import ConfigError, parse_platform
from stacks.principal_settings import created_roles
from stacks.workspace_settings import service_role_names
from tests.conftest import load_sample_platform

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "policypacks" / "ml-guardrails"))
from ml_guardrails.identity import lint, load_document  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
CONSTRAINT = "aws:servicecatalog/constraint:Constraint"
PROJECT_STACKS = [f"{p}-{e}" for p in ("fraud-detection", "document-vision") for e in ("dev", "preprod", "prod")]
LAUNCH_ROLE = "mrd-studio-launch"
# The template's user-profile handler calls that its properties do not need: custom images
# (DescribeImage*), which the template does not set.
NOT_USED_BY_THE_TEMPLATE = ("sagemaker:DescribeImage", "sagemaker:DescribeImageVersion")
# The Identity Center user fields' lookups, which only an SSO domain's profile makes.
IDENTITY_CENTER_CALLS = ("sso:", "identitystore:")


@pytest.fixture(scope="module")
def platform():
    return parse_platform(load_sample_platform())


def _launch_role(run):
    roles = [r for r in run.of_type(ROLE) if r.inputs["name"] == LAUNCH_ROLE]
    return roles[0] if roles else None


def _launch_policy(run, role) -> dict:
    (policy,) = [p for p in run.of_type(ROLE_POLICY) if p.inputs["role"] == role.inputs["name"]]
    return json.loads(policy.inputs["policy"])


def _account(run):
    return run.outputs["data"]["keyArn"].split(":")[4]


def _template_handler_permissions(sso: bool = True) -> set[str]:
    """What CloudFormation calls to create, update and delete the template's resources (the
    resource schemas cfn-lint ships), for the resource types of templates/studio-user-profile.yaml."""
    import cfnlint

    schemas = Path(cfnlint.__file__).parent / "data" / "schemas"
    providers = json.loads((schemas / "providers" / "eu-west-1.json").read_text())
    template = yaml.load((ROOT / "templates" / "studio-user-profile.yaml").read_text(), Loader=_CfnLoader)
    found: set[str] = set()
    for resource in template["Resources"].values():
        schema = json.loads((schemas / "resources" / f"{providers[resource['Type']]}.json").read_text())
        for handler in ("create", "update", "delete"):
            found.update(schema["handlers"][handler]["permissions"])
    unused = NOT_USED_BY_THE_TEMPLATE if sso else (*NOT_USED_BY_THE_TEMPLATE, *IDENTITY_CENTER_CALLS)
    return {a for a in found if not a.startswith(unused)}


class _CfnLoader(yaml.SafeLoader):
    pass


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def test_every_account_that_launches_the_product_has_the_role(sample_runs, platform):
    """Every account of the portfolio share with a Studio domain (where the product's DomainId
    comes from) has the role; accounts without a domain have no launch role to misuse."""
    share_ou = platform.shared_services.service_catalog.share_ou
    accounts = platform.accounts()
    with_domain = []
    for stack in PROJECT_STACKS:
        run = sample_runs(stack)
        studio = run.outputs["workspace"].get("studio")
        assert accounts[stack][1].startswith(f"{share_ou}/"), stack  # in the share
        role = _launch_role(run)
        if studio is None:
            assert role is None, stack
            continue
        with_domain.append(stack)
        assert role is not None, f"{stack} has a Studio domain but no {LAUNCH_ROLE}"
        assert studio["launchRoleArn"] == role.outputs["arn"]
    assert with_domain == ss.launch_accounts(platform) == ["fraud-detection-dev", "document-vision-dev"]
    # The constraint's own account has the role too (AWS checks LocalRoleName there), with no permissions.
    shared = sample_runs("shared-services")
    role = _launch_role(shared)
    assert role is not None
    assert [p for p in shared.of_type(ROLE_POLICY) if p.inputs["role"] == LAUNCH_ROLE] == []
    (constraint,) = shared.of_type(CONSTRAINT)
    assert role.urn in constraint.dependencies


@pytest.mark.parametrize("stack", ["fraud-detection-dev", "document-vision-dev"])
def test_the_role_trusts_only_service_catalog_of_its_account(sample_runs, stack):
    run = sample_runs(stack)
    (statement,) = json.loads(_launch_role(run).inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Service": "servicecatalog.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": _account(run)}}


@pytest.mark.parametrize("stack", ["fraud-detection-dev", "document-vision-dev"])
def test_the_role_may_do_exactly_what_the_template_does(sample_runs, platform, stack):
    run = sample_runs(stack)
    project, env = stack.rsplit("-", 1)
    account, region = _account(run), platform.home_region
    domain = run.outputs["workspace"]["studio"]["domainId"]
    doc = _launch_policy(run, _launch_role(run))
    assert validate_document(doc) == []
    allowed: set[str] = set()
    for statement in doc["Statement"]:
        assert statement["Effect"] == "Allow"
        actions, resources = statement["Action"], statement["Resource"]
        allowed.update(actions)
        for action in actions:
            service = action.split(":")[0]
            assert "*" not in action, action
            if resources == "*":
                # Only actions without a resource type; the service-owned template copy is
                # scoped by the object tag Service Catalog puts on it.
                if action_resource_arns(action):
                    assert action == "s3:GetObject", (statement["Sid"], action)
                    assert statement["Condition"] == {"StringEquals": {
                        "s3:ExistingObjectTag/servicecatalog:provisioning": "true"}}
                continue
            for resource in resources:
                if service == "cloudformation":
                    assert resource == f"arn:aws:cloudformation:{region}:{account}:stack/SC-*"
                elif service == "sagemaker":
                    assert resource == f"arn:aws:sagemaker:{region}:{account}:user-profile/{domain}/*"
                elif service == "iam":
                    assert action == "iam:PassRole"
                    notebook = service_role_names(platform, project, env)["notebook"]
                    assert resource == f"arn:aws:iam::{account}:role/{notebook}"
                    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
                elif service == "sso":
                    # The configured Identity Center instance only.
                    assert resource == platform.identity.instance_arn
                elif service == "identitystore":
                    assert resource in (f"arn:aws:identitystore::*:identitystore/{platform.identity.identity_store_id}",
                                        "arn:aws:identitystore:::user/*")
                else:
                    pytest.fail(f"{statement['Sid']}: {action} on {resource}")
    # Everything CloudFormation needs for the template's resources, and only CloudFormation's
    # own calls, the template read and the parameter check besides.
    needed = _template_handler_permissions()
    assert needed <= allowed, needed - allowed
    extra = {a for a in allowed - needed if not a.startswith("cloudformation:")}
    assert extra == {"s3:GetObject", "ec2:DescribeSecurityGroups"}
    assert lint(load_document("identity", "policy", json.dumps(doc)), "MEDIUM") == []


def test_the_constraint_and_the_roles_take_their_name_from_one_setting(run_platform, sample_platform, sample_runs):
    (constraint,) = sample_runs("shared-services").of_type(CONSTRAINT)
    assert json.loads(constraint.inputs["parameters"]) == {"LocalRoleName": LAUNCH_ROLE}
    changed = copy.deepcopy(sample_platform)
    changed["shared_services"]["service_catalog"]["launch_role_name"] = "mrd-sc-studio-launch"
    shared = run_platform("shared-services", changed)
    (constraint,) = shared.of_type(CONSTRAINT)
    assert json.loads(constraint.inputs["parameters"]) == {"LocalRoleName": "mrd-sc-studio-launch"}
    dev = run_platform("fraud-detection-dev", changed)
    names = {r.inputs["name"] for r in dev.of_type(ROLE)}
    assert "mrd-sc-studio-launch" in names and LAUNCH_ROLE not in names
    listed = {(r.account, r.name) for r in created_roles(parse_platform(changed))}
    assert {("fraud-detection-dev", "mrd-sc-studio-launch"), ("document-vision-dev", "mrd-sc-studio-launch"),
            ("shared-services", "mrd-sc-studio-launch")} <= listed
    assert not any(name == LAUNCH_ROLE for _, name in listed)


def test_without_the_portfolio_no_launch_role(run_platform, sample_platform):
    sample_platform["shared_services"]["service_catalog"] = {"enabled": False}
    dev = run_platform("fraud-detection-dev", sample_platform)
    assert _launch_role(dev) is None and "launchRoleArn" not in dev.outputs["workspace"]["studio"]
    assert not any(r.name == LAUNCH_ROLE for r in created_roles(parse_platform(sample_platform)))


def test_a_studio_account_outside_the_share_is_refused_naming_the_key(sample_platform):
    sample_platform["shared_services"]["service_catalog"]["share_ou"] = "Workloads/PreProd"
    with pytest.raises(ConfigError) as error:
        parse_platform(sample_platform)
    assert ("shared_services.service_catalog.share_ou: account fraud-detection-dev has a Studio domain but is in "
            "OU Workloads/Dev, outside the share") in str(error.value)


def test_an_iam_domain_launch_role_makes_no_identity_center_calls(run_platform, sample_platform):
    """The Identity Center user fields are an SSO domain's: with IAM authentication the template
    leaves them out, and the role has no sso: or identitystore: action."""
    sample_platform["workspace"]["studio"]["auth_mode"] = "IAM"
    dev = run_platform("fraud-detection-dev", sample_platform)
    allowed = {a for s in _launch_policy(dev, _launch_role(dev))["Statement"] for a in s["Action"]}
    assert _template_handler_permissions(sso=False) <= allowed
    assert not [a for a in allowed if a.startswith(IDENTITY_CENTER_CALLS)]
