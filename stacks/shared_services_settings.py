"""Settings of the shared-services layer (`shared_services:` in the platform definition).

The shared-services account holds what every ML project uses and nobody owns alone
(whitepaper "Artifacts repository", "Container repository management", "Model inventory
management", "Enabling self-service"):

- the **image hierarchy** in ECR: `base/<name>` and `framework/<name>` (the platform team's)
  and one namespace per ML project (`<namespace>/<name>`, the namespace defaulting to the
  project's name) for application images;
- **CodeArtifact**: a domain, an internal repository for private packages and an upstream
  repository connected to public PyPI;
- **code repositories** per project (a CodeConnections connection, or CodeCommit);
- the **model registry**: one SageMaker model package group per project, central (in this
  account, the default) or distributed (in each project's pre-production account);
- the **Service Catalog** portfolio of the Studio user-profile product;
- **SSM parameters** describing all of the above.

Who may do what is a pure function of this section and the projects: pull from the
organization's workload (project) and deployment (automation) accounts, push and publish only
for the pipeline build roles, registration only by a project's pre-production automation,
consumption only by its production account.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from stacks import data_settings as ds
from stacks import identity_settings as ids
from stacks import workspace_settings as ws
from stacks.config_model import DATA_CLASSIFICATIONS, ENVIRONMENTS, ConfigModel

if TYPE_CHECKING:
    from stacks.config import PlatformConfig

ACCOUNT = "shared-services"
PIPELINE_ACCOUNT = "automation"
BASE, FRAMEWORK = "base", "framework"
# ECR's repository name rule (botocore ecr RepositoryName); a namespace is one path segment of it.
_ECR_SEGMENT = re.compile(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$")
ECR_REPOSITORY_NAME_MAX = 256
# Pull-through cache upstreams ECR supports (UpstreamRegistry in the ECR API), by registry URL,
# and whether the upstream needs credentials (a Secrets Manager secret `ecr-pullthroughcache/...`).
PULL_THROUGH_UPSTREAMS: dict[str, bool] = {
    "public.ecr.aws": False,
    "registry.k8s.io": False,
    "quay.io": False,
    "registry-1.docker.io": True,
    "ghcr.io": True,
    "registry.gitlab.com": True,
    "cgr.dev": True,
}
_AZURE_REGISTRY = re.compile(r"^[a-z0-9]{5,50}\.azurecr\.io$")  # Azure Container Registry, credentials needed
_PTC_PREFIX = re.compile(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$")
_PTC_SECRET = re.compile(r"^arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:ecr-pullthroughcache/[\w/+=.@-]+$")
# External Git providers of AWS CodeConnections (ProviderType in the CodeConnections API);
# the self-managed ones connect through a host (`host_arn`).
GIT_PROVIDERS = ("GitHub", "GitLab", "Bitbucket", "GitHubEnterpriseServer", "GitLabSelfManaged")
SELF_MANAGED_PROVIDERS = ("GitHubEnterpriseServer", "GitLabSelfManaged")
_HOST_ARN = re.compile(r"^arn:aws:code(connections|star-connections):[a-z0-9-]+:\d{12}:host/[\w.-]+$")
CONNECTION_NAME_MAX = 32
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_CODEARTIFACT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,48}[a-z0-9]$")
_CODEARTIFACT_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,99}$")
_MODEL_GROUP = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_SSM_PATH = re.compile(r"^(/[a-zA-Z0-9_.-]+)+$")
# The Service Catalog product's CloudFormation template, shipped in the repository.
STUDIO_PRODUCT_TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "studio-user-profile.yaml"
# CodeArtifact's external connection to the Python Package Index.
PYPI_CONNECTION = "public:pypi"


class NamedRole(ConfigModel):
    """A role by account key (`automation`, `shared-services`, ...) and name."""

    account: str
    name: str


class PullThroughCache(ConfigModel):
    """A pull-through cache rule: `<prefix>/<upstream path>` in this registry mirrors `upstream`."""

    prefix: str
    upstream: str
    # Secrets Manager secret (name `ecr-pullthroughcache/...`) for upstreams that need credentials.
    credential_arn: str | None = None


class EcrSettings(ConfigModel):
    """The image hierarchy: base and framework images (platform team), and per project the
    application repositories under the project's namespace."""

    base_images: list[str] = ["python", "cuda"]
    framework_images: list[str] = ["pytorch", "tensorflow", "scikit-learn"]
    application_images: list[str] = ["training", "inference"]
    # Project name -> namespace, where the project's name should not be its namespace.
    project_namespaces: dict[str, str] = {}
    # Tags base and framework images may move to each new build (wildcards; application
    # repositories keep every tag immutable).
    stable_tags: list[str] = ["latest", "stable"]
    keep_tagged_images: int = Field(default=50, ge=1, le=10000)
    untagged_expire_days: int = Field(default=14, ge=1, le=3650)
    # ENHANCED: Amazon Inspector scans continuously (registry scanning configuration); BASIC
    # keeps scan on push per repository.
    scanning: Literal["BASIC", "ENHANCED"] = "BASIC"
    pull_through_cache: list[PullThroughCache] = []
    # Region images are replicated to (disaster recovery); must be an allowed region.
    replication_region: str | None = None


class CodeArtifactSettings(ConfigModel):
    domain: str | None = None  # default <name_prefix>
    repository: str = "internal"
    upstream_repository: str = "pypi-store"


class CodeRepositorySettings(ConfigModel):
    """Where each project's code lives: an external Git provider through a CodeConnections
    connection (the default), or CodeCommit repositories (`provider: CodeCommit`; AWS closed
    CodeCommit to new customers in 2024, so only an account that already uses it can)."""

    provider: str = "GitHub"
    host_arn: str | None = None  # for GitHubEnterpriseServer / GitLabSelfManaged
    repositories: list[str] = ["ml-code"]  # per project: <project>-<name>
    # CodeCommit only: the approval rule template associated with every project repository.
    approval_rule_template: str | None = None
    required_approvals: int = Field(default=2, ge=1, le=10)


class ModelRegistrySettings(ConfigModel):
    """central: one model package group per project in this account (the whitepaper's central
    model management); distributed: the group lives in each project's pre-production account."""

    mode: Literal["central", "distributed"] = "central"
    # Where the pipelines write the artifacts of registered versions, in the project's
    # pre-production models bucket; the production account reads exactly this prefix.
    artifact_prefix: str = Field(default="registry/", pattern=r"^[a-z0-9][a-z0-9-]*/$")


class ServiceCatalogSettings(ConfigModel):
    enabled: bool = True
    # The launch constraint's role: each account with a Studio domain has it (its project stack
    # creates it, stacks/project_workspace.py) and so does this account (AWS checks the name here).
    launch_role_name: str | None = None  # default <name_prefix>-studio-launch
    share_ou: str = "Workloads"


class SharedServicesSettings(ConfigModel):
    """The `shared_services:` section."""

    ecr: EcrSettings = EcrSettings()
    # Roles of the delivery pipelines (automation account) that build images and publish
    # packages: the only pushers and publishers. Named here until the delivery layer creates them.
    pipeline_build_roles: list[str] = []
    # May also push base and framework images (e.g. an Identity Center role of the platform team).
    platform_team_role: NamedRole | None = None
    codeartifact: CodeArtifactSettings = CodeArtifactSettings()
    code_repositories: CodeRepositorySettings = CodeRepositorySettings()
    model_registry: ModelRegistrySettings = ModelRegistrySettings()
    service_catalog: ServiceCatalogSettings = ServiceCatalogSettings()
    parameter_path: str | None = None  # default /<name_prefix>/shared-services


# -- derived names and principals (pure functions of the configuration) ----------------------

def namespace(platform: "PlatformConfig", project: str) -> str:
    return platform.shared_services.ecr.project_namespaces.get(project, project)


def repositories(platform: "PlatformConfig") -> list[tuple[str, str | None]]:
    """(repository name, owning project or None for the platform team's) of every repository."""
    found: list[tuple[str, str | None]] = [(name, None) for name in platform_repositories(platform)]
    for project in platform.projects:
        found += [(name, project.name) for name in project_repositories(platform, project.name)]
    return found


def platform_repositories(platform: "PlatformConfig") -> list[str]:
    """The platform team's repositories (base and framework): the shared-services stack's."""
    ecr = platform.shared_services.ecr
    return [*(f"{BASE}/{n}" for n in ecr.base_images), *(f"{FRAMEWORK}/{n}" for n in ecr.framework_images)]


def project_repositories(platform: "PlatformConfig", project: str) -> list[str]:
    """A project's application repositories under its namespace: its delivery stack's."""
    return [f"{namespace(platform, project)}/{n}" for n in platform.shared_services.ecr.application_images]


def pull_accounts(platform: "PlatformConfig", project: str | None) -> list[str]:
    """Account keys that may pull: a project's repositories its own accounts and the deployment
    account; base and framework images every project account and the deployment account."""
    projects = [p for p in platform.projects if project is None or p.name == project]
    return [*(f"{p.name}-{env}" for p in projects for env in p.environments), PIPELINE_ACCOUNT]


def codeartifact_domain(platform: "PlatformConfig") -> str:
    return platform.shared_services.codeartifact.domain or platform.name_prefix


def model_package_group(platform: "PlatformConfig", project: str) -> str:
    return f"{platform.name_prefix}-{project}"


def artifact_prefix(platform: "PlatformConfig", project: str) -> str:
    """Where a project's registered versions keep their artifacts in its preprod models bucket."""
    return f"{platform.shared_services.model_registry.artifact_prefix}{model_package_group(platform, project)}/"


def registration_roles(platform: "PlatformConfig", project: str) -> list[str]:
    """The project's pre-production automation: the roles that register model versions."""
    return [ds.project_role_name(platform, project, "preprod", r) for r in platform.data_lake.project_buckets.automation_roles]


def consumer_roles(platform: "PlatformConfig", project: str) -> list[str]:
    """The project's production automation: the roles that describe approved versions and
    create models from them."""
    return [ds.project_role_name(platform, project, "prod", r) for r in platform.data_lake.project_buckets.automation_roles]


def registry_projects(platform: "PlatformConfig") -> list[str]:
    """Projects with a model package group: those with a pre-production environment."""
    return [p.name for p in platform.projects if "preprod" in p.environments]


def creation_role_name(platform: "PlatformConfig") -> str:
    """The role ECR assumes to create repositories from the creation templates."""
    return f"{platform.name_prefix}-ecr-repository-creation"


def creates_creation_role(platform: "PlatformConfig") -> bool:
    """Whether ECR creates repositories itself (pull-through cache, replication)."""
    ecr = platform.shared_services.ecr
    return bool(ecr.pull_through_cache) or ecr.replication_region is not None


def parameter_readers(platform: "PlatformConfig") -> dict[str, list[str]]:
    """Account key -> roles that read the SSM parameters (decrypt with the shared-services key):
    the projects' team roles in dev, their automation elsewhere, and the pipeline build roles."""
    pb = platform.data_lake.project_buckets
    found: dict[str, list[str]] = {}
    for project in platform.projects:
        for env in project.environments:
            names = ds.roles_in_environment(env, pb.team_roles if env == "dev" else pb.automation_roles)
            roles = [ds.project_role_name(platform, project.name, env, r) for r in dict.fromkeys(names)]
            if roles:
                found[f"{project.name}-{env}"] = roles
    if platform.shared_services.pipeline_build_roles:
        found[PIPELINE_ACCOUNT] = list(platform.shared_services.pipeline_build_roles)
    return found


def launch_role_name(platform: "PlatformConfig") -> str:
    return platform.shared_services.service_catalog.launch_role_name or f"{platform.name_prefix}-studio-launch"


def launch_accounts(platform: "PlatformConfig") -> list[str]:
    """The accounts that launch the Studio user-profile product: those with a Studio domain
    (each has the launch role, made by its project stack); none without the portfolio."""
    if not platform.shared_services.service_catalog.enabled:
        return []
    return [f"{p.name}-{env}" for p in platform.projects for env in p.environments if ws.has_studio(platform, env)]


# Where data scientists launch the product themselves: their Studio environment (elsewhere they
# only read, stacks/project_workspace.py persona_statements).
SELF_SERVICE_ENVIRONMENT = "dev"
SELF_SERVICE_PERSONA = "data-scientist"


def self_service_accounts(platform: "PlatformConfig") -> list[str]:
    """The launch accounts where the data scientists launch the product: the portfolio's
    principals are associated there and their persona policy may provision it."""
    return [f"{p.name}-{env}" for p in platform.projects for env in p.environments
            if env == SELF_SERVICE_ENVIRONMENT and f"{p.name}-{env}" in launch_accounts(platform)]


def self_service_principals(platform: "PlatformConfig") -> list[str]:
    """The principal ARN patterns (`IAM_PATTERN`, no account: the association is the account's
    own) of the data scientists' sessions: the permission set's Identity Center role or the
    SAML persona role (identity_settings.persona_session_roles). A pattern admits any role that
    matches it; nobody can create a role under the reserved `aws-reserved/sso.amazonaws.com/`
    path, and the SAML role's name is the platform's (people hold no iam:CreateRole).
    Wildcards are allowed in the path and name of an IAM_PATTERN (AssociatePrincipalWithPortfolio)."""
    return [f"arn:aws:iam:::role/{name}" for name in ids.persona_session_roles(platform, SELF_SERVICE_PERSONA)]


def bucket_prefix(platform: "PlatformConfig") -> str:
    return f"{platform.name_prefix}-{ACCOUNT}-"


def template_bucket_name(platform: "PlatformConfig") -> str:
    """The Service Catalog templates bucket (`PlatformConfig.bucket_name` is the rule)."""
    return platform.bucket_name(ACCOUNT, "templates")


def access_log_bucket_name(platform: "PlatformConfig") -> str:
    return platform.bucket_name(ACCOUNT, "access-logs")


def bucket_names(platform: "PlatformConfig") -> list[str]:
    """Every bucket this layer creates (none without the Service Catalog portfolio)."""
    if not platform.shared_services.service_catalog.enabled:
        return []
    return [template_bucket_name(platform), access_log_bucket_name(platform)]


def data_bucket_names(platform: "PlatformConfig") -> list[str]:
    """The layer's buckets that are not access-log targets (the trail logs their object events)."""
    return [template_bucket_name(platform)] if platform.shared_services.service_catalog.enabled else []


# Mandatory tags whose values belong to a project: their tag options are its delivery stack's.
PROJECT_TAGS = ("project", "owner", "cost-center")


def tag_options(platform: "PlatformConfig") -> list[tuple[str, str]]:
    """(tag, value) of the portfolio's platform-wide tag options: every environment and data
    classification, and the default of any other mandatory tag; the same for any number of
    projects (each project's values are `project_tag_options`)."""
    values: dict[str, tuple[str, ...]] = {"environment": ENVIRONMENTS, "data-classification": DATA_CLASSIFICATIONS}
    found: list[tuple[str, str]] = []
    for tag in (t for t in platform.mandatory_tags if t not in PROJECT_TAGS):
        for value in values.get(tag, (platform.default_tags[tag],) if tag in platform.default_tags else ()):
            found.append((tag, value))
    return found


def project_tag_options(platform: "PlatformConfig", project: str) -> list[tuple[str, str]]:
    """(tag, value) of the tag options a project's delivery stack adds to the portfolio: its
    name, owner and cost center, each value only from the first project that carries it (a tag
    option's key and value are unique in the account)."""
    found: list[tuple[str, str]] = []
    for tag in (t for t in PROJECT_TAGS if t in platform.mandatory_tags):
        value = _project_tag_value(platform.project(project), tag)
        first = next(p.name for p in platform.projects if _project_tag_value(p, tag) == value)
        if first == project:
            found.append((tag, value))
    return found


def _project_tag_value(project, tag: str) -> str:
    return {"project": project.name, "owner": project.owner, "cost-center": project.cost_center}[tag]


def parameter_path(platform: "PlatformConfig") -> str:
    return platform.shared_services.parameter_path or f"/{platform.name_prefix}/shared-services"


def connection_name(platform: "PlatformConfig", project: str) -> str:
    return f"{platform.name_prefix}-{project}"


def code_repository_names(platform: "PlatformConfig") -> list[tuple[str, str]]:
    """(repository name, project) of every project code repository."""
    return [(name, p.name) for p in platform.projects for name in project_code_repositories(platform, p.name)]


def project_code_repositories(platform: "PlatformConfig", project: str) -> list[str]:
    """A project's CodeCommit repositories (`code_repositories.provider: CodeCommit`)."""
    return [f"{project}-{n}" for n in platform.shared_services.code_repositories.repositories]


def project_parameter_path(platform: "PlatformConfig", project: str) -> str:
    """Where a project's delivery stack writes the parameters about its shared services."""
    return f"{parameter_path(platform)}/projects/{project}"


# -- validation -------------------------------------------------------------------------------

def _check_ecr(platform: "PlatformConfig", problems: list[str]) -> None:
    ecr = platform.shared_services.ecr
    key = "shared_services.ecr"
    for field in ("base_images", "framework_images", "application_images"):
        for i, name in enumerate(getattr(ecr, field)):
            if not all(_ECR_SEGMENT.match(part) for part in name.split("/")):
                problems.append(f"{key}.{field}[{i}]: '{name}' is not a valid ECR repository name (allowed: lowercase "
                                "letters and digits separated by '.', '_', '__' or '-', segments joined by '/')")
    for i, tag in enumerate(ecr.stable_tags):
        if not re.match(r"^[A-Za-z0-9._*-]{1,128}$", tag) or tag.count("*") > 2:
            problems.append(f"{key}.stable_tags[{i}]: '{tag}' is not a tag filter (allowed: letters, digits, '._-' "
                            "and at most two '*', up to 128 characters)")
    if len(ecr.stable_tags) > 5:
        problems.append(f"{key}.stable_tags: {len(ecr.stable_tags)} filters (allowed: at most 5, ECR's limit)")
    projects = [p.name for p in platform.projects]
    namespaces: dict[str, str] = {BASE: "the base images", FRAMEWORK: "the framework images"}
    for project in projects:
        ns = namespace(platform, project)
        where = f"{key}.project_namespaces.{project}" if project in ecr.project_namespaces else f"projects (name '{project}')"
        if not _ECR_SEGMENT.match(ns):
            problems.append(f"{where}: namespace '{ns}' is not a valid ECR name (allowed: lowercase letters and digits "
                            "separated by '.', '_', '__' or '-'; no '/')")
        if ns in namespaces:
            problems.append(f"{where}: namespace '{ns}' is already used by {namespaces[ns]} (allowed: one namespace each)")
        namespaces.setdefault(ns, f"project {project}")
    for project in ecr.project_namespaces:
        if project not in projects:
            problems.append(f"{key}.project_namespaces.{project}: unknown project (allowed: {', '.join(projects) or 'none'})")
    for name, _ in repositories(platform):
        if len(name) > ECR_REPOSITORY_NAME_MAX:
            problems.append(f"{key}: repository name '{name}' is longer than {ECR_REPOSITORY_NAME_MAX} characters")
    seen: set[str] = set()
    for i, rule in enumerate(ecr.pull_through_cache):
        rk = f"{key}.pull_through_cache[{i}]"
        needs_credential = PULL_THROUGH_UPSTREAMS.get(rule.upstream, True if _AZURE_REGISTRY.match(rule.upstream) else None)
        if needs_credential is None:
            problems.append(f"{rk}.upstream: '{rule.upstream}' is not an upstream ECR pull-through cache supports "
                            f"(allowed: {', '.join(PULL_THROUGH_UPSTREAMS)}, <registry>.azurecr.io)")
        elif needs_credential and rule.credential_arn is None:
            problems.append(f"{rk}.credential_arn: '{rule.upstream}' needs credentials (allowed: the ARN of a Secrets "
                            "Manager secret named ecr-pullthroughcache/...)")
        if rule.credential_arn is not None and not _PTC_SECRET.match(rule.credential_arn):
            problems.append(f"{rk}.credential_arn: '{rule.credential_arn}' is not a Secrets Manager secret ARN named "
                            "ecr-pullthroughcache/... (ECR requires that name prefix)")
        if not (2 <= len(rule.prefix) <= 30 and _PTC_PREFIX.match(rule.prefix)) or rule.prefix in (BASE, FRAMEWORK):
            problems.append(f"{rk}.prefix: '{rule.prefix}' is not a valid cache prefix (allowed: 2 to 30 lowercase "
                            f"letters, digits, '.', '_' or '-', not {BASE} or {FRAMEWORK})")
        if rule.prefix in namespaces and rule.prefix not in (BASE, FRAMEWORK):
            problems.append(f"{rk}.prefix: '{rule.prefix}' is the namespace of {namespaces[rule.prefix]}")
        if rule.prefix in seen:
            problems.append(f"{rk}.prefix: '{rule.prefix}' is used by another rule")
        seen.add(rule.prefix)
    if ecr.replication_region is not None:
        if ecr.replication_region not in platform.allowed_regions:
            problems.append(f"{key}.replication_region: '{ecr.replication_region}' is not in allowed_regions "
                            f"(allowed: {', '.join(r for r in platform.allowed_regions if r != platform.home_region)})")
        elif ecr.replication_region == platform.home_region:
            problems.append(f"{key}.replication_region: '{ecr.replication_region}' is the home region (allowed: another region)")


def _check_principals(platform: "PlatformConfig", problems: list[str]) -> None:
    s = platform.shared_services
    for i, role in enumerate(s.pipeline_build_roles):
        if not _ROLE_NAME.match(role):
            problems.append(f"shared_services.pipeline_build_roles[{i}]: '{role}' is not an IAM role name "
                            "(allowed: letters, digits and +=,.@_-, at most 64 characters; no wildcards)")
    if s.platform_team_role is not None:
        accounts = list(platform.accounts())
        if s.platform_team_role.account not in accounts:
            problems.append(f"shared_services.platform_team_role.account: unknown account '{s.platform_team_role.account}' "
                            f"(allowed: {', '.join(accounts)})")


def _check_services(platform: "PlatformConfig", problems: list[str]) -> None:
    s = platform.shared_services
    ca = s.codeartifact
    if not _CODEARTIFACT_NAME.match(codeartifact_domain(platform)):
        problems.append(f"shared_services.codeartifact.domain: '{codeartifact_domain(platform)}' is not a CodeArtifact "
                        "domain name (allowed: 2 to 50 lowercase letters, digits and hyphens, starting with a letter)")
    for field in ("repository", "upstream_repository"):
        if not _CODEARTIFACT_REPO.match(getattr(ca, field)):
            problems.append(f"shared_services.codeartifact.{field}: '{getattr(ca, field)}' is not a CodeArtifact "
                            "repository name (allowed: 2 to 100 letters, digits, '.', '_' and '-')")
    if ca.repository == ca.upstream_repository:
        problems.append("shared_services.codeartifact.upstream_repository: must differ from repository")

    code = s.code_repositories
    key = "shared_services.code_repositories"
    if code.provider not in (*GIT_PROVIDERS, "CodeCommit"):
        problems.append(f"{key}.provider: unknown Git provider '{code.provider}' (allowed: {', '.join(GIT_PROVIDERS)}, CodeCommit)")
    if code.provider in SELF_MANAGED_PROVIDERS and (code.host_arn is None or not _HOST_ARN.match(code.host_arn)):
        problems.append(f"{key}.host_arn: {code.provider} connects through a host (allowed: a CodeConnections host ARN)")
    if code.host_arn is not None and code.provider not in SELF_MANAGED_PROVIDERS:
        problems.append(f"{key}.host_arn: only for {' and '.join(SELF_MANAGED_PROVIDERS)}")
    if code.approval_rule_template is not None and code.provider != "CodeCommit":
        problems.append(f"{key}.approval_rule_template: approval rule templates are CodeCommit's (allowed: with provider: CodeCommit)")
    if code.provider != "CodeCommit":
        for i, project in enumerate(platform.projects):
            name = connection_name(platform, project.name)
            if len(name) > CONNECTION_NAME_MAX:
                problems.append(f"projects[{i}].name: connection name '{name}' would be {len(name)} characters "
                                f"(allowed: at most {CONNECTION_NAME_MAX}; shorten name_prefix or the project name)")
    for i, name in enumerate(code.repositories):
        if not re.match(r"^[a-z][a-z0-9-]*[a-z0-9]$", name):
            problems.append(f"{key}.repositories[{i}]: '{name}' is not a repository name (allowed: lowercase letters, digits, hyphens)")

    for project in registry_projects(platform):
        group = model_package_group(platform, project)
        if not _MODEL_GROUP.match(group):
            problems.append(f"projects (name '{project}'): model package group name '{group}' is not valid "
                            "(allowed: at most 63 letters, digits and hyphens)")

    sc = s.service_catalog
    if sc.enabled:
        if sc.share_ou not in platform.organization.organizational_units:
            problems.append(f"shared_services.service_catalog.share_ou: unknown OU '{sc.share_ou}' "
                            f"(allowed: {', '.join(platform.organization.organizational_units)})")
        if not _ROLE_NAME.match(launch_role_name(platform)):
            problems.append(f"shared_services.service_catalog.launch_role_name: '{launch_role_name(platform)}' is not an "
                            "IAM role name (allowed: letters, digits and +=,.@_-, at most 64 characters)")
        accounts = platform.accounts()
        for key in launch_accounts(platform):
            ou = accounts[key][1] if key in accounts else None
            if ou is not None and ou != sc.share_ou and not ou.startswith(f"{sc.share_ou}/"):
                problems.append(f"shared_services.service_catalog.share_ou: account {key} has a Studio domain but is in "
                                f"OU {ou}, outside the share (allowed: an OU that holds every Studio account, e.g. "
                                f"{ou.split('/')[0]})")
    if not _SSM_PATH.match(parameter_path(platform)):
        problems.append(f"shared_services.parameter_path: '{parameter_path(platform)}' is not a parameter path "
                        "(allowed: /segment/segment of letters, digits, '.', '_' and '-')")


CHECKS = (_check_ecr, _check_principals, _check_services)
