"""Per-account baseline in every account and allowed region (guardrails LOG-3, S3-1).

AWS offers no organization-wide switch for an AWS Config recorder, an account-level S3 public
access block or EBS encryption by default, so they reach the member accounts through a
service-managed CloudFormation StackSet with automatic deployment: an instance per allowed
region targets the organization root (or chosen OUs), and every account that joins later gets
the baseline without a code change and without this stack growing.

Service-managed StackSets never deploy to the management account; `ManagementAccountBaseline`
builds the same baseline there directly.

The template is Python data (`baseline_template()`), serialized once; tests validate it with
cfn-lint. What it creates in each account and region:

* an AWS Config recorder of all supported resource types (global types in the home region
  only, so IAM is recorded once), its role, and a delivery channel to the central config
  history bucket encrypted with the log key — unless Control Tower owns the recorders
  (parameter `DeployConfigRecorder`);
* EBS encryption by default, and (home region only; the setting is account-wide) the
  account-level S3 public access block, both applied by Systems Manager State Manager with the
  AWS-owned runbooks `AWSConfigRemediation-EnableEbsEncryptionByDefault` and
  `AWSConfigRemediation-ConfigureS3PublicAccessBlock`, re-applied daily so drift is undone.
  CloudFormation has no resource type for either setting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.naming import regional_suffix
from policy_documents.serialize import document, to_json

DELIVERY_FREQUENCIES = ["One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours"]
EBS_RUNBOOK = "AWSConfigRemediation-EnableEbsEncryptionByDefault"
S3_BLOCK_RUNBOOK = "AWSConfigRemediation-ConfigureS3PublicAccessBlock"
# Re-apply the account settings daily: drift (someone turning them off) is undone.
REAPPLY_SCHEDULE = "rate(1 day)"


def _sub(text: str) -> dict:
    return {"Fn::Sub": text}


def _service_trust(service: str) -> dict:
    # The service may assume the role only on behalf of this account (confused deputy).
    return document({
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
    })


def baseline_template() -> dict:
    """The account-baseline CloudFormation template, as data."""
    automation_role = {"Fn::GetAtt": ["BaselineAutomationRole", "Arn"]}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "ml-platform account baseline: AWS Config recorder and delivery channel (LOG-3), "
                       "account-level S3 public access block (S3-1), EBS encryption by default, "
                       "break-glass role (IAM-3)",
        "Parameters": {
            "NamePrefix": {"Type": "String", "AllowedPattern": "^[a-z][a-z0-9-]*[a-z0-9]$",
                           "Description": "Platform name prefix, used in resource names"},
            "HomeRegion": {"Type": "String", "Description": "Region that records global resources and holds account-wide settings"},
            "ConfigBucketName": {"Type": "String", "Description": "Central AWS Config history bucket (log-archive account)"},
            "LogKeyArn": {"Type": "String", "Description": "KMS key ARN for AWS Config deliveries"},
            "DeliveryFrequency": {"Type": "String", "AllowedValues": DELIVERY_FREQUENCIES, "Default": "TwentyFour_Hours",
                                  "Description": "How often AWS Config delivers configuration snapshots"},
            "DeployConfigRecorder": {"Type": "String", "AllowedValues": ["true", "false"], "Default": "true",
                                     "Description": "false when Control Tower owns the recorders"},
            "BreakGlassRoleName": {"Type": "String", "Description": "Break-glass role (exempt from the SCPs, IAM-3)"},
            "ManagementAccountId": {"Type": "String", "AllowedPattern": "^\\d{12}$",
                                    "Description": "Account whose break-glass role may assume this account's"},
        },
        "Conditions": {
            "IsHomeRegion": {"Fn::Equals": [{"Ref": "AWS::Region"}, {"Ref": "HomeRegion"}]},
            "DeployRecorder": {"Fn::Equals": [{"Ref": "DeployConfigRecorder"}, "true"]},
        },
        "Resources": {
            "ConfigRecorderRole": {
                "Type": "AWS::IAM::Role",
                "Condition": "DeployRecorder",
                "Properties": {
                    # IAM is global: one role per region keeps the stack instances independent.
                    "RoleName": _sub("${NamePrefix}-config-recorder-${AWS::Region}"),
                    "Description": "AWS Config recorder (ml-platform LOG-3)",
                    "AssumeRolePolicyDocument": _service_trust("config.amazonaws.com"),
                    "ManagedPolicyArns": [_sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AWS_ConfigRole")],
                    # Used for delivery only where the bucket is in the recorder's own account
                    # (the log-archive account); elsewhere Config delivers as the service.
                    "Policies": [{
                        "PolicyName": "deliver-to-central-bucket",
                        "PolicyDocument": document(
                            {
                                "Sid": "ConfigHistory",
                                "Effect": "Allow",
                                "Action": ["s3:GetBucketAcl", "s3:ListBucket", "s3:PutObject"],
                                "Resource": [
                                    _sub("arn:${AWS::Partition}:s3:::${ConfigBucketName}"),
                                    _sub("arn:${AWS::Partition}:s3:::${ConfigBucketName}/AWSLogs/${AWS::AccountId}/Config/*"),
                                ],
                            },
                            {
                                "Sid": "LogKey",
                                "Effect": "Allow",
                                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                                "Resource": {"Ref": "LogKeyArn"},
                            },
                        ),
                    }],
                },
            },
            "ConfigRecorder": {
                "Type": "AWS::Config::ConfigurationRecorder",
                "Condition": "DeployRecorder",
                "Properties": {
                    "Name": _sub("${NamePrefix}-recorder"),
                    "RoleARN": {"Fn::GetAtt": ["ConfigRecorderRole", "Arn"]},
                    "RecordingGroup": {
                        "AllSupported": True,
                        "IncludeGlobalResourceTypes": {"Fn::If": ["IsHomeRegion", True, False]},
                    },
                },
            },
            "ConfigDeliveryChannel": {
                "Type": "AWS::Config::DeliveryChannel",
                "Condition": "DeployRecorder",
                "DependsOn": "ConfigRecorder",
                "Properties": {
                    "Name": _sub("${NamePrefix}-delivery"),
                    "S3BucketName": {"Ref": "ConfigBucketName"},
                    "S3KmsKeyArn": {"Ref": "LogKeyArn"},
                    "ConfigSnapshotDeliveryProperties": {"DeliveryFrequency": {"Ref": "DeliveryFrequency"}},
                },
            },
            # IAM-3: the break-glass role in every account, for emergencies only: assumable from
            # the management account's own break-glass role, with MFA, for one hour at a time.
            # (IAM is global: created once, from the home-region instance.)
            "BreakGlassRole": {
                "Type": "AWS::IAM::Role",
                "Condition": "IsHomeRegion",
                "Properties": {
                    "RoleName": {"Ref": "BreakGlassRoleName"},
                    "Description": "ml-platform break-glass access (IAM-3); every use is an alert",
                    "MaxSessionDuration": 3600,
                    "AssumeRolePolicyDocument": document({
                        "Effect": "Allow",
                        "Principal": {"AWS": _sub("arn:${AWS::Partition}:iam::${ManagementAccountId}:root")},
                        "Action": "sts:AssumeRole",
                        "Condition": {
                            "ArnEquals": {"aws:PrincipalArn": _sub(
                                "arn:${AWS::Partition}:iam::${ManagementAccountId}:role/${BreakGlassRoleName}")},
                            "Bool": {"aws:MultiFactorAuthPresent": "true"},
                        },
                    }),
                    "ManagedPolicyArns": [_sub("arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess")],
                },
            },
            "BaselineAutomationRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": _sub("${NamePrefix}-account-baseline-${AWS::Region}"),
                    "Description": "Applies the account baseline through Systems Manager Automation (ml-platform S3-1)",
                    "AssumeRolePolicyDocument": _service_trust("ssm.amazonaws.com"),
                    "Policies": [{
                        "PolicyName": "account-baseline",
                        "PolicyDocument": document(
                            {
                                "Sid": "EbsEncryptionByDefault",
                                "Effect": "Allow",
                                "Action": ["ec2:EnableEbsEncryptionByDefault", "ec2:GetEbsEncryptionByDefault"],
                                "Resource": "*",
                            },
                            {
                                "Sid": "AccountPublicAccessBlock",
                                "Effect": "Allow",
                                "Action": ["s3:PutAccountPublicAccessBlock", "s3:GetAccountPublicAccessBlock"],
                                "Resource": "*",
                            },
                        ),
                    }],
                },
            },
            "EbsEncryptionByDefault": {
                "Type": "AWS::SSM::Association",
                "Properties": {
                    "AssociationName": _sub("${NamePrefix}-ebs-encryption-by-default"),
                    "Name": EBS_RUNBOOK,
                    "Parameters": {"AutomationAssumeRole": [automation_role]},
                    "ScheduleExpression": REAPPLY_SCHEDULE,
                },
            },
            "S3AccountPublicAccessBlock": {
                "Type": "AWS::SSM::Association",
                "Condition": "IsHomeRegion",
                "Properties": {
                    "AssociationName": _sub("${NamePrefix}-s3-account-public-access-block"),
                    "Name": S3_BLOCK_RUNBOOK,
                    "Parameters": {
                        "AccountId": [{"Ref": "AWS::AccountId"}],
                        "AutomationAssumeRole": [automation_role],
                        "BlockPublicAcls": ["true"],
                        "IgnorePublicAcls": ["true"],
                        "BlockPublicPolicy": ["true"],
                        "RestrictPublicBuckets": ["true"],
                    },
                    "ScheduleExpression": REAPPLY_SCHEDULE,
                },
            },
        },
    }


def baseline_template_body() -> str:
    """The template serialized once (minified, deterministic)."""
    return to_json(baseline_template())


class AccountBaselineStackSet(pulumi.ComponentResource):
    """A service-managed StackSet of the account baseline with automatic deployment, and one
    instance per region targeting `target_ou_ids` (the root reaches every account).

    Created from the management account (`call_as` SELF), the only account that may
    administer service-managed StackSets: their execution roles may create the break-glass
    role in every account (IAM-3). The StackSet is protected: deleting it would remove AWS
    Config from every account (LOG-3); instances retain their stacks if removed.
    """

    name: pulumi.Output[str]

    def __init__(self, name: str, stack_set_name: str, parameters: Mapping[str, pulumi.Input[str]],
                 target_ou_ids: pulumi.Input[Sequence[str]], regions: Sequence[str], tags: Mapping[str, str],
                 call_as: str = "SELF", depends_on: Sequence[pulumi.Resource] = (),
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:security:AccountBaselineStackSet", name, None, opts)
        stack_set = aws.cloudformation.StackSet(
            name,
            name=stack_set_name,
            description="ml-platform account baseline (LOG-3, S3-1): AWS Config recorder, S3 account public access block, EBS encryption by default",
            permission_model="SERVICE_MANAGED",
            call_as=call_as,
            auto_deployment=aws.cloudformation.StackSetAutoDeploymentArgs(
                enabled=True, retain_stacks_on_account_removal=False),
            managed_execution=aws.cloudformation.StackSetManagedExecutionArgs(active=True),
            capabilities=["CAPABILITY_NAMED_IAM"],
            template_body=baseline_template_body(),
            parameters=dict(parameters),
            operation_preferences=aws.cloudformation.StackSetOperationPreferencesArgs(
                region_concurrency_type="SEQUENTIAL", region_orders=list(regions),
                max_concurrent_percentage=25, failure_tolerance_percentage=10),
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=self, protect=True, depends_on=list(depends_on)),
        )
        for region in regions:
            aws.cloudformation.StackSetInstance(
                f"{name}-{region}",
                stack_set_name=stack_set.name,
                call_as=call_as,
                stack_set_instance_region=region,
                deployment_targets=aws.cloudformation.StackSetInstanceDeploymentTargetsArgs(
                    organizational_unit_ids=target_ou_ids),
                operation_preferences=aws.cloudformation.StackSetInstanceOperationPreferencesArgs(
                    max_concurrent_percentage=25, failure_tolerance_percentage=10),
                retain_stack=True,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.name = stack_set.name
        self.register_outputs({"name": self.name})


class ManagementAccountBaseline(pulumi.ComponentResource):
    """The same baseline in the management account, which StackSets never reach: a Config
    recorder and delivery channel per region, EBS encryption by default per region and the
    account-level S3 public access block. `providers` maps each allowed region to a provider
    in the management account; the first is the home region."""

    def __init__(self, name: str, prefix: str, management_account_id: str, providers: Mapping[str, pulumi.ProviderResource],
                 config_bucket_name: pulumi.Input[str], log_key_arn: pulumi.Input[str], delivery_frequency: str,
                 tags: Mapping[str, str], partition: str = "aws", depends_on: Sequence[pulumi.Resource] = (),
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:security:ManagementAccountBaseline", name, None, opts)
        home, home_provider = next(iter(providers.items()))
        on_home = pulumi.ResourceOptions(parent=self, provider=home_provider)
        trust = document({
            "Effect": "Allow",
            "Principal": {"Service": "config.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": management_account_id}},
        })
        role = aws.iam.Role(f"{name}-config-recorder", name=f"{prefix}-config-recorder", assume_role_policy=to_json(trust),
                            description="AWS Config recorder (ml-platform LOG-3)", tags=dict(tags), opts=on_home)
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-config-recorder-policy", role=role.name,
            policy_arn=f"arn:{partition}:iam::aws:policy/service-role/AWS_ConfigRole", opts=on_home)
        aws.s3.AccountPublicAccessBlock(
            f"{name}-s3-public-access-block", block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=on_home)
        for region, provider in providers.items():
            suffix = regional_suffix(region, home)
            opts_r = pulumi.ResourceOptions(parent=self, provider=provider)
            recorder = aws.cfg.Recorder(
                f"{name}-recorder{suffix}",
                name=f"{prefix}-recorder",
                role_arn=role.arn,
                recording_group=aws.cfg.RecorderRecordingGroupArgs(
                    all_supported=True, include_global_resource_types=region == home),
                opts=pulumi.ResourceOptions(parent=self, provider=provider, protect=True, depends_on=[attachment]),
            )
            channel = aws.cfg.DeliveryChannel(
                f"{name}-delivery{suffix}",
                name=f"{prefix}-delivery",
                s3_bucket_name=config_bucket_name,
                s3_kms_key_arn=log_key_arn,
                snapshot_delivery_properties=aws.cfg.DeliveryChannelSnapshotDeliveryPropertiesArgs(
                    delivery_frequency=delivery_frequency),
                opts=pulumi.ResourceOptions(parent=self, provider=provider, protect=True,
                                            depends_on=[recorder, *depends_on]),
            )
            aws.cfg.RecorderStatus(f"{name}-recorder-status{suffix}", name=recorder.name, is_enabled=True,
                                   opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[channel]))
            aws.ebs.EncryptionByDefault(f"{name}-ebs-encryption{suffix}", enabled=True, opts=opts_r)
        self.register_outputs({})
