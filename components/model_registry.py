"""A SageMaker model package group with a resource policy (whitepaper "Model inventory
management"): who may register versions and who may consume them, nothing else.

* `registrars` (a project's pre-production automation) may create model packages in the group,
  only as `PendingManualApproval` (`sagemaker:ModelApprovalStatus`), so no registration approves
  itself; approving is left to the delivery pipeline's approval step in the registry's account.
* `consumers` (the project's production account) may describe and list the group's versions and
  create models from them.

Roles are named as account principal plus `aws:PrincipalArn` (they may be created by a later
stack) within `aws:PrincipalOrgID`. Without registrars (distributed mode: the group is in the
registrars' own account, identity policies suffice) the policy has the consumer statements only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.kms_keys import RolePrincipals, account_root, merge_principals
from policy_documents.serialize import concat, document, policy_json

REGISTER = ("sagemaker:CreateModelPackage",)
GROUP_READ = ("sagemaker:DescribeModelPackageGroup",)
# Creating a model from a version is authorized in the consumer's account (sagemaker:CreateModel on
# its model); across accounts SageMaker needs only DescribeModelPackage on the version.
CONSUME = ("sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages")
PENDING = "PendingManualApproval"


@dataclass(frozen=True)
class ModelPackageGroupArgs:
    group_name: str
    description: str
    account_id: pulumi.Input[str]
    region: str
    organization_id: pulumi.Input[str]
    registrars: Sequence[RolePrincipals]
    consumers: Sequence[RolePrincipals]
    tags: Mapping[str, str]


def group_arn(region: str, account_id: pulumi.Input[str], group: str) -> pulumi.Output[str]:
    # SageMaker ARNs carry the resource name in lower case.
    return concat("arn:aws:sagemaker:", region, ":", account_id, ":model-package-group/", group.lower())


def package_arns(region: str, account_id: pulumi.Input[str], group: str) -> pulumi.Output[str]:
    return concat("arn:aws:sagemaker:", region, ":", account_id, ":model-package/", group.lower(), "/*")


def _statement(sid: str, roles: Sequence[RolePrincipals], actions: Sequence[str], resource: pulumi.Input[str],
               organization_id: pulumi.Input[str], extra: Mapping[str, str] | None = None) -> dict:
    roles = merge_principals(roles)
    roots = [account_root(r.account_id) for r in roles]
    return {
        "Sid": sid, "Effect": "Allow", "Principal": {"AWS": roots if len(roots) > 1 else roots[0]},
        "Action": list(actions), "Resource": resource,
        "Condition": {"ArnEquals": {"aws:PrincipalArn": [a for r in roles for a in r.role_arns]},
                      "StringEquals": {"aws:PrincipalOrgID": organization_id, **(extra or {})}},
    }


def group_policy(args: ModelPackageGroupArgs) -> dict:
    """The resource policy as data (see the module docstring)."""
    group = group_arn(args.region, args.account_id, args.group_name)
    packages = package_arns(args.region, args.account_id, args.group_name)
    statements = []
    if merge_principals(args.registrars):
        statements += [
            _statement("RegisterPendingApproval", args.registrars, REGISTER, packages, args.organization_id,
                       {"sagemaker:ModelApprovalStatus": PENDING}),
            _statement("RegistrarsReadGroup", args.registrars, GROUP_READ, group, args.organization_id),
        ]
    if merge_principals(args.consumers):
        statements += [
            _statement("ConsumersReadGroup", args.consumers, GROUP_READ, group, args.organization_id),
            _statement("ConsumersUseVersions", args.consumers, CONSUME, packages, args.organization_id),
        ]
    if not statements:
        raise ValueError(f"model package group {args.group_name}: name registrars or consumers")
    return document(*statements)


class ModelPackageGroup(pulumi.ComponentResource):
    """The group (protected: it holds the model inventory) and its resource policy."""

    arn: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(self, name: str, args: ModelPackageGroupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:shared:ModelPackageGroup", name, None, opts)
        group = aws.sagemaker.ModelPackageGroup(
            name, model_package_group_name=args.group_name, model_package_group_description=args.description,
            tags=dict(args.tags), opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True))
        aws.sagemaker.ModelPackageGroupPolicy(
            f"{name}-policy", model_package_group_name=group.model_package_group_name,
            resource_policy=policy_json(group_policy(args)), opts=pulumi.ResourceOptions(parent=group))
        self.arn = group_arn(args.region, args.account_id, args.group_name)
        self.name = group.model_package_group_name
        self.register_outputs({"arn": self.arn, "name": self.name})
