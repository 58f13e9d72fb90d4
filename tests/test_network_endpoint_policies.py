"""Endpoint policies of every VPC endpoint the program creates (NET-2, issue 11).

Interface endpoints must not let an insider move data to another organization's resources:
every action on an account-owned resource is allowed only on resources of the organization
(`aws:ResourceOrgID`), except the named reads of AWS-owned resources the workloads need. The
services whose endpoints accept only the full-access policy get none at all.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest

from components.vpc_endpoints import (
    FULL_ACCESS_ONLY_SERVICES,
    INTERFACE_SERVICES,
    acts_on_account_resources,
    interface_endpoint_policy,
)
from offline_preview.engine import discover_stacks
from policy_documents.service_authorization import (
    action_access_level,
    action_resource_arns,
    expand_actions,
    validate_document,
)

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "stacks"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
READ_LEVELS = ("List", "Read")
ORG = "o-test12345"


def _as_list(value):
    return value if isinstance(value, list) else [value]


def key_of(endpoint) -> str:
    """`sagemaker.api` for `com.amazonaws.eu-west-1.sagemaker.api`."""
    return endpoint.inputs["serviceName"].split(".", 3)[3]


def interface_endpoints(run):
    return [e for e in run.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Interface"]


def allowing(policy: dict, action: str) -> list[dict]:
    """The Allow statements of `policy` whose Action matches `action`."""
    return [s for s in policy["Statement"] if s["Effect"] == "Allow"
            and any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in _as_list(s["Action"]))]


def resource_org(statement: dict):
    return statement.get("Condition", {}).get("StringEquals", {}).get("aws:ResourceOrgID")


@pytest.fixture(scope="module")
def sample_endpoints(sample_runs):
    """(stack, endpoint) for every VPC endpoint of the sample's stacks, and the organization id."""
    org_id = sample_runs("organization").outputs["organizationId"]
    found = [(stack, e) for stack in discover_stacks(SAMPLE_DIR) for e in sample_runs(stack).of_type(ENDPOINT)]
    return found, org_id


def test_the_sample_creates_a_full_access_only_service(sample_endpoints):
    endpoints, _ = sample_endpoints
    created = {key_of(e) for _, e in endpoints if e.inputs["vpcEndpointType"] == "Interface"}
    assert created <= set(INTERFACE_SERVICES)
    assert set(FULL_ACCESS_ONLY_SERVICES) & created and created - set(FULL_ACCESS_ONLY_SERVICES)


def check_statements(key: str, policy: dict, org_id: str, where: str) -> None:
    """Every Allow admits organization principals only, and either carries `aws:ResourceOrgID`,
    or covers only actions that act on no account-owned resource, or is one of the service's
    declared AWS-owned reads, all of whose actions are List/Read in the service data."""
    service = INTERFACE_SERVICES[key]
    reads = {r.sid: r for r in service.aws_owned_reads}
    assert validate_document(policy) == [], where
    for statement in policy["Statement"]:
        label = (where, statement["Sid"])
        assert statement["Effect"] == "Allow", label
        assert statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == org_id, label
        if resource_org(statement) is not None:
            assert resource_org(statement) == org_id, label
            continue
        actions = [a for p in _as_list(statement["Action"]) for a in expand_actions(p)]
        assert actions, label
        if statement["Sid"] in reads:
            assert statement["Action"] == list(reads[statement["Sid"]].actions), label
            assert all(action_access_level(a) in READ_LEVELS for a in actions), label
        else:
            assert not [a for a in actions if acts_on_account_resources(a)], label


def test_every_allow_statement_of_the_programs_endpoints_keeps_to_the_organization(sample_endpoints):
    """Statement by statement, for each endpoint service the program creates."""
    endpoints, org_id = sample_endpoints
    checked = set()
    for stack, endpoint in endpoints:
        if endpoint.inputs["vpcEndpointType"] == "Interface" and "policy" in endpoint.inputs:
            check_statements(key_of(endpoint), json.loads(endpoint.inputs["policy"]), org_id, f"{stack}:{endpoint.name}")
            checked.add(key_of(endpoint))
    assert len(checked) > 10


@pytest.mark.parametrize("key", [k for k in INTERFACE_SERVICES if k not in FULL_ACCESS_ONLY_SERVICES])
def test_every_allow_statement_of_every_catalogued_service_keeps_to_the_organization(key):
    """Also the services the sample does not create (e.g. rekognition, for model consumers)."""
    check_statements(key, interface_endpoint_policy(INTERFACE_SERVICES[key], ORG, "eu-west-1"), ORG, key)


def test_writes_to_owned_resources_are_allowed_only_inside_the_organization(sample_endpoints):
    """Every non-read action of a service on an account-owned resource is allowed through its
    endpoint only by statements that carry `aws:ResourceOrgID` = the organization."""
    endpoints, org_id = sample_endpoints
    policies = {key_of(e): json.loads(e.inputs["policy"]) for _, e in endpoints
                if e.inputs["vpcEndpointType"] == "Interface" and "policy" in e.inputs}
    for key, policy in policies.items():
        service = INTERFACE_SERVICES[key]
        writes = [a for p in service.actions for a in expand_actions(p)
                  if acts_on_account_resources(a) and action_access_level(a) not in READ_LEVELS]
        assert writes or key == "sagemaker.runtime", key  # InvokeEndpoint is a Read
        for action in writes:
            statements = allowing(policy, action)
            assert statements, (key, action)
            assert all(resource_org(s) == org_id for s in statements), (key, action)


@pytest.mark.parametrize(("key", "action"), [
    ("ecr.api", "ecr:PutImage"), ("ecr.dkr", "ecr:PutImage"), ("ecr.dkr", "ecr:InitiateLayerUpload"),
    ("ecr.dkr", "ecr:UploadLayerPart"), ("ecr.dkr", "ecr:CompleteLayerUpload"),
    ("codeartifact.api", "codeartifact:PublishPackageVersion"),
    ("codeartifact.repositories", "codeartifact:PublishPackageVersion"),
    ("codeartifact.repositories", "codeartifact:PutPackageMetadata"),
    ("sagemaker.runtime", "sagemaker:InvokeEndpoint"), ("sts", "sts:AssumeRole"),
])
def test_a_push_is_allowed_only_with_the_organization_condition(key, action):
    assert acts_on_account_resources(action)
    policy = interface_endpoint_policy(INTERFACE_SERVICES[key], ORG, "eu-west-1")
    statements = allowing(policy, action)
    assert statements
    assert [resource_org(s) for s in statements] == [ORG] * len(statements)


@pytest.mark.parametrize("key", ["ecr.api", "ecr.dkr"])
def test_sagemaker_prebuilt_images_can_still_be_pulled(key):
    """A pull of an AWS-owned image (no aws:ResourceOrgID of ours) has a statement without
    the resource condition; the authorization token (no owned resource) one too."""
    policy = interface_endpoint_policy(INTERFACE_SERVICES[key], ORG, "eu-west-1")
    for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability",
                   "ecr:GetAuthorizationToken"):
        assert [s for s in allowing(policy, action) if resource_org(s) is None], action


def test_aws_public_parameters_are_readable_by_name():
    policy = interface_endpoint_policy(INTERFACE_SERVICES["ssm"], ORG, "eu-west-1")
    [public] = [s for s in policy["Statement"] if s["Sid"] == "ReadAwsPublicParameters"]
    assert public["Resource"] == ["arn:aws:ssm:eu-west-1:*:parameter/aws/*"]
    assert [s for s in allowing(policy, "ssm:PutParameter") if resource_org(s) is None] == []


def test_aws_owned_reads_are_reads_in_the_service_authorization_data():
    for service in INTERFACE_SERVICES.values():
        for read in service.aws_owned_reads:
            for action in read.actions:
                assert action_access_level(action) in READ_LEVELS, (service.key, action)
                assert expand_actions(action) == (action,), action


def test_account_owned_resources_come_from_the_arns_in_the_data():
    assert action_resource_arns("ecr:PutImage") == ("arn:${Partition}:ecr:${Region}:${Account}:repository/${RepositoryName}",)
    assert action_resource_arns("ecr:GetAuthorizationToken") == ()
    assert acts_on_account_resources("ecr:PutImage") and not acts_on_account_resources("ecr:GetAuthorizationToken")
    assert acts_on_account_resources("sts:AssumeRole") and not acts_on_account_resources("sts:GetCallerIdentity")
    assert action_access_level("ecr:PutImage") == "Write" and action_access_level("ecr:BatchGetImage") == "Read"
    assert action_access_level("ecr:NoSuchAction") is None and action_resource_arns("nosuch:Action") == ()


def _full_access_only(endpoint) -> bool:
    return key_of(endpoint) in FULL_ACCESS_ONLY_SERVICES


def test_full_access_only_services_get_no_policy_and_every_other_endpoint_does(sample_endpoints):
    endpoints, _ = sample_endpoints
    without = [(s, e.name) for s, e in endpoints if e.inputs.get("policy") is None]
    expected = [(s, e.name) for s, e in endpoints if e.inputs["vpcEndpointType"] == "Interface" and _full_access_only(e)]
    assert expected and without == expected


def test_central_endpoints_follow_the_same_policy_rules(run_platform, sample_platform):
    sample_platform["network"]["endpoints"]["mode"] = "central"
    run = run_platform("network", sample_platform)
    central = [e for e in interface_endpoints(run) if e.inputs["privateDnsEnabled"] is False]
    assert {key_of(e) for e in central} >= set(FULL_ACCESS_ONLY_SERVICES)
    for endpoint in central:
        if _full_access_only(endpoint):
            assert endpoint.inputs.get("policy") is None, endpoint.name
        else:
            policy = json.loads(endpoint.inputs["policy"])
            assert validate_document(policy) == [], endpoint.name
            assert any(resource_org(s) for s in policy["Statement"]), endpoint.name


def test_full_access_only_services_are_catalogued():
    assert set(FULL_ACCESS_ONLY_SERVICES) <= set(INTERFACE_SERVICES)
    assert interface_endpoint_policy(INTERFACE_SERVICES["lakeformation"], ORG, "eu-west-1") is None
    assert not INTERFACE_SERVICES["lakeformation"].accepts_policy and INTERFACE_SERVICES["glue"].accepts_policy


def test_the_catalogs_action_lists_are_derived_when_the_module_is_imported():
    # So that a process forked after the import (each stack of the offline preview runs in
    # one) builds its endpoint policies without loading the service data again.
    import subprocess
    import sys

    probe = ("import components.vpc_endpoints as v, policy_documents.service_authorization as sa\n"
             "sa._service.cache_clear()\n"
             "for s in v.INTERFACE_SERVICES.values(): v.interface_endpoint_policy(s, 'o-abc', 'eu-west-1')\n"
             "print(sa._service.cache_info().misses)\n")
    result = subprocess.run([sys.executable, "-c", probe], cwd=SAMPLE_DIR.parent, capture_output=True,
                            text=True, timeout=60, check=True)
    assert result.stdout.strip() == "0"
