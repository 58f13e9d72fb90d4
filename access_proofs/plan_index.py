"""What the access proofs read from an offline-preview plan: the organization (OU tree, accounts,
SCPs and RCPs with their attachments), the IAM roles and their policies, and the resources
that carry policies (buckets, keys, VPC endpoints, ECR repositories, CodeArtifact domains and
repositories).

The plan is `build/preview/plan.json` (or the same structure built from the engine's runs by
:func:`plan_from_runs`). Nothing here evaluates a policy: it only finds the documents that
apply to a request, for the IAM engine to evaluate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from offline_preview.plan import masked

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
MANAGED_POLICY = "aws:iam/policy:Policy"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
KEY = "aws:kms/key:Key"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
ECR_REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
CODEARTIFACT_DOMAIN = "aws:codeartifact/domain:Domain"
CODEARTIFACT_DOMAIN_POLICY = "aws:codeartifact/domainPermissions:DomainPermissions"
CODEARTIFACT_REPOSITORY = "aws:codeartifact/repository:Repository"
CODEARTIFACT_REPOSITORY_POLICY = "aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy"
ORGANIZATION = "aws:organizations/organization:Organization"
OU = "aws:organizations/organizationalUnit:OrganizationalUnit"
ACCOUNT = "aws:organizations/account:Account"
ORG_POLICY = "aws:organizations/policy:Policy"
ORG_POLICY_ATTACHMENT = "aws:organizations/policyAttachment:PolicyAttachment"
STACK_SET = "aws:cloudformation/stackSet:StackSet"
STACK_SET_INSTANCE = "aws:cloudformation/stackSetInstance:StackSetInstance"
PERMISSION_SET = "aws:ssoadmin/permissionSet:PermissionSet"
PERMISSION_SET_POLICY = "aws:ssoadmin/customerManagedPolicyAttachment:CustomerManagedPolicyAttachment"
ACCOUNT_ASSIGNMENT = "aws:ssoadmin/accountAssignment:AccountAssignment"
# The plan's stand-in for the random suffix of the role IAM Identity Center creates for a
# permission set in each account it is assigned to.
SSO_ROLE_SUFFIX = "plan"


def sso_role_name(permission_set_name: str) -> str:
    """The role (path included) an assignment of the permission set creates in an account."""
    return f"aws-reserved/sso.amazonaws.com/AWSReservedSSO_{permission_set_name}_{SSO_ROLE_SUFFIX}"

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
# AWS attaches FullAWSAccess to the root, every OU and every account unless it is detached;
# the program never detaches it (the SCP packing reserves its slot), so every level has it.
FULL_AWS_ACCESS = "FullAWSAccess"
# AWS-managed policies whose content the proofs need. Only AdministratorAccess: what the
# member role (created by Organizations) and the break-glass roles carry. A role attached to
# any other AWS-managed policy cannot be evaluated offline and is reported as such.
AWS_MANAGED_POLICIES: Mapping[str, dict[str, Any]] = {
    "arn:aws:iam::aws:policy/AdministratorAccess": ALLOW_ALL,
}


class PlanError(ValueError):
    """The plan lacks something the proofs need (e.g. no organization stack)."""


@dataclass
class RolePolicies:
    """A role's identity side as the plan declares it."""

    arn: str
    account: str
    name: str
    source: str  # where the role comes from: a stack, the baseline StackSet, AWS Organizations
    trust: dict[str, Any] | None
    inline: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    managed_arns: list[str] = field(default_factory=list)
    boundary_arn: str | None = None


@dataclass
class Bucket:
    name: str
    account: str
    policy: dict[str, Any] | None
    kms_key_arn: str | None


@dataclass
class Repository:
    """An ECR repository, or a CodeArtifact domain or repository, with its resource policy."""

    arn: str
    account: str
    policy: dict[str, Any] | None


@dataclass
class Endpoint:
    id: str
    account: str
    vpc_id: str | None
    service: str  # the service part of the endpoint service name: s3, sagemaker.api, sts, ...
    policy: dict[str, Any] | None
    name: str


@dataclass
class PlanIndex:
    """The plan's organization, principals and policy-bearing resources."""

    organization_id: str
    management_account: str
    home_region: str
    member_role_name: str
    account_ids: dict[str, str]  # plan name (accountIds key, plus `management`) -> id
    parents: dict[str, str]  # account or OU id -> parent id
    ou_names: dict[str, str]  # OU or root id -> display path
    scps: dict[str, list[tuple[str, dict[str, Any]]]]  # target id -> [(policy name, document)]
    rcps: dict[str, list[tuple[str, dict[str, Any]]]]
    roles: dict[str, RolePolicies]  # role ARN -> role
    managed_policies: dict[str, dict[str, Any]]  # customer-managed policy ARN -> document
    buckets: dict[str, Bucket]
    keys: dict[str, dict[str, Any]]  # key ARN -> key policy
    key_names: dict[str, str]  # "<stack>/<logical name>" -> key ARN
    bucket_names: dict[str, str]  # "<stack>/<logical name>" -> bucket name
    endpoints: list[Endpoint]
    repositories: dict[str, Repository] = field(default_factory=dict)  # ARN -> ECR / CodeArtifact resource
    ecr_names: dict[str, str] = field(default_factory=dict)  # "<stack>/<logical name>" -> repository ARN
    # "<stack>/<logical name>" -> ARN, CodeArtifact repositories only (for_each) and with domains
    codeartifact_repository_names: dict[str, str] = field(default_factory=dict)
    codeartifact_names: dict[str, str] = field(default_factory=dict)

    def account_id(self, name: str) -> str | None:
        return self.account_ids.get(name)

    def account_name(self, account_id: str) -> str:
        return next((n for n, i in self.account_ids.items() if i == account_id), account_id)

    def in_organization(self, account_id: str) -> bool:
        return account_id in self.account_ids.values()

    def path_to(self, account_id: str) -> list[str]:
        """Root first, then each OU, then the account itself (the order SCPs are evaluated in)."""
        path = [account_id]
        while path[-1] in self.parents:
            path.append(self.parents[path[-1]])
        return list(reversed(path))

    def org_levels(self, account_id: str, policies: Mapping[str, list[tuple[str, dict[str, Any]]]],
                   full_access: bool) -> list[dict[str, Any]]:
        """The engine's per-level policy list for the account's OU path."""
        levels = []
        for target in self.path_to(account_id):
            attached = [{"name": n, "policy": d} for n, d in policies.get(target, [])]
            if full_access:
                attached.insert(0, {"name": FULL_AWS_ACCESS, "policy": ALLOW_ALL})
            levels.append({"orgIdentifier": target, "policies": attached})
        return levels

    def repository(self, arn: str) -> Repository | None:
        """The ECR repository or CodeArtifact domain / repository whose policy governs `arn`
        (a CodeArtifact package is governed by its repository's policy)."""
        match = _CODEARTIFACT_PACKAGE.match(arn)
        if match:
            arn = f"{match.group(1)}repository/{match.group(2)}/{match.group(3)}"
        return self.repositories.get(arn)

    def endpoint(self, account_id: str, service: str) -> Endpoint | None:
        found = [e for e in self.endpoints if e.account == account_id and e.service == service]
        return found[0] if found else None


def _document(value: Any) -> dict[str, Any] | None:
    if value in (None, "", "[secret]"):
        return None
    return json.loads(value) if isinstance(value, str) else value


def _endpoint_policy(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """An endpoint policy as the engine accepts it: its validator wants `"Principal": "*"` and
    rejects the equivalent `{"AWS": "*"}` the platform writes (every request the proofs
    simulate is signed by an IAM principal, for which the two mean the same)."""
    if doc is None:
        return None
    statements = doc.get("Statement")
    statements = statements if isinstance(statements, list) else [statements]
    fixed = [{**st, "Principal": "*"} if st.get("Principal") in ({"AWS": "*"}, {"AWS": ["*"]}) else st
             for st in statements]
    return {**doc, "Statement": fixed}


def _resources(plan: Mapping[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    for stack in plan.get("stacks", []):
        for resource in stack.get("resources", []):
            yield stack["name"], resource


def _value(resource: Mapping[str, Any], key: str) -> Any:
    """An input, or the mocked output when the input is not set (ids, ARNs)."""
    inputs, outputs = resource.get("inputs") or {}, resource.get("outputs") or {}
    return inputs[key] if inputs.get(key) not in (None, "") else outputs.get(key)


_CODEARTIFACT_PACKAGE = re.compile(r"^(arn:aws[\w-]*:codeartifact:[a-z0-9-]+:\d{12}:)package/([^/]+)/([^/]+)/")
_ROLE_ARN = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):role/(?:.*/)?([^/]+)$")


def _role_name(reference: str) -> str:
    """`role` of a RolePolicy / attachment: a name, or an ARN in some programs."""
    match = _ROLE_ARN.match(reference or "")
    return match.group(2) if match else reference


def _resolve_cfn(value: Any, params: Mapping[str, str]) -> Any:
    """Ref and Fn::Sub over a CloudFormation fragment, for the parameters and pseudo parameters
    given; enough for the baseline template's role definitions."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return params.get(value["Ref"], value)
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            return re.sub(r"\$\{([\w:]+)\}", lambda m: params.get(m.group(1), m.group(0)), value["Fn::Sub"])
        return {k: _resolve_cfn(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_cfn(v, params) for v in value]
    return value


def build_index(plan: Mapping[str, Any]) -> PlanIndex:
    """Index a plan. Raises PlanError when it has no organization stack."""
    org_stack = next((s for s in plan.get("stacks", []) if s.get("layer") == "organization"), None)
    if org_stack is None:
        raise PlanError("the plan has no organization stack (the OU tree and the SCPs come from it)")
    outputs = org_stack.get("outputs") or {}
    organization = next((r for r in org_stack["resources"] if r["type"] == ORGANIZATION), None)
    org_id = outputs.get("organizationId") or (organization or {}).get("id")
    management = outputs.get("managementAccountId") or (organization or {}).get("outputs", {}).get("masterAccountId")
    if not org_id or not management:
        raise PlanError("the organization stack exports no organizationId / managementAccountId")
    home_region = (organization or {}).get("region") or "us-east-1"
    account_ids = {"management": management, **(outputs.get("accountIds") or {})}

    parents: dict[str, str] = {}
    ou_names: dict[str, str] = {}
    for root in (organization or {}).get("outputs", {}).get("roots") or []:
        ou_names[root["id"]] = "Root"
    for name, path in (outputs.get("ouIds") or {}).items():
        ou_names[path] = name
    policies: dict[str, tuple[str, str, dict[str, Any]]] = {}  # policy id -> (type, name, doc)
    attachments: list[tuple[str, str]] = []
    for _, r in _resources({"stacks": [org_stack]}):
        if r["type"] in (OU, ACCOUNT):
            parent = _value(r, "parentId")
            if parent and r.get("id"):
                parents[r["id"]] = parent
        elif r["type"] == ORG_POLICY:
            policies[r["id"]] = (_value(r, "type"), _value(r, "name") or r["name"], _document(_value(r, "content")))
        elif r["type"] == ORG_POLICY_ATTACHMENT:
            attachments.append((_value(r, "policyId"), _value(r, "targetId")))
    scps: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    rcps: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for policy_id, target in attachments:
        if policy_id not in policies:
            continue
        kind, name, doc = policies[policy_id]
        into = {"SERVICE_CONTROL_POLICY": scps, "RESOURCE_CONTROL_POLICY": rcps}.get(kind)
        if into is not None and doc is not None:
            into.setdefault(target, []).append((name, doc))

    roles: dict[str, RolePolicies] = {}
    role_by_key: dict[tuple[str, str], RolePolicies] = {}
    managed: dict[str, dict[str, Any]] = {}
    buckets: dict[str, Bucket] = {}
    bucket_policies: dict[str, dict[str, Any]] = {}
    bucket_keys: dict[str, str] = {}
    bucket_accounts: dict[str, str] = {}
    keys: dict[str, dict[str, Any]] = {}
    key_names: dict[str, str] = {}
    bucket_names: dict[str, str] = {}
    endpoints: list[Endpoint] = []
    repositories: dict[str, Repository] = {}
    ecr_names: dict[str, str] = {}
    codeartifact_names: dict[str, str] = {}
    codeartifact_repository_names: dict[str, str] = {}
    # (kind, account, region, name) -> policy, joined with their resources below
    repository_policies: dict[tuple[str, str, str, str], dict[str, Any] | None] = {}
    inline: list[tuple[str, str, str, dict[str, Any]]] = []
    attached: list[tuple[str, str, str]] = []
    stack_sets: dict[str, dict[str, Any]] = {}
    stack_set_targets: dict[str, set[str]] = {}
    managed_by_name: dict[tuple[str, str, str], str] = {}  # (account, name, path) -> ARN
    permission_sets: dict[str, str] = {}  # ARN -> name
    permission_set_policies: dict[str, list[tuple[str, str]]] = {}  # ARN -> [(name, path)]
    assigned: set[tuple[str, str]] = set()  # (permission set ARN, account)
    for stack, r in _resources(plan):
        t, account = r["type"], r.get("account")
        if t == ROLE:
            name = _value(r, "name")
            arn = _value(r, "arn") or f"arn:aws:iam::{account}:role/{name}"
            role = RolePolicies(arn=arn, account=account, name=name, source=f"stack {stack}",
                                trust=_document(_value(r, "assumeRolePolicy")),
                                managed_arns=list(_value(r, "managedPolicyArns") or []),
                                boundary_arn=_value(r, "permissionsBoundary"))
            for i, p in enumerate(_value(r, "inlinePolicies") or []):
                if p.get("policy"):
                    role.inline.append((p.get("name") or f"inline-{i}", _document(p["policy"])))
            roles[arn] = role
            role_by_key[(account, name)] = role
        elif t == ROLE_POLICY:
            inline.append((account, _role_name(_value(r, "role")), _value(r, "name") or r["name"],
                           _document(_value(r, "policy"))))
        elif t == ROLE_POLICY_ATTACHMENT:
            attached.append((account, _role_name(_value(r, "role")), _value(r, "policyArn")))
        elif t == MANAGED_POLICY:
            arn = _value(r, "arn") or f"arn:aws:iam::{account}:policy/{_value(r, 'name')}"
            managed[arn] = _document(_value(r, "policy"))
            managed_by_name[(account, _value(r, "name"), _value(r, "path") or "/")] = arn
        elif t == PERMISSION_SET:
            permission_sets[_value(r, "arn")] = _value(r, "name")
        elif t == PERMISSION_SET_POLICY:
            ref = _value(r, "customerManagedPolicyReference") or {}
            permission_set_policies.setdefault(_value(r, "permissionSetArn"), []).append(
                (ref.get("name"), ref.get("path") or "/"))
        elif t == ACCOUNT_ASSIGNMENT and _value(r, "targetType") == "AWS_ACCOUNT":
            assigned.add((_value(r, "permissionSetArn"), _value(r, "targetId")))
        elif t == BUCKET:
            name = _value(r, "bucket")
            bucket_accounts[name] = account
            bucket_names[f"{stack}/{r['name']}"] = name
        elif t == BUCKET_POLICY:
            bucket_policies[_value(r, "bucket")] = _document(_value(r, "policy"))
        elif t == BUCKET_SSE:
            for rule in _value(r, "rules") or []:
                default = rule.get("applyServerSideEncryptionByDefault") or {}
                if default.get("sseAlgorithm", "").startswith("aws:kms") and default.get("kmsMasterKeyId"):
                    bucket_keys[_value(r, "bucket")] = default["kmsMasterKeyId"]
        elif t == KEY:
            arn = _value(r, "arn")
            keys[arn] = _document(_value(r, "policy"))
            key_names[f"{stack}/{r['name']}"] = arn
        elif t == VPC_ENDPOINT:
            service_name = _value(r, "serviceName") or ""
            service = re.sub(r"^com\.amazonaws\.[a-z0-9-]+\.", "", service_name)
            endpoints.append(Endpoint(id=r.get("id"), account=account, vpc_id=_value(r, "vpcId"),
                                      service=service, policy=_endpoint_policy(_document(_value(r, "policy"))),
                                      name=r["name"]))
        elif t == ECR_REPOSITORY:
            name = _value(r, "name")
            arn = _value(r, "arn") or f"arn:aws:ecr:{r.get('region')}:{account}:repository/{name}"
            repositories[arn] = Repository(arn=arn, account=account, policy=None)
            ecr_names[f"{stack}/{r['name']}"] = arn
        elif t == ECR_REPOSITORY_POLICY:
            repository_policies[("ecr", account, r.get("region"), _value(r, "repository"))] = _document(_value(r, "policy"))
        elif t in (CODEARTIFACT_DOMAIN, CODEARTIFACT_REPOSITORY):
            owner = _value(r, "domainOwner") or account
            path = (f"domain/{_value(r, 'domain')}" if t == CODEARTIFACT_DOMAIN
                    else f"repository/{_value(r, 'domain')}/{_value(r, 'repository')}")
            arn = f"arn:aws:codeartifact:{r.get('region')}:{owner}:{path}"
            repositories[arn] = Repository(arn=arn, account=owner, policy=None)
            codeartifact_names[f"{stack}/{r['name']}"] = arn
            if t == CODEARTIFACT_REPOSITORY:
                codeartifact_repository_names[f"{stack}/{r['name']}"] = arn
        elif t in (CODEARTIFACT_DOMAIN_POLICY, CODEARTIFACT_REPOSITORY_POLICY):
            owner = _value(r, "domainOwner") or account
            path = (f"domain/{_value(r, 'domain')}" if t == CODEARTIFACT_DOMAIN_POLICY
                    else f"repository/{_value(r, 'domain')}/{_value(r, 'repository')}")
            repository_policies[("codeartifact", owner, r.get("region"), path)] = _document(_value(r, "policyDocument"))
        elif t == STACK_SET:
            stack_sets[_value(r, "name")] = r
        elif t == STACK_SET_INSTANCE:
            targets = (_value(r, "deploymentTargets") or {}).get("organizationalUnitIds") or []
            stack_set_targets.setdefault(_value(r, "stackSetName"), set()).update(targets)
    for account, role_name, name, doc in inline:
        if (account, role_name) in role_by_key and doc is not None:
            role_by_key[(account, role_name)].inline.append((name, doc))
    for account, role_name, policy_arn in attached:
        if (account, role_name) in role_by_key and policy_arn:
            role_by_key[(account, role_name)].managed_arns.append(policy_arn)
    # What Identity Center provisions for each assignment: a role in the account holding the
    # account's customer-managed policies the permission set references (by name and path).
    for set_arn, account in sorted(assigned):
        if set_arn not in permission_sets:
            continue
        name = sso_role_name(permission_sets[set_arn])
        arn = f"arn:aws:iam::{account}:role/{name}"
        roles[arn] = RolePolicies(
            arn=arn, account=account, name=name, source=f"IAM Identity Center permission set {permission_sets[set_arn]}",
            trust=None, managed_arns=[managed_by_name[(account, n, path)]
                                      for n, path in permission_set_policies.get(set_arn, [])
                                      if (account, n, path) in managed_by_name])
    for (kind, account, region, name), doc in repository_policies.items():
        arn = (f"arn:aws:ecr:{region}:{account}:repository/{name}" if kind == "ecr"
               else f"arn:aws:codeartifact:{region}:{account}:{name}")
        if arn in repositories:
            repositories[arn].policy = doc
    for name, account in bucket_accounts.items():
        buckets[name] = Bucket(name=name, account=account, policy=bucket_policies.get(name),
                               kms_key_arn=bucket_keys.get(name))

    index = PlanIndex(
        organization_id=org_id, management_account=management, home_region=home_region,
        member_role_name=outputs.get("memberRoleName") or "OrganizationAccountAccessRole",
        account_ids=account_ids, parents=parents, ou_names=ou_names, scps=scps, rcps=rcps,
        roles=roles, managed_policies=managed, buckets=buckets, keys=keys, key_names=key_names,
        bucket_names=bucket_names, endpoints=endpoints, repositories=repositories, ecr_names=ecr_names,
        codeartifact_repository_names=codeartifact_repository_names, codeartifact_names=codeartifact_names,
    )
    _add_stack_set_roles(index, stack_sets, stack_set_targets)
    _add_member_roles(index)
    return index


def _add_stack_set_roles(index: PlanIndex, stack_sets: Mapping[str, Mapping[str, Any]],
                         targets: Mapping[str, set[str]]) -> None:
    """Roles a service-managed StackSet's template creates in every member account under its
    deployment targets (the baseline's break-glass role), unless a stack declares the same role."""
    for set_name, r in stack_sets.items():
        try:
            template = json.loads(_value(r, "templateBody") or "{}")
        except json.JSONDecodeError:
            continue  # a YAML template: nothing of the platform's, so nothing to read here
        params = {k: v.get("Default") for k, v in (template.get("Parameters") or {}).items() if "Default" in v}
        params.update({k: str(v) for k, v in (_value(r, "parameters") or {}).items()})
        params["AWS::Partition"] = "aws"
        for account_name, account_id in index.account_ids.items():
            if account_id == index.management_account:
                continue  # service-managed StackSets never deploy to the management account
            path = set(index.path_to(account_id))
            if not path & targets.get(set_name, set()):
                continue
            values = {**params, "AWS::AccountId": account_id, "AWS::Region": index.home_region}
            for logical, resource in (template.get("Resources") or {}).items():
                if resource.get("Type") != "AWS::IAM::Role":
                    continue
                props = _resolve_cfn(resource.get("Properties") or {}, values)
                name = props.get("RoleName")
                if not isinstance(name, str):
                    continue
                arn = f"arn:aws:iam::{account_id}:role/{name}"
                if arn in index.roles:
                    continue
                index.roles[arn] = RolePolicies(
                    arn=arn, account=account_id, name=name, source=f"StackSet {set_name} ({logical})",
                    trust=props.get("AssumeRolePolicyDocument"),
                    inline=[(p["PolicyName"], p["PolicyDocument"]) for p in props.get("Policies") or []],
                    managed_arns=list(props.get("ManagedPolicyArns") or []),
                    boundary_arn=props.get("PermissionsBoundary"))


def _add_member_roles(index: PlanIndex) -> None:
    """The member role AWS Organizations creates in every account it creates, with
    AdministratorAccess and a trust of the management account (the deployment role)."""
    for account_id in index.account_ids.values():
        arn = f"arn:aws:iam::{account_id}:role/{index.member_role_name}"
        if account_id == index.management_account or arn in index.roles:
            continue
        index.roles[arn] = RolePolicies(
            arn=arn, account=account_id, name=index.member_role_name, source="AWS Organizations (member role)",
            trust={"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{index.management_account}:root"},
                "Action": "sts:AssumeRole"}]},
            managed_arns=["arn:aws:iam::aws:policy/AdministratorAccess"])


def plan_from_runs(runs: Iterable[Any]) -> dict[str, Any]:
    """The plan structure for engine runs (`StackRun`s), as the tests get them from `sample_runs`."""
    stacks = []
    for run in runs:
        stacks.append({
            "name": run.stack,
            "layer": run.config.get("ml-platform:layer"),
            "outputs": masked(run.outputs),
            "resources": [{"type": r.type, "name": r.name, "id": r.id, "inputs": masked(r.inputs),
                           "outputs": masked(r.outputs), "account": r.account, "region": r.region}
                          for r in run.resources],
        })
    return {"stacks": stacks}
