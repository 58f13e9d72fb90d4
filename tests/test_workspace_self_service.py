"""Studio self-service (issue 13): in the accounts where data scientists work with Studio, their
sessions are associated with the shared portfolio and their persona policy launches the Studio
user-profile product and manages only their own provisioned products; the product's template
binds the profile to one person (Identity Center user in SSO domains, the ABAC owner tag)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from policy_documents.service_authorization import action_condition_keys, action_resource_arns, validate_document
from stacks import shared_services_settings as ss
from stacks import workspace_settings as ws
from stacks.config import parse_platform
from tests.conftest import load_sample_platform

ROOT = Path(__file__).resolve().parent.parent
ASSOCIATION = "aws:servicecatalog/principalPortfolioAssociation:PrincipalPortfolioAssociation"
POLICY = "aws:iam/policy:Policy"
PROJECT_STACKS = [f"{p}-{e}" for p in ("fraud-detection", "document-vision") for e in ("dev", "preprod", "prod")]
SCIENTIST_POLICY = "mrd-persona-data-scientist"
# What an end user of the portfolio does, and nothing else.
LAUNCH = {"servicecatalog:DescribeProduct", "servicecatalog:DescribeProvisioningParameters",
          "servicecatalog:ListLaunchPaths", "servicecatalog:ProvisionProduct"}
FIND = {"servicecatalog:DescribeProductView", "servicecatalog:SearchProducts"}
OWN = {"servicecatalog:DescribeProvisionedProduct", "servicecatalog:DescribeRecord", "servicecatalog:ListRecordHistory",
       "servicecatalog:SearchProvisionedProducts", "servicecatalog:TerminateProvisionedProduct",
       "servicecatalog:UpdateProvisionedProduct"}


class _CfnLoader(yaml.SafeLoader):
    pass


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: {suffix: loader.construct_sequence(node)
                                                                    if isinstance(node, yaml.SequenceNode)
                                                                    else loader.construct_scalar(node)})


def _policies(run) -> dict[str, dict]:
    return {p.inputs["name"]: json.loads(p.inputs["policy"]) for p in run.of_type(POLICY)}


def _catalog_statements(document: dict) -> list[dict]:
    return [s for s in document["Statement"] if any(a.startswith("servicecatalog:") for a in s["Action"])]


def test_the_self_service_accounts_are_the_dev_studio_accounts():
    platform = parse_platform(load_sample_platform())
    assert ss.self_service_accounts(platform) == ["fraud-detection-dev", "document-vision-dev"]
    assert set(ss.self_service_accounts(platform)) <= set(ss.launch_accounts(platform))


@pytest.mark.parametrize("stack", PROJECT_STACKS)
def test_the_data_scientists_sessions_are_associated_with_the_shared_portfolio_in_dev(sample_runs, stack):
    run = sample_runs(stack)
    associations = run.of_type(ASSOCIATION)
    if not stack.endswith("-dev"):
        assert associations == [] and "selfService" not in run.outputs["workspace"].get("studio", {})
        return
    catalog = sample_runs("shared-services").outputs["serviceCatalog"]
    (association,) = associations
    # The imported portfolio of the organization share (no acceptance for an organization node).
    assert association.inputs["portfolioId"] == catalog["portfolioId"]
    assert association.inputs["principalType"] == "IAM_PATTERN"
    assert association.inputs["principalArn"] == (
        "arn:aws:iam:::role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_mrd-DataScientist_*")
    # Created with the account's provider, as every resource of the project stack.
    assert association.provider == run.of_type("aws:sagemaker/domain:Domain")[0].provider
    assert run.outputs["workspace"]["studio"]["selfService"]["portfolioId"] == catalog["portfolioId"]


def test_in_saml_mode_the_saml_persona_role_is_associated(run_platform, sample_platform):
    sample_platform["identity"] = {"mode": "saml", "saml_provider_name": "corporate-idp"}
    sample_platform["workspace"]["studio"]["auth_mode"] = "IAM"
    dev = run_platform("fraud-detection-dev", sample_platform)
    assert [a.inputs["principalArn"] for a in dev.of_type(ASSOCIATION)] == ["arn:aws:iam:::role/mrd-saml-data-scientist"]
    assert _catalog_statements(_policies(dev)[SCIENTIST_POLICY])


@pytest.mark.parametrize("stack", ["fraud-detection-dev", "document-vision-dev"])
def test_the_dev_data_scientist_launches_the_product_and_manages_only_their_own(sample_runs, stack):
    run = sample_runs(stack)
    catalog = sample_runs("shared-services").outputs["serviceCatalog"]
    shared_id = sample_runs("shared-services").outputs["accountId"]
    account = run.outputs["data"]["keyArn"].split(":")[4]
    # The owner's ARN and the imported portfolio's (this account's): the one product either way.
    products = [f"arn:aws:catalog:eu-west-1:{a}:product/{catalog['productId']}" for a in (shared_id, account)]
    document = _policies(run)[SCIENTIST_POLICY]
    assert validate_document(document) == []
    statements = _catalog_statements(document)
    assert {a for s in statements for a in s["Action"]} == LAUNCH | FIND | OWN
    for statement in statements:
        assert all(a.startswith("servicecatalog:") for a in statement["Action"]), statement["Sid"]
        for action in statement["Action"]:
            if action_resource_arns(action):
                # Scoped to the shared product wherever the service data has a resource type.
                assert statement["Resource"] == products, action
            elif action_condition_keys(action) & {"servicecatalog:userlevel"}:
                assert statement["Resource"] == "*"
                assert statement["Condition"] == {"StringEquals": {"servicecatalog:userLevel": "self"}}, action
            else:
                assert action in FIND and statement["Resource"] == "*" and "Condition" not in statement
    assert run.outputs["workspace"]["studio"]["selfService"]["productArns"] == products


@pytest.mark.parametrize("stack", [s for s in PROJECT_STACKS if not s.endswith("-dev")])
def test_no_persona_launches_products_outside_dev(sample_runs, stack):
    for name, document in _policies(sample_runs(stack)).items():
        assert _catalog_statements(document) == [], name


def test_without_the_portfolio_no_association_and_no_catalog_permissions(run_platform, sample_platform):
    sample_platform["shared_services"]["service_catalog"] = {"enabled": False}
    dev = run_platform("fraud-detection-dev", sample_platform)
    assert dev.of_type(ASSOCIATION) == []
    assert _catalog_statements(_policies(dev)[SCIENTIST_POLICY]) == []
    assert "selfService" not in dev.outputs["workspace"]["studio"]


def test_a_studio_environment_beyond_dev_launches_but_its_data_scientists_do_not(run_platform, sample_platform):
    """Preprod with Studio gets the launch role (the constraint needs it) but no association:
    data scientists only read there."""
    sample_platform["workspace"]["studio"]["environments"] = ["dev", "preprod"]
    preprod = run_platform("fraud-detection-preprod", sample_platform)
    assert "launchRoleArn" in preprod.outputs["workspace"]["studio"]
    assert preprod.of_type(ASSOCIATION) == []
    assert _catalog_statements(_policies(preprod)[SCIENTIST_POLICY]) == []


def test_the_template_binds_the_profile_to_its_owner():
    """The owner tag is the workspace's ABAC key (so only the owner opens the profile); an SSO
    domain's profile names the same person as its Identity Center user, an IAM domain's none."""
    template = yaml.load(ss.STUDIO_PRODUCT_TEMPLATE.read_text(), Loader=_CfnLoader)
    props = template["Resources"]["UserProfile"]["Properties"]
    assert props["Tags"] == [{"Key": ws.OWNER_TAG, "Value": {"Ref": "OwnerUserName"}}]
    assert template["Conditions"] == {"SsoDomain": {"Equals": [{"Ref": "DomainAuthMode"}, "SSO"]}}
    assert props["SingleSignOnUserIdentifier"] == {"If": ["SsoDomain", "UserName", {"Ref": "AWS::NoValue"}]}
    assert props["SingleSignOnUserValue"] == {"If": ["SsoDomain", {"Ref": "OwnerUserName"}, {"Ref": "AWS::NoValue"}]}
    assert template["Parameters"]["DomainAuthMode"]["AllowedValues"] == ["SSO", "IAM"]
