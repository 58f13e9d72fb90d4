"""The shared-services stack (issue 13) and the projects' parts of it, which their delivery
stacks hold: who may pull and push images, read and publish packages, register and consume
models; what bad configuration is refused before any resource; that shared-services does not
grow with the number of projects."""

from __future__ import annotations

import json

import pytest

from offline_preview.engine import PreviewError
from stacks.config import ConfigError, parse_platform
from tests.conftest import load_sample_platform

REPO = "aws:ecr/repository:Repository"
REPO_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
GROUP = "aws:sagemaker/modelPackageGroup:ModelPackageGroup"
GROUP_POLICY = "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy"
CA_REPO_POLICY = "aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy"
CA_DOMAIN_POLICY = "aws:codeartifact/domainPermissions:DomainPermissions"
PARAMETER = "aws:ssm/parameter:Parameter"
PROJECTS = ("fraud-detection", "document-vision")
ENVS = ("dev", "preprod", "prod")


@pytest.fixture(scope="module")
def run(sample_runs):
    return sample_runs("shared-services")


@pytest.fixture(scope="module")
def delivery(sample_runs):
    """Each sample project's delivery stack: its repositories, group, code and parameters."""
    return {p: sample_runs(f"{p}-delivery") for p in PROJECTS}


@pytest.fixture(scope="module")
def runs(run, delivery):
    return [run, *delivery.values()]


def _of_type(runs, typ):
    return [r for stack in runs for r in stack.of_type(typ)]


@pytest.fixture(scope="module")
def org(sample_runs):
    outputs = sample_runs("organization").outputs
    return outputs["accountIds"], outputs["organizationId"]


def _list(value):
    return value if isinstance(value, list) else [value]


def _roots(statement) -> set[str]:
    return set(_list(statement["Principal"]["AWS"]))


def _root(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


def _repo_policies(runs) -> dict[str, dict]:
    return {r.inputs["repository"]: json.loads(r.inputs["policy"]) for r in _of_type(runs, REPO_POLICY)}


def test_the_image_hierarchy_from_configuration(run, delivery, org):
    ids, _ = org
    names = {r.inputs["name"] for r in run.of_type(REPO)}
    assert names == {"base/python", "base/cuda", "framework/pytorch", "framework/tensorflow", "framework/scikit-learn"}
    for project, stack in delivery.items():
        # A project's application repositories are its delivery stack's, in the shared-services account.
        assert {r.inputs["name"] for r in stack.of_type(REPO)} == {f"{project}/{i}" for i in ("training", "inference")}
        assert {r.account for r in stack.of_type(REPO)} == {ids["shared-services"]}


def test_every_repository_is_kms_encrypted_scanned_and_protected(run, runs):
    key_arns = {r.outputs["arn"] for r in run.of_type("aws:kms/key:Key")}
    for repo in _of_type(runs, REPO):
        (encryption,) = repo.inputs["encryptionConfigurations"]
        assert encryption["encryptionType"] == "KMS" and encryption["kmsKey"] in key_arns, repo.name
        assert repo.inputs["imageScanningConfiguration"]["scanOnPush"] is True
        assert repo.protect and repo.retain_on_delete and not repo.inputs.get("forceDelete")


def test_application_tags_are_immutable_and_base_images_move_only_stable_tags(runs):
    for repo in _of_type(runs, REPO):
        name = repo.inputs["name"]
        if name.split("/")[0] in ("base", "framework"):
            assert repo.inputs["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION", name
            assert {f["filter"] for f in repo.inputs["imageTagMutabilityExclusionFilters"]} == {"latest", "stable"}
        else:
            assert repo.inputs["imageTagMutability"] == "IMMUTABLE", name
            assert not repo.inputs.get("imageTagMutabilityExclusionFilters")


def test_pull_only_for_organization_workload_and_deployment_accounts(runs, org):
    ids, org_id = org
    everyone = {_root(ids[f"{p}-{e}"]) for p in PROJECTS for e in ENVS} | {_root(ids["automation"])}
    assert len(_repo_policies(runs)) == 5 + 4
    for name, policy in _repo_policies(runs).items():
        pulls = [s for s in policy["Statement"] if "ecr:BatchGetImage" in s["Action"] and s["Sid"] == "ECR2PullFromOrganizationAccounts"]
        (pull,) = pulls
        assert "*" not in _roots(pull)
        assert pull["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": org_id}}
        namespace = name.split("/")[0]
        if namespace in ("base", "framework"):
            assert _roots(pull) == everyone, name
        else:
            # A project's images: its own accounts and the deployment account, no other project's.
            own = {_root(ids[f"{namespace}-{e}"]) for e in ENVS} | {_root(ids["automation"])}
            assert _roots(pull) == own, name


def test_push_only_for_pipeline_build_roles_and_for_base_images_the_platform_team(runs, org):
    ids, org_id = org
    build = f"arn:aws:iam::{ids['automation']}:role/mrd-image-build"
    team = f"arn:aws:iam::{ids['shared-services']}:role/mrd-platform-team"
    for name, policy in _repo_policies(runs).items():
        pushers = [s for s in policy["Statement"] if "ecr:PutImage" in s["Action"]]
        (push,) = pushers
        namespace = name.split("/")[0]
        # A project's images: also its own pipeline's image build (its delivery stack's role).
        own = f"arn:aws:iam::{ids['automation']}:role/mrd-{namespace}-image-build"
        expected = {build, team} if namespace in ("base", "framework") else {build, own}
        assert set(push["Condition"]["ArnEquals"]["aws:PrincipalArn"]) == expected, name
        assert push["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": org_id}
        assert _roots(push) == {a.split(":role/")[0] + ":root" for a in expected}
        assert all(s["Effect"] == "Allow" for s in policy["Statement"]) and len(policy["Statement"]) == 2


def test_pull_through_cache_replication_and_enhanced_scanning(run):
    rules = {r.inputs["ecrRepositoryPrefix"]: r.inputs["upstreamRegistryUrl"]
             for r in run.of_type("aws:ecr/pullThroughCacheRule:PullThroughCacheRule")}
    assert rules == {"ecr-public": "public.ecr.aws", "quay": "quay.io"}
    assert run.outputs["pullThroughCachePrefixes"] == rules
    templates = run.of_type("aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate")
    cache = {t.inputs["prefix"] for t in templates if t.inputs["appliedFors"] == ["PULL_THROUGH_CACHE"]}
    assert cache == set(rules)
    for template in templates:
        assert template.inputs["encryptionConfigurations"][0]["encryptionType"] == "KMS"
        assert "aws:PrincipalOrgID" in template.inputs["repositoryPolicy"]
    (replication,) = run.of_type("aws:ecr/replicationConfiguration:ReplicationConfiguration")
    (rule,) = replication.inputs["replicationConfiguration"]["rules"]
    assert [d["region"] for d in rule["destinations"]] == ["eu-central-1"]
    # Replicated repositories are KMS-encrypted in the DR region by their own template and key.
    (dr,) = [t for t in templates if t.inputs["appliedFors"] == ["REPLICATION"]]
    assert dr.region == "eu-central-1"
    (scanning,) = run.of_type("aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration")
    assert scanning.inputs["scanType"] == "ENHANCED"


def test_codeartifact_read_for_organization_accounts_publish_only_pipeline_roles(run, org):
    ids, org_id = org
    (policy,) = [json.loads(r.inputs["policyDocument"]) for r in run.of_type(CA_REPO_POLICY)]
    publishing = [s for s in policy["Statement"] if "codeartifact:PublishPackageVersion" in s["Action"]]
    (publish,) = publishing
    assert publish["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [f"arn:aws:iam::{ids['automation']}:role/mrd-image-build"]
    (read,) = [s for s in policy["Statement"] if s is not publish]
    assert read["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": org_id}}
    assert "*" not in _roots(read)
    (domain,) = [json.loads(r.inputs["policyDocument"]) for r in run.of_type(CA_DOMAIN_POLICY)]
    assert all(s["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == org_id for s in domain["Statement"])
    upstream = run.named("packages-pypi-store", "aws:codeartifact/repository:Repository")
    assert upstream.inputs["externalConnections"]["externalConnectionName"] == "public:pypi"
    internal = run.named("packages-internal", "aws:codeartifact/repository:Repository")
    assert internal.inputs["upstreams"] == [{"repositoryName": "pypi-store"}]
    assert run.outputs["codeArtifact"]["pipIndexUrl"] == (
        f"https://mrd-{ids['shared-services']}.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/simple/")


def _group_policies(runs) -> dict[str, dict]:
    return {r.inputs["modelPackageGroupName"]: json.loads(r.inputs["resourcePolicy"])
            for r in _of_type(runs, GROUP_POLICY)}


def test_model_registration_only_from_the_projects_preprod_automation(runs, run, org):
    ids, org_id = org
    assert not run.of_type(GROUP)  # the groups are the delivery stacks'
    assert {g.account for g in _of_type(runs, GROUP)} == {ids["shared-services"]}
    policies = _group_policies(runs)
    assert set(policies) == {f"mrd-{p}" for p in PROJECTS}
    for project in PROJECTS:
        policy = policies[f"mrd-{project}"]
        registering = [s for s in policy["Statement"] if "sagemaker:CreateModelPackage" in _list(s["Action"])]
        (register,) = registering
        assert _roots(register) == {_root(ids[f"{project}-preprod"])}
        # The project's pre-production automation, and its pipeline's registration stack (created
        # by pre-production's CloudFormation execution role).
        assert register["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
            f"arn:aws:iam::{ids[f'{project}-preprod']}:role/mrd-{project}-preprod-sm-execution",
            f"arn:aws:iam::{ids[f'{project}-preprod']}:role/mrd-{project}-cfn-training"]
        # A registration cannot approve itself.
        assert register["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": org_id,
                                                         "sagemaker:ModelApprovalStatus": "PendingManualApproval"}


def test_model_consumption_only_from_the_projects_prod_account(runs, org):
    ids, _ = org
    for project in PROJECTS:
        policy = _group_policies(runs)[f"mrd-{project}"]
        principals = {}
        for statement in policy["Statement"]:
            for action in _list(statement["Action"]):
                principals.setdefault(action, set()).update(statement["Condition"]["ArnEquals"]["aws:PrincipalArn"])
        prod = f"arn:aws:iam::{ids[f'{project}-prod']}:role/mrd-{project}-prod-sm-execution"
        preprod = f"arn:aws:iam::{ids[f'{project}-preprod']}:role/mrd-{project}-preprod-sm-execution"
        registration = f"arn:aws:iam::{ids[f'{project}-preprod']}:role/mrd-{project}-cfn-training"
        # The deployment pipeline (A2): its resolver finds the approved version, prod's
        # CloudFormation execution role creates the model from it (tests/test_delivery_approved_model.py).
        deployment = {f"arn:aws:iam::{ids['automation']}:role/mrd-{project}-approved-model",
                      f"arn:aws:iam::{ids[f'{project}-prod']}:role/mrd-{project}-cfn-endpoint"}
        assert principals == {"sagemaker:CreateModelPackage": {preprod, registration},
                              "sagemaker:DescribeModelPackageGroup": {preprod, registration, prod, *deployment},
                              "sagemaker:DescribeModelPackage": {prod, *deployment},
                              "sagemaker:ListModelPackages": {prod, *deployment}}


def test_distributed_registry_lives_in_each_preprod_account(run_platform, sample_platform, org):
    ids, _ = org
    sample_platform["shared_services"]["model_registry"]["mode"] = "distributed"
    results = [run_platform(f"{p}-delivery", platform=sample_platform) for p in PROJECTS]
    groups = _of_type(results, GROUP)
    assert {g.account for g in groups} == {ids[f"{p}-preprod"] for p in PROJECTS}
    for name, policy in _group_policies(results).items():
        project = name.removeprefix("mrd-")
        # No registration statement: the group's own account registers through identity policies.
        # Consumers only: prod, and the automation account's approved-version resolver (A2).
        assert {r for s in policy["Statement"] for r in _roots(s)} == {_root(ids[f"{project}-prod"]),
                                                                       _root(ids["automation"])}
    assert {r.outputs["modelPackageGroup"]["mode"] for r in results} == {"distributed"}
    assert run_platform("shared-services", platform=sample_platform).outputs["modelRegistryMode"] == "distributed"


def test_parameters_are_secure_strings_under_the_path(run, runs):
    key_arns = {r.outputs["arn"] for r in run.of_type("aws:kms/key:Key")}
    parameters = {r.inputs["name"]: r for r in _of_type(runs, PARAMETER)}
    assert {"/mrd/shared-services/ecr/registry-uri", "/mrd/shared-services/codeartifact/pip-index-url"} <= {
        r.inputs["name"] for r in run.of_type(PARAMETER)}
    assert {f"/mrd/shared-services/projects/{p}/{n}" for p in PROJECTS
            for n in ("model-package-group-arn", "ecr-namespace")} <= set(parameters)
    for parameter in parameters.values():
        assert parameter.inputs["type"] == "SecureString" and parameter.inputs["keyId"] in key_arns
        assert parameter.inputs["tier"] == "Advanced"
    # Every parameter, the delivery stacks' too, is in the one share with the workload OUs.
    (share,) = run.of_type("aws:ram/resourceShare:ResourceShare")
    shared = _of_type(runs, "aws:ram/resourceAssociation:ResourceAssociation")
    assert {a.inputs["resourceArn"] for a in shared} == {p.outputs["arn"] for p in parameters.values()}
    assert {a.inputs["resourceShareArn"] for a in shared} == {share.outputs["arn"]}


def test_the_shared_services_stack_passes_its_guardrails(run):
    assert not run.errors


@pytest.mark.parametrize("path, value, fragment", [
    (("ecr", "project_namespaces"), {"fraud-detection": "Fraud/Det"},
     "shared_services.ecr.project_namespaces.fraud-detection: namespace 'Fraud/Det' is not a valid ECR name"),
    (("code_repositories", "provider"), "SourceForge",
     "shared_services.code_repositories.provider: unknown Git provider 'SourceForge'"),
    (("ecr", "pull_through_cache"), [{"prefix": "hub", "upstream": "registry.example.com"}],
     "shared_services.ecr.pull_through_cache[0].upstream: 'registry.example.com' is not an upstream"),
    (("ecr", "pull_through_cache"), [{"prefix": "hub", "upstream": "registry-1.docker.io"}],
     "shared_services.ecr.pull_through_cache[0].credential_arn: 'registry-1.docker.io' needs credentials"),
    (("ecr", "replication_region"), "us-east-1", "shared_services.ecr.replication_region: 'us-east-1' is not in allowed_regions"),
])
def test_bad_input_is_rejected_naming_the_key(sample_platform, path, value, fragment):
    section = sample_platform["shared_services"]
    for part in path[:-1]:
        section = section[part]
    section[path[-1]] = value
    with pytest.raises(ConfigError) as info:
        parse_platform(sample_platform)
    assert fragment in str(info.value)


def test_bad_input_registers_nothing(run_platform, sample_platform):
    sample_platform["shared_services"]["code_repositories"]["provider"] = "SourceForge"
    with pytest.raises(PreviewError) as info:
        run_platform("shared-services", platform=sample_platform)
    assert "unknown Git provider 'SourceForge'" in str(info.value)
    assert info.value.registered == []


def test_a_pipeline_role_nobody_creates_or_declares_is_refused(run_platform, sample_platform):
    sample_platform["shared_services"]["pipeline_build_roles"] = ["mrd-unknown-builder"]
    with pytest.raises(PreviewError) as info:
        run_platform("shared-services", platform=sample_platform)
    assert "names role 'mrd-unknown-builder' in account automation" in str(info.value)
    assert info.value.registered == []


def test_a_connection_per_project_to_the_configured_git_provider(runs, delivery):
    connections = {c.inputs["name"]: c for c in _of_type(runs, "aws:codeconnections/connection:Connection")}
    assert set(connections) == {f"mrd-{p}" for p in PROJECTS}
    assert {c.inputs["providerType"] for c in connections.values()} == {"GitHub"}
    for project, stack in delivery.items():
        (connection,) = stack.of_type("aws:codeconnections/connection:Connection")
        assert stack.outputs["codeConnectionArn"] == connection.outputs["arn"]
        assert stack.outputs["codeCommitRepositories"] == {}
    assert not _of_type(runs, "aws:codecommit/repository:Repository")


def test_codecommit_repositories_with_the_approval_rule_template(run_platform, sample_platform):
    sample_platform["shared_services"]["code_repositories"] = {
        "provider": "CodeCommit", "repositories": ["ml-code"], "approval_rule_template": "mrd-two-approvals"}
    # The pipelines read code through CodeConnections only: no pipelines with CodeCommit.
    sample_platform["delivery"]["projects"] = {}
    result = run_platform("shared-services", platform=sample_platform)
    projects = [run_platform(f"{p}-delivery", platform=sample_platform) for p in PROJECTS]
    assert result.outputs["approvalRuleTemplateName"] == "mrd-two-approvals"
    assert not result.of_type("aws:codecommit/repository:Repository")
    repositories = {r.inputs["repositoryName"]: r for r in _of_type(projects, "aws:codecommit/repository:Repository")}
    assert set(repositories) == {f"{p}-ml-code" for p in PROJECTS}
    assert all(r.protect and r.inputs["kmsKeyId"] for r in repositories.values())
    (template,) = result.of_type("aws:codecommit/approvalRuleTemplate:ApprovalRuleTemplate")
    assert template.inputs["name"] == "mrd-two-approvals"
    assert json.loads(template.inputs["content"])["Statements"][0]["NumberOfApprovalsNeeded"] == 2
    associations = _of_type(projects, "aws:codecommit/approvalRuleTemplateAssociation:ApprovalRuleTemplateAssociation")
    assert {a.inputs["repositoryName"] for a in associations} == set(repositories)
    assert {a.inputs["approvalRuleTemplateName"] for a in associations} == {template.inputs["name"]}
    assert not _of_type([result, *projects], "aws:codeconnections/connection:Connection")


def test_approval_rule_templates_are_codecommit_only():
    data = load_sample_platform()
    data["shared_services"]["code_repositories"]["approval_rule_template"] = "mrd-two-approvals"
    with pytest.raises(ConfigError, match=r"code_repositories.approval_rule_template: approval rule templates are CodeCommit's"):
        parse_platform(data)


def test_the_studio_product_ships_its_template_and_passes_cfn_lint(run):
    from cfnlint.api import ManualArgs, lint

    from stacks.shared_services_settings import STUDIO_PRODUCT_TEMPLATE

    (template,) = run.of_type("aws:s3/bucketObject:BucketObject")
    assert template.inputs["content"] == STUDIO_PRODUCT_TEMPLATE.read_text()
    assert template.inputs["serverSideEncryption"] == "aws:kms"
    assert [str(m) for m in lint(template.inputs["content"], config=ManualArgs(regions=["eu-west-1", "eu-central-1"]))] == []
    (product,) = run.of_type("aws:servicecatalog/product:Product")
    artifact = product.inputs["provisioningArtifactParameters"]
    assert artifact["templateUrl"].endswith("/" + template.inputs["key"])
    assert artifact["templateUrl"].startswith(f"https://{template.inputs['bucket']}.s3.eu-west-1.amazonaws.com/")


def test_cfn_lint_finds_a_broken_studio_template():
    from cfnlint.api import ManualArgs, lint

    from stacks.shared_services_settings import STUDIO_PRODUCT_TEMPLATE

    broken = STUDIO_PRODUCT_TEMPLATE.read_text().replace("ExecutionRole: !Ref", "ExecutionRoles: !Ref")
    assert lint(broken, config=ManualArgs(regions=["eu-west-1"]))


def test_portfolio_launch_constraint_tag_options_and_share(run, runs, delivery, sample_runs):
    (constraint,) = run.of_type("aws:servicecatalog/constraint:Constraint")
    assert constraint.inputs["type"] == "LAUNCH"
    assert json.loads(constraint.inputs["parameters"]) == {"LocalRoleName": "mrd-studio-launch"}
    options = {(o.inputs["key"], o.inputs["value"]) for o in _of_type(runs, "aws:servicecatalog/tagOption:TagOption")}
    mandatory = {"owner", "project", "environment", "cost-center", "data-classification"}
    assert {k for k, _ in options} == mandatory
    assert {("project", p) for p in PROJECTS} | {("environment", e) for e in ENVS} <= options
    # The project's values are its delivery stack's, associated with the shared portfolio.
    for project, stack in delivery.items():
        spec = next(p for p in load_sample_platform()["projects"] if p["name"] == project)
        assert {(o.inputs["key"], o.inputs["value"]) for o in stack.of_type("aws:servicecatalog/tagOption:TagOption")
                } == {("project", project), ("owner", spec["owner"]), ("cost-center", spec["cost_center"])}
    (portfolio,) = run.of_type("aws:servicecatalog/portfolio:Portfolio")
    associations = _of_type(runs, "aws:servicecatalog/tagOptionResourceAssociation:TagOptionResourceAssociation")
    assert len(associations) == len(options)
    assert {a.inputs["resourceId"] for a in associations} == {portfolio.id}
    (share,) = run.of_type("aws:servicecatalog/portfolioShare:PortfolioShare")
    workloads = sample_runs("organization").outputs["ouIds"]["Workloads"]
    assert share.inputs["type"] == "ORGANIZATIONAL_UNIT" and share.inputs["principalId"].endswith(f"/{workloads}")
    assert share.inputs["shareTagOptions"] is True


def test_every_bucket_of_the_layer_is_named_by_the_rule_and_secure(run):
    buckets = {b.inputs["bucket"] for b in run.of_type("aws:s3/bucket:Bucket")}
    assert buckets == {"mrd-shared-services-templates-111111111111", "mrd-shared-services-access-logs-111111111111"}
    parents = {r.urn for r in run.resources if r.type.endswith(":SecureBucket")}
    assert len(parents) == 2


def test_registry_consumers_read_exactly_the_registered_artifacts(delivery, sample_runs, org):
    ids, _ = org
    for project in PROJECTS:
        prefix = delivery[project].outputs["modelPackageGroup"]["artifactPrefix"]
        assert prefix == f"registry/mrd-{project}/"
        preprod = sample_runs(f"{project}-preprod")
        bucket = f"mrd-{project}-preprod-models-111111111111"
        (policy,) = [json.loads(p.inputs["policy"]) for p in preprod.of_type("aws:s3/bucketPolicy:BucketPolicy")
                     if p.inputs["bucket"] == bucket]
        prod_role = f"arn:aws:iam::{ids[f'{project}-prod']}:role/mrd-{project}-prod-sm-execution"
        reads = [s for s in policy["Statement"] if s["Effect"] == "Allow"
                 and prod_role in str(s.get("Condition", {}).get("ArnLike", {}).get("aws:PrincipalArn"))]
        assert {s["Sid"] for s in reads} == {"ProdPromotion", "ProdPromotionList"}
        (objects,) = [s for s in reads if s["Sid"] == "ProdPromotion"]
        assert objects["Resource"] == f"arn:aws:s3:::{bucket}/{prefix}*"
        assert not any(a.startswith(("s3:Put", "s3:Delete")) for a in objects["Action"])
        (listing,) = [s for s in reads if s["Sid"] == "ProdPromotionList"]
        assert listing["Condition"]["StringLike"] == {"s3:prefix": [f"{prefix}*"]}


def test_the_ecr_guardrails_see_every_repository_and_its_policy_and_pass(run, delivery):
    import dataclasses

    from offline_preview.analysis import analyzed_resources
    from offline_preview.policy_analyzer import load_policy_config, shared_analyzer
    from offline_preview.preview import DEFAULT_POLICY_CONFIG_NAME, DEFAULT_POLICY_PACK

    analyzer = shared_analyzer(DEFAULT_POLICY_PACK, load_policy_config(DEFAULT_POLICY_PACK / DEFAULT_POLICY_CONFIG_NAME))
    registry = "aws:ecr/registryPolicy:RegistryPolicy"
    ecr = ("ecr-1-repository-scan-kms", "ecr-1-immutable-image-tags", "ecr-2-cross-account-pull-org-only")
    resources = []
    for name, stack in [("shared-services", run), *((f"{p}-delivery", r) for p, r in delivery.items())]:
        analyzer.configure_stack(name, project="ml-platform")
        found = [r for r in analyzed_resources(stack) if r.type in (REPO, REPO_POLICY, registry)]
        assert len(found) == 2 * len(stack.of_type(REPO)) + (stack is run)
        assert [d.message for d in analyzer.analyze_each(found) if d.policy_name in ecr] == []
        resources += found
    # The same resources, widened: the guardrails look at them.
    policy = next(r for r in resources if r.type == REPO_POLICY)
    document = json.loads(policy.properties["policy"])
    document["Statement"][0]["Principal"] = {"AWS": "*"}
    document["Statement"][0].pop("Condition")
    widened = dataclasses.replace(policy, properties={**policy.properties, "policy": json.dumps(document)})
    assert "ecr-2-cross-account-pull-org-only" in {d.policy_name for d in analyzer.analyze(widened)}
    repo = next(r for r in resources if r.type == REPO and r.properties["imageTagMutability"] == "IMMUTABLE")
    mutable = dataclasses.replace(repo, properties={**repo.properties, "imageTagMutability": "MUTABLE",
                                                    "encryptionConfigurations": [{"encryptionType": "AES256"}]})
    assert {"ecr-1-repository-scan-kms", "ecr-1-immutable-image-tags"} <= {d.policy_name for d in analyzer.analyze(mutable)}


def test_the_parameters_key_lets_only_the_readers_decrypt_through_ssm(run, org):
    ids, org_id = org
    (key,) = [k for k in run.of_type("aws:kms/key:Key") if k.region == "eu-west-1"]
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    readers = statements["ParameterReaders"]
    assert readers["Action"] == ["kms:Decrypt", "kms:DescribeKey"]
    assert readers["Condition"]["StringEquals"] == {"kms:ViaService": ["ssm.eu-west-1.amazonaws.com"],
                                                    "aws:PrincipalOrgID": org_id}
    expected = {f"arn:aws:iam::{ids['automation']}:role/mrd-image-build"}
    for project in PROJECTS:
        expected |= {f"arn:aws:iam::{ids[f'{project}-dev']}:role/mrd-{project}-dev-{r}"
                     for r in ("data-scientist", "ml-engineer", "sm-execution")}
        expected |= {f"arn:aws:iam::{ids[f'{project}-{e}']}:role/mrd-{project}-{e}-sm-execution" for e in ("preprod", "prod")}
    assert set(readers["Condition"]["ArnLike"]["aws:PrincipalArn"]) == expected


def test_without_cache_or_replication_no_creation_role_is_created_or_named(run_platform, sample_platform):
    sample_platform["shared_services"]["ecr"]["pull_through_cache"] = []
    sample_platform["shared_services"]["ecr"].pop("replication_region")
    result = run_platform("shared-services", platform=sample_platform)
    # Only the Service Catalog launch role (tests/test_workspace_launch_role.py) is left.
    assert [r.inputs["name"] for r in result.of_type("aws:iam/role:Role")] == ["mrd-studio-launch"]
    assert not result.of_type("aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate")
    (key,) = result.of_type("aws:kms/key:Key")
    assert "ecr-repository-creation" not in key.inputs["policy"]


def test_creation_templates_assume_the_created_role(run):
    (role,) = [r for r in run.of_type("aws:iam/role:Role") if r.inputs["name"] != "mrd-studio-launch"]
    assert role.inputs["name"] == "mrd-ecr-repository-creation"
    for template in run.of_type("aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"):
        assert template.inputs["customRoleArn"] == role.outputs["arn"] and role.urn in template.dependencies


def test_organization_accounts_may_fill_only_the_pull_through_caches(run, org):
    ids, org_id = org
    (registry,) = run.of_type("aws:ecr/registryPolicy:RegistryPolicy")
    create, importing = json.loads(registry.inputs["policy"])["Statement"]
    assert create["Action"] == "ecr:CreateRepository"
    assert create["Resource"] == [f"arn:aws:ecr:eu-west-1:{ids['shared-services']}:repository/{p}/*"
                                  for p in ("ecr-public", "quay")]
    assert importing["Action"] == "ecr:BatchImportUpstreamImage"
    accounts = {_root(ids[f"{p}-{e}"]) for p in PROJECTS for e in ENVS} | {_root(ids["automation"])}
    for statement in (create, importing):
        assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": org_id}}
        assert _roots(statement) == accounts


def test_a_tag_option_value_two_projects_share_is_created_once(sample_platform):
    from stacks.shared_services_settings import project_tag_options

    sample_platform["projects"][1]["owner"] = sample_platform["projects"][0]["owner"]
    platform = parse_platform(sample_platform)
    first, second = (p["name"] for p in sample_platform["projects"][:2])
    assert ("owner", sample_platform["projects"][0]["owner"]) in project_tag_options(platform, first)
    assert [t for t, _ in project_tag_options(platform, second)] == ["project", "cost-center"]


def _shared_services_with(projects: int, tmp_path, sample_runs):
    """The shared-services stack on the sample platform with `projects` ML projects (the
    benchmark's generator), upstream outputs from the sample with the new accounts' ids."""
    import copy
    import shutil

    import yaml

    from benchmarks.preview_scale import generate_platform
    from offline_preview.engine import run_stack
    from tests.conftest import SAMPLE_DIR

    platform = generate_platform(load_sample_platform(), projects)
    config_dir = tmp_path / f"p{projects}"
    shutil.copytree(SAMPLE_DIR, config_dir, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (config_dir / "platform.yaml").write_text(yaml.safe_dump(platform, sort_keys=False))
    organization = copy.deepcopy(sample_runs("organization").outputs)
    for i, project in enumerate(platform["projects"]):
        for j, env in enumerate(project["environments"]):
            organization["accountIds"].setdefault(f"{project['name']}-{env}", f"9{i:08d}{j:03d}")
    return run_stack("shared-services", config_dir, {"organization": organization,
                                                     "identity": sample_runs("identity").outputs,
                                                     "network": sample_runs("network").outputs})


def test_shared_services_is_the_same_size_for_1_2_and_50_projects(tmp_path, sample_runs):
    sizes = {}
    for projects in (1, 2, 50):
        result = _shared_services_with(projects, tmp_path, sample_runs)
        assert not result.errors
        sizes[projects] = sorted(r.type for r in result.resources)
    assert sizes[1] == sizes[2] == sizes[50]
    assert len(sizes[2]) == len(sample_runs("shared-services").resources)
