"""Seeded mutations of the real program, each caught by the policy that should catch it.

Each test runs a sample stack of the real program under the offline engine with one change
seeded into it (a resource transformation, or one extra resource), then sends what it
registered through the real pack over the Analyzer protocol. The unmutated stacks pass (see
test_pack_protocol.py), so each violation here comes from the seeded change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest
from pack_helpers import assert_violation

import stacks.organization
import stacks.project
from offline_preview.engine import discover_stacks
from offline_preview.analysis import analyzed_resources

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "stacks"

Transformation = Callable[[pulumi.ResourceTransformationArgs], pulumi.ResourceTransformationResult | None]


def analyze(analyzer, run):
    previous = analyzer.stack
    try:
        analyzer.configure_stack(run.stack)
        found = analyzer.analyze_each(analyzed_resources(run))
        found += analyzer.analyze_stack(analyzed_resources(run, use_outputs=True))
    finally:
        analyzer.configure_stack(previous)
    return found


def seeded(monkeypatch, module, transformation: Transformation | None = None,
           extra: Callable[[], None] | None = None) -> None:
    """Make `module.run` register a stack transformation first and/or add resources after."""
    original = module.run

    def run(ctx):
        if transformation is not None:
            pulumi.runtime.register_stack_transformation(transformation)
        original(ctx)
        if extra is not None:
            extra()

    monkeypatch.setattr(module, "run", run)


def on_type(type_: str, change: Callable[[dict], dict] | None = None,
            opts: Callable[[pulumi.ResourceOptions], pulumi.ResourceOptions] | None = None,
            name_contains: str = "", first_only: bool = True) -> Transformation:
    done = []

    def transform(args: pulumi.ResourceTransformationArgs):
        if args.type_ != type_ or name_contains not in args.name or (first_only and done):
            return None
        done.append(args.name)
        props = change(dict(args.props)) if change else args.props
        return pulumi.ResourceTransformationResult(props, opts(args.opts) if opts else args.opts)

    return transform


def test_notebook_with_direct_internet_access(monkeypatch, run_platform, analyzer):
    def notebook():
        aws.sagemaker.NotebookInstance(
            "seeded-notebook", instance_type="ml.t3.medium",
            role_arn="arn:aws:iam::123456789012:role/mrd-fraud-detection-dev-data-scientist",
            direct_internet_access="Enabled", root_access="Disabled",
            kms_key_id="arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555",
            subnet_id="subnet-0123456789abcdef0", security_groups=["sg-0123456789abcdef0"])

    seeded(monkeypatch, stacks.project, extra=notebook)
    found = analyze(analyzer, run_platform("fraud-detection-dev"))
    assert_violation(found, "sm-4-no-direct-internet", "seeded-notebook")


def test_bucket_without_kms_encryption(monkeypatch, run_platform, analyzer):
    def sse_s3(props):
        props["rules"] = [aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
            apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="AES256"))]
        return props

    seeded(monkeypatch, stacks.project,
           on_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", sse_s3,
                   name_contains="datasets"))
    found = analyze(analyzer, run_platform("fraud-detection-preprod"))
    assert_violation(found, "s3-2-bucket-sse-kms", "datasets")


def test_security_group_open_to_the_internet(monkeypatch, run_platform, analyzer):
    def anywhere(props):
        props["cidr_ipv4"] = "0.0.0.0/0"
        return props

    seeded(monkeypatch, stacks.project, on_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", anywhere))
    found = analyze(analyzer, run_platform("fraud-detection-dev"))
    assert_violation(found, "net-3-no-ingress-from-anywhere", "0.0.0.0/0")


def test_role_trusting_everyone(monkeypatch, run_platform, analyzer):
    def trust_all(props):
        props["assume_role_policy"] = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})
        return props

    seeded(monkeypatch, stacks.project, on_type("aws:iam/role:Role", trust_all))
    found = analyze(analyzer, run_platform("fraud-detection-dev"))
    assert_violation(found, "iam-2-trusted-principals")


def test_scp_over_the_size_limit(monkeypatch, run_platform, analyzer):
    def oversized(props):
        document = json.loads(props["content"])
        document["Statement"].append({
            "Sid": "SeededPadding", "Effect": "Deny", "Action": "s3:DeleteBucket",
            "Resource": [f"arn:aws:s3:::seeded-padding-bucket-{i:04d}" for i in range(200)]})
        props["content"] = json.dumps(document, separators=(",", ":"))
        return props

    seeded(monkeypatch, stacks.organization, on_type("aws:organizations/policy:Policy", oversized))
    found = analyze(analyzer, run_platform("organization"))
    assert_violation(found, "lim-1-organization-policy-size", "5120")


def test_unprotected_kms_key(monkeypatch, run_platform, analyzer):
    seeded(monkeypatch, stacks.project,
           on_type("aws:kms/key:Key", opts=lambda o: pulumi.ResourceOptions.merge(o, pulumi.ResourceOptions(protect=False))))
    found = analyze(analyzer, run_platform("fraud-detection-prod"))
    assert_violation(found, "state-1-stateful-resources-protected")


@pytest.fixture(autouse=True)
def _sample_runs_first(request):
    # Upstream stacks come from the session's sample runs (tests/conftest.py); they must all be
    # run before a mutation is seeded, or the mutation would leak into those cached runs.
    sample_runs = request.getfixturevalue("sample_runs")
    for stack in discover_stacks(SAMPLE_DIR):
        sample_runs(stack)
