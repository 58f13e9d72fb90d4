"""Roles of the whitepaper's cross-account pipelines ("Cross-account CodePipeline setup").

* :class:`PipelineRole`: a role one AWS service assumes for its own account only (CodePipeline
  roles A and A2, the CodeBuild project's role, the schedule's EventBridge role, and the
  CloudFormation execution roles), with one inline policy.
* :class:`CrossAccountDeployRole`: cross-account roles B and C in a target account. Each trusts
  exactly one role (its pipeline's role, by ARN), may pass only its account's CloudFormation
  execution role, deploy only the named CloudFormation stacks, read and write the pipeline's
  artifact bucket with its key, and whatever `extra_statements` add (role B invokes the
  training workflow).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.service_roles import service_trust
from policy_documents.serialize import concat, document, policy_json

# What a CloudFormation action of CodePipeline calls on its stack (create, update or replace
# through change sets; CodePipeline reads the events and outputs to report the action).
CLOUDFORMATION_DEPLOY = (
    "cloudformation:CreateChangeSet", "cloudformation:CreateStack", "cloudformation:DeleteChangeSet",
    "cloudformation:DeleteStack", "cloudformation:DescribeChangeSet", "cloudformation:DescribeStackEvents",
    "cloudformation:DescribeStacks", "cloudformation:ExecuteChangeSet", "cloudformation:UpdateStack",
)
ARTIFACT_READ = ("s3:GetObject", "s3:GetObjectVersion")
ARTIFACT_WRITE = ("s3:PutObject",)
ARTIFACT_BUCKET_READ = ("s3:GetBucketLocation", "s3:GetBucketVersioning")
ARTIFACT_KEY_USE = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom",
                    "kms:ReEncryptTo")


def role_trust(role_arn: pulumi.Input[str], *others: pulumi.Input[str]) -> dict:
    """Exactly these roles may assume, the pipeline's role and any `others` (by ARN: IAM
    resolves it to the role's id, so a role re-created under the same name is not trusted until
    this policy is updated)."""
    principal = [role_arn, *others] if others else role_arn
    return document({"Sid": "OnlyThePipelineRole", "Effect": "Allow", "Principal": {"AWS": principal},
                     "Action": "sts:AssumeRole"})


def artifact_statements(bucket_arn: pulumi.Input[str], key_arn: pulumi.Input[str], write: bool) -> list[dict]:
    """The artifact bucket's objects (read, and write when `write`) and its key."""
    objects = concat(bucket_arn, "/*")
    return [
        {"Sid": "ArtifactObjects", "Effect": "Allow",
         "Action": [*ARTIFACT_READ, *(ARTIFACT_WRITE if write else ())], "Resource": objects},
        {"Sid": "ArtifactBucket", "Effect": "Allow", "Action": list(ARTIFACT_BUCKET_READ), "Resource": bucket_arn},
        {"Sid": "ArtifactKey", "Effect": "Allow", "Action": list(ARTIFACT_KEY_USE), "Resource": key_arn},
    ]


class PipelineRole(pulumi.ComponentResource):
    """A role `service` assumes for `account_id`, with the inline policy `statements`."""

    arn: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(self, name: str, role_name: str, description: str, service: str, account_id: pulumi.Input[str],
                 statements: Sequence[dict], tags: Mapping[str, str], opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:delivery:PipelineRole", name, None, opts)
        role = aws.iam.Role(name, name=role_name, description=description, max_session_duration=3600,
                            assume_role_policy=policy_json(service_trust(account_id, service, sid="ServiceOfThisAccount")), tags=dict(tags),
                            opts=pulumi.ResourceOptions(parent=self))
        aws.iam.RolePolicy(f"{name}-policy", name="pipeline", role=role.name, policy=policy_json(document(*statements)),
                           opts=pulumi.ResourceOptions(parent=role))
        self.arn, self.name = role.arn, role.name
        self.register_outputs({"arn": self.arn})


@dataclass(frozen=True)
class CrossAccountDeployRoleArgs:
    """`trusted_role_arn`: the one pipeline role that may assume; `execution_role_arn`: the
    account's CloudFormation execution role, the only role it may pass; `stack_names`: the
    CloudFormation stacks it may deploy."""

    role_name: str
    description: str
    account_id: pulumi.Input[str]
    region: str
    trusted_role_arn: pulumi.Input[str]
    execution_role_arn: pulumi.Input[str]
    stack_names: Sequence[str]
    artifact_bucket_arn: pulumi.Input[str]
    artifact_key_arn: pulumi.Input[str]
    tags: Mapping[str, str]
    extra_statements: Sequence[dict] = field(default_factory=tuple)
    # Other roles of the pipeline's account that act for its actions (e.g. a build that runs a
    # SageMaker pipeline, which no CodePipeline action can).
    also_trusted_role_arns: Sequence[pulumi.Input[str]] = field(default_factory=tuple)


def deploy_statements(args: CrossAccountDeployRoleArgs) -> list[dict]:
    """The action role's permissions (see the module docstring)."""
    stacks = [concat("arn:aws:cloudformation:", args.region, ":", args.account_id, ":stack/", name, "/*")
              for name in args.stack_names]
    return [
        {"Sid": "DeployTheStacks", "Effect": "Allow", "Action": list(CLOUDFORMATION_DEPLOY), "Resource": stacks},
        {"Sid": "PassTheExecutionRole", "Effect": "Allow", "Action": "iam:PassRole", "Resource": args.execution_role_arn,
         "Condition": {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}},
        *artifact_statements(args.artifact_bucket_arn, args.artifact_key_arn, write=True),
        *args.extra_statements,
    ]


class CrossAccountDeployRole(pulumi.ComponentResource):
    """Cross-account role B or C (see the module docstring)."""

    arn: pulumi.Output[str]

    def __init__(self, name: str, args: CrossAccountDeployRoleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:delivery:CrossAccountDeployRole", name, None, opts)
        role = aws.iam.Role(name, name=args.role_name, description=args.description, max_session_duration=3600,
                            assume_role_policy=policy_json(role_trust(args.trusted_role_arn, *args.also_trusted_role_arns)),
                            tags=dict(args.tags),
                            opts=pulumi.ResourceOptions(parent=self))
        aws.iam.RolePolicy(f"{name}-policy", name="deploy", role=role.name,
                           policy=policy_json(document(*deploy_statements(args))),
                           opts=pulumi.ResourceOptions(parent=role))
        self.arn = role.arn
        self.register_outputs({"arn": self.arn})
