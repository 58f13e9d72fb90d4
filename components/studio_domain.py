"""A SageMaker Studio domain inside a project VPC (whitepaper "Data science experimentation
environment"): `VpcOnly` in the private subnets with the workload security group, the project
key on EFS and the default volumes, JupyterLab and Code Editor lifecycle configurations with
idle shutdown, the SM-8 instance types as default resource specs, and one user profile per
configured person, tagged with its owner (the ABAC key)."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

APP_TYPES = ("JupyterLab", "CodeEditor")


@dataclass(frozen=True)
class StudioProfile:
    name: str
    owner: str  # the person's user name (Identity Center user name in SSO mode)


@dataclass(frozen=True)
class StudioDomainArgs:
    domain_name: str
    auth_mode: str  # SSO or IAM
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    execution_role_arn: pulumi.Input[str]
    lifecycle_script: str  # the shell script both app types run at start
    default_instance_type: str
    idle_timeout_minutes: int
    owner_tag: str
    notebook_output: str = "disabled"  # or encrypted (then shared to `sharing_s3_path`)
    sharing_s3_path: pulumi.Input[str] | None = None
    profiles: Sequence[StudioProfile] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


class StudioDomain(pulumi.ComponentResource):
    """Outputs `domain_id`, `domain_arn`, `lifecycle_config_arns` (app type -> ARN),
    `profile_arns` (name -> ARN)."""

    def __init__(self, name: str, args: StudioDomainArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:workspace:StudioDomain", name, None, opts)
        a = args
        child = pulumi.ResourceOptions(parent=self)
        content = base64.b64encode(a.lifecycle_script.encode()).decode()
        self.lifecycle_config_arns: dict[str, pulumi.Output[str]] = {}
        for app in APP_TYPES:
            config = aws.sagemaker.StudioLifecycleConfig(
                f"{name}-{app.lower()}-lifecycle",
                studio_lifecycle_config_name=f"{a.domain_name}-{app.lower()}",
                studio_lifecycle_config_app_type=app,
                studio_lifecycle_config_content=content,
                tags=dict(a.tags), opts=child)
            self.lifecycle_config_arns[app] = config.arn
        idle = {"idle_timeout_in_minutes": a.idle_timeout_minutes, "lifecycle_management": "ENABLED",
                "max_idle_timeout_in_minutes": a.idle_timeout_minutes}
        lab, editor = self.lifecycle_config_arns["JupyterLab"], self.lifecycle_config_arns["CodeEditor"]
        if a.notebook_output == "encrypted":
            sharing = aws.sagemaker.DomainDefaultUserSettingsSharingSettingsArgs(
                notebook_output_option="Allowed", s3_kms_key_id=a.kms_key_arn, s3_output_path=a.sharing_s3_path)
        else:
            sharing = aws.sagemaker.DomainDefaultUserSettingsSharingSettingsArgs(notebook_output_option="Disabled")
        domain = aws.sagemaker.Domain(
            f"{name}-domain",
            domain_name=a.domain_name,
            auth_mode=a.auth_mode,
            app_network_access_type="VpcOnly",
            vpc_id=a.vpc_id,
            subnet_ids=list(a.subnet_ids),
            kms_key_id=a.kms_key_arn,
            app_security_group_management="Customer",
            domain_settings=aws.sagemaker.DomainDomainSettingsArgs(security_group_ids=[a.security_group_id]),
            default_user_settings=aws.sagemaker.DomainDefaultUserSettingsArgs(
                execution_role=a.execution_role_arn,
                security_groups=[a.security_group_id],
                sharing_settings=sharing,
                studio_web_portal="ENABLED",
                jupyter_lab_app_settings=aws.sagemaker.DomainDefaultUserSettingsJupyterLabAppSettingsArgs(
                    lifecycle_config_arns=[lab],
                    default_resource_spec=aws.sagemaker.DomainDefaultUserSettingsJupyterLabAppSettingsDefaultResourceSpecArgs(
                        instance_type=a.default_instance_type, lifecycle_config_arn=lab),
                    app_lifecycle_management=aws.sagemaker.DomainDefaultUserSettingsJupyterLabAppSettingsAppLifecycleManagementArgs(
                        idle_settings=aws.sagemaker.DomainDefaultUserSettingsJupyterLabAppSettingsAppLifecycleManagementIdleSettingsArgs(**idle))),
                code_editor_app_settings=aws.sagemaker.DomainDefaultUserSettingsCodeEditorAppSettingsArgs(
                    lifecycle_config_arns=[editor],
                    default_resource_spec=aws.sagemaker.DomainDefaultUserSettingsCodeEditorAppSettingsDefaultResourceSpecArgs(
                        instance_type=a.default_instance_type, lifecycle_config_arn=editor),
                    app_lifecycle_management=aws.sagemaker.DomainDefaultUserSettingsCodeEditorAppSettingsAppLifecycleManagementArgs(
                        idle_settings=aws.sagemaker.DomainDefaultUserSettingsCodeEditorAppSettingsAppLifecycleManagementIdleSettingsArgs(**idle))),
            ),
            # Studio keeps home directories (EFS) when the domain is deleted.
            retention_policy=aws.sagemaker.DomainRetentionPolicyArgs(home_efs_file_system="Retain"),
            tag_propagation="ENABLED",
            tags=dict(a.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        self.domain_id = domain.id
        self.domain_arn = domain.arn
        self.profile_arns: dict[str, pulumi.Output[str]] = {}
        for profile in a.profiles:
            sso = a.auth_mode == "SSO"
            user = aws.sagemaker.UserProfile(
                f"{name}-profile-{profile.name}",
                domain_id=domain.id,
                user_profile_name=profile.name,
                single_sign_on_user_identifier="UserName" if sso else None,
                single_sign_on_user_value=profile.owner if sso else None,
                tags={**a.tags, a.owner_tag: profile.owner},
                opts=child)
            self.profile_arns[profile.name] = user.arn
        self.register_outputs({"domain_id": self.domain_id, "domain_arn": self.domain_arn,
                               "lifecycle_config_arns": self.lifecycle_config_arns, "profile_arns": self.profile_arns})
