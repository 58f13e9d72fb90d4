"""A CodeCommit repository of another account as a pipeline's source (CodePipeline's
cross-account source: "Create a pipeline in CodePipeline that uses resources from another AWS
account").

The repository lives in the shared-services account, the pipelines in the automation account.
CodePipeline runs the CodeCommit source action as a role of the repository's account:

* the **source role** (repository account) trusts exactly the pipeline roles, by ARN; it may
  read the one repository (what the CodeCommit action calls: `GetBranch`, `GetCommit`,
  `UploadArchive`, ...), decrypt with the repository's key through CodeCommit, and write the
  source artifact into the pipeline's artifact bucket with the artifact key (policy A and the
  key policy admit it; the delivery stack names it there);
* with `trigger_branch`, a push starts the pipeline the way EventBridge carries events between
  accounts: a rule in the repository's account matches the branch's reference changes and puts
  them, through a role allowed only `events:PutEvents` on it, on a bus of the automation account
  whose policy admits exactly that role; a rule on that bus starts the pipeline through a role
  allowed only `codepipeline:StartPipelineExecution` on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.cross_account_roles import ARTIFACT_BUCKET_READ, ARTIFACT_KEY_USE
from components.service_roles import service_trust
from policy_documents.serialize import concat, document, policy_json

# What the CodeCommit source action calls on the repository (CodePipeline's service role
# reference, CodeCommit section).
CODECOMMIT_SOURCE = ("codecommit:CancelUploadArchive", "codecommit:GetBranch", "codecommit:GetCommit",
                     "codecommit:GetRepository", "codecommit:GetUploadArchiveStatus", "codecommit:UploadArchive")
REFERENCE_EVENTS = ("referenceCreated", "referenceUpdated")


@dataclass(frozen=True)
class CodeCommitSourceArgs:
    """`pipeline_role_arns`: the roles that may assume the source role; `repository_arn` and
    `repository_key_arn`: the repository and its KMS key; `trigger_branch`: the branch whose
    pushes start `pipeline_arn` (None: no source trigger)."""

    name_prefix: str                   # <prefix>-<project>: names of the roles, bus and rules
    project: str
    region: str
    repository_account_id: pulumi.Input[str]
    automation_account_id: pulumi.Input[str]
    repository_arn: pulumi.Input[str]
    repository_key_arn: pulumi.Input[str]
    pipeline_role_arns: Sequence[pulumi.Input[str]]
    artifact_bucket_arn: pulumi.Input[str]
    artifact_key_arn: pulumi.Input[str]
    source_role_name: str
    tags: Mapping[str, str]
    trigger_branch: str | None = None
    pipeline_arn: pulumi.Input[str] | None = None
    events_role_name: str | None = None     # repository account: puts the push on the bus
    trigger_role_name: str | None = None    # automation account: starts the pipeline

    @property
    def bus_name(self) -> str:
        return f"{self.name_prefix}-source-changes"

    def bus_arn(self) -> pulumi.Output[str]:
        return concat(f"arn:aws:events:{self.region}:", self.automation_account_id,
                                    f":event-bus/{self.bus_name}")


def source_statements(args: CodeCommitSourceArgs) -> list[dict]:
    """The source role's permissions (see the module docstring)."""
    return [
        {"Sid": "ReadTheRepository", "Effect": "Allow", "Action": list(CODECOMMIT_SOURCE),
         "Resource": args.repository_arn},
        {"Sid": "DecryptTheRepository", "Effect": "Allow", "Action": ["kms:Decrypt"],
         "Resource": args.repository_key_arn,
         "Condition": {"StringEquals": {"kms:ViaService": f"codecommit.{args.region}.amazonaws.com"}}},
        # It only uploads the source artifact (policy A grants it no more).
        {"Sid": "WriteTheSourceArtifact", "Effect": "Allow", "Action": ["s3:PutObject"],
         "Resource": concat(args.artifact_bucket_arn, "/*")},
        {"Sid": "ArtifactBucket", "Effect": "Allow", "Action": list(ARTIFACT_BUCKET_READ),
         "Resource": args.artifact_bucket_arn},
        {"Sid": "ArtifactKey", "Effect": "Allow", "Action": list(ARTIFACT_KEY_USE), "Resource": args.artifact_key_arn},
    ]


def push_pattern(args: CodeCommitSourceArgs, account_id: pulumi.Input[str] | None = None) -> dict:
    """A push to the trigger branch of the repository (CodeCommit's reference change events)."""
    branch = args.trigger_branch or ""
    return {"source": ["aws.codecommit"], "detail-type": ["CodeCommit Repository State Change"],
            **({"account": [account_id]} if account_id is not None else {}),
            "resources": [args.repository_arn],
            "detail": {"event": list(REFERENCE_EVENTS), "referenceType": ["branch"],
                       "referenceName": [{"wildcard": branch} if "*" in branch else branch]}}


def bus_policy(args: CodeCommitSourceArgs) -> dict:
    """The automation bus admits the repository account's events role, nothing else."""
    return document({
        "Sid": "RepositoryAccountEventsRole", "Effect": "Allow",
        "Principal": {"AWS": concat("arn:aws:iam::", args.repository_account_id, ":root")},
        "Action": "events:PutEvents", "Resource": args.bus_arn(),
        "Condition": {"ArnEquals": {"aws:PrincipalArn": concat(
            "arn:aws:iam::", args.repository_account_id, ":role/", args.events_role_name or "")}}})


class CodeCommitSource(pulumi.ComponentResource):
    """The cross-account CodeCommit source of one project's pipelines (see the module docstring).
    `repository` and `automation` are providers of those accounts. Outputs: `role_arn` (the
    source actions' role), `bus_arn` (None without a trigger)."""

    role_arn: pulumi.Output[str]
    bus_arn: pulumi.Output[str] | None

    def __init__(self, name: str, args: CodeCommitSourceArgs, repository: pulumi.ProviderResource,
                 automation: pulumi.ProviderResource, opts: pulumi.ResourceOptions | None = None):
        triggered = args.trigger_branch is not None
        if triggered and None in (args.pipeline_arn, args.events_role_name, args.trigger_role_name):
            raise ValueError(f"CodeCommitSource {args.project}: a trigger needs pipeline_arn, events_role_name "
                             "and trigger_role_name")
        super().__init__("ml-platform:delivery:CodeCommitSource", name, None, opts)
        tags = dict(args.tags)

        def at(provider: pulumi.ProviderResource, **more) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, provider=provider, **more)

        def events_role(logical: str, role_name: str | None, description: str, account_id: pulumi.Input[str],
                        policy_name: str, statement: dict, provider: pulumi.ProviderResource):
            """An EventBridge role of `account_id` (its rules only) allowed `statement` alone."""
            role = aws.iam.Role(
                logical, name=role_name, max_session_duration=3600, description=description,
                assume_role_policy=policy_json(service_trust(account_id, "events.amazonaws.com",
                                                             sid="ServiceOfThisAccount")),
                tags=tags, opts=at(provider))
            policy = aws.iam.RolePolicy(f"{logical}-policy", name=policy_name, role=role.name,
                                        policy=policy_json(document(statement)),
                                        opts=pulumi.ResourceOptions(parent=role, provider=provider))
            return role, policy

        role = aws.iam.Role(
            f"{name}-role", name=args.source_role_name, max_session_duration=3600,
            description=f"CodePipeline: the CodeCommit source of {args.project}'s pipelines",
            assume_role_policy=policy_json(document({
                "Sid": "OnlyThePipelineRoles", "Effect": "Allow", "Principal": {"AWS": list(args.pipeline_role_arns)},
                "Action": "sts:AssumeRole"})),
            tags=tags, opts=at(repository))
        aws.iam.RolePolicy(f"{name}-role-policy", name="source", role=role.name,
                           policy=policy_json(document(*source_statements(args))),
                           opts=pulumi.ResourceOptions(parent=role, provider=repository))
        self.role_arn = role.arn
        self.bus_arn = None
        if triggered:
            bus = aws.cloudwatch.EventBus(f"{name}-bus", name=args.bus_name, tags=tags, opts=at(automation))
            bus_access = aws.cloudwatch.EventBusPolicy(f"{name}-bus-policy", event_bus_name=bus.name,
                                                       policy=policy_json(bus_policy(args)), opts=at(automation))
            starter, _ = events_role(
                f"{name}-trigger-role", args.trigger_role_name, f"EventBridge: start {args.project}'s pipeline on a push",
                args.automation_account_id, "start-pipeline",
                {"Sid": "StartThePipeline", "Effect": "Allow", "Action": ["codepipeline:StartPipelineExecution"],
                 "Resource": args.pipeline_arn}, automation)
            arrived = aws.cloudwatch.EventRule(
                f"{name}-push", name=f"{args.name_prefix}-source-push", event_bus_name=bus.name,
                description=f"A push to {args.trigger_branch} of {args.project}'s repository",
                event_pattern=policy_json(push_pattern(args, args.repository_account_id)), tags=tags,
                opts=at(automation))
            aws.cloudwatch.EventTarget(f"{name}-push-pipeline", rule=arrived.name, event_bus_name=bus.name,
                                       target_id="pipeline", arn=args.pipeline_arn, role_arn=starter.arn,
                                       opts=at(automation))
            forwarder, put = events_role(
                f"{name}-events-role", args.events_role_name,
                f"EventBridge: carry pushes to {args.project}'s repository to the automation account",
                args.repository_account_id, "put-events-on-source-bus",
                {"Sid": "SourceChangesBus", "Effect": "Allow", "Action": "events:PutEvents",
                 "Resource": args.bus_arn()}, repository)
            pushed = aws.cloudwatch.EventRule(
                f"{name}-pushed", name=f"{args.name_prefix}-source-push",
                description=f"A push to {args.trigger_branch} of {args.project}'s repository: to the automation account",
                event_pattern=policy_json(push_pattern(args)), tags=tags, opts=at(repository))
            aws.cloudwatch.EventTarget(f"{name}-pushed-bus", rule=pushed.name, target_id="automation-source-bus",
                                       arn=args.bus_arn(), role_arn=forwarder.arn,
                                       opts=at(repository, depends_on=[bus, bus_access, put]))
            self.bus_arn = pulumi.Output.all(bus.id, args.bus_arn()).apply(lambda v: v[1])
        self.register_outputs({"role_arn": self.role_arn, "bus_arn": self.bus_arn})
