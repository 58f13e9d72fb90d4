"""Athena workgroups whose settings users cannot override: results KMS-encrypted in a given
bucket and prefix, owned by the bucket owner, and a per-query scan limit (cost guardrail)."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from policy_documents.serialize import concat

# Athena refuses smaller per-query cutoffs: 10 MB in decimal (its API's BytesScannedCutoffValue
# minimum, 10,000,000 bytes), not 10 MiB.
MIN_BYTES_SCANNED_CUTOFF = 10_000_000


class QueryWorkgroup(pulumi.ComponentResource):
    """One Athena workgroup with enforced configuration.

    Results go to `s3://<results_bucket>/<results_prefix>` encrypted with `kms_key_arn`
    (SSE_KMS), in a bucket that must belong to `expected_bucket_owner`. Queries scanning more
    than `bytes_scanned_cutoff` bytes are cancelled.
    """

    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        workgroup_name: str,
        results_bucket: pulumi.Input[str],
        results_prefix: str,
        kms_key_arn: pulumi.Input[str],
        bytes_scanned_cutoff: int,
        expected_bucket_owner: pulumi.Input[str],
        description: str = "",
        tags: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        if bytes_scanned_cutoff < MIN_BYTES_SCANNED_CUTOFF:
            raise ValueError(f"workgroup {workgroup_name}: bytes_scanned_cutoff {bytes_scanned_cutoff} is below Athena's minimum {MIN_BYTES_SCANNED_CUTOFF}")
        super().__init__("ml-platform:data:QueryWorkgroup", name, None, opts)
        workgroup = aws.athena.Workgroup(
            name,
            name=workgroup_name,
            description=description,
            state="ENABLED",
            # Named queries are kept on destroy; results live in a protected bucket anyway.
            force_destroy=False,
            configuration=aws.athena.WorkgroupConfigurationArgs(
                enforce_workgroup_configuration=True,
                enable_minimum_encryption_configuration=True,
                publish_cloudwatch_metrics_enabled=True,
                requester_pays_enabled=False,
                bytes_scanned_cutoff_per_query=bytes_scanned_cutoff,
                result_configuration=aws.athena.WorkgroupConfigurationResultConfigurationArgs(
                    output_location=concat("s3://", results_bucket, "/", results_prefix),
                    expected_bucket_owner=expected_bucket_owner,
                    acl_configuration=aws.athena.WorkgroupConfigurationResultConfigurationAclConfigurationArgs(
                        s3_acl_option="BUCKET_OWNER_FULL_CONTROL"),
                    encryption_configuration=aws.athena.WorkgroupConfigurationResultConfigurationEncryptionConfigurationArgs(
                        encryption_option="SSE_KMS", kms_key_arn=kms_key_arn),
                ),
            ),
            tags=dict(tags or {}),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.name, self.arn = workgroup.name, workgroup.arn
        self.register_outputs({"name": self.name, "arn": self.arn})
