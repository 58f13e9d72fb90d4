"""The analyzer client speaks the engine's protocol: start, configuration, unknowns, errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ml_guardrails import all_policies
from pack_helpers import DEFAULT_PROVIDER, PACK_DIR, STACK, TAGS, UNKNOWN, assert_clean, assert_violation, provider, res, urn

from offline_preview.analysis import analyzed_resources
from offline_preview.engine import Registration, StackRun
from offline_preview.policy_analyzer import (
    AnalyzedResource,
    PolicyAnalyzer,
    PolicyConfigError,
    PolicyPackError,
)

BAD_NOTEBOOK = res("aws:sagemaker/notebookInstance:NotebookInstance", "nb", {"instanceType": "ml.t3.medium"})

# Every type the pack reads, for the robustness tests below.
TYPES = [
    "aws:s3/bucket:Bucket", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketPolicy:BucketPolicy", "aws:s3/bucketAcl:BucketAcl",
    "aws:kms/key:Key", "aws:kms/keyPolicy:KeyPolicy", "aws:iam/role:Role", "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy", "aws:iam/user:User", "aws:iam/accessKey:AccessKey",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:organizations/policy:Policy",
    "aws:organizations/policyAttachment:PolicyAttachment", "aws:organizations/account:Account",
    "aws:cloudtrail/trail:Trail", "aws:cfg/recorder:Recorder", "aws:cfg/deliveryChannel:DeliveryChannel",
    "aws:sagemaker/notebookInstance:NotebookInstance", "aws:sagemaker/domain:Domain",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration", "aws:sagemaker/endpoint:Endpoint",
    "aws:sagemaker/model:Model", "aws:ec2/vpc:Vpc", "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/natGateway:NatGateway", "aws:ec2/subnet:Subnet", "aws:ec2/securityGroup:SecurityGroup",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:ec2/vpcEndpoint:VpcEndpoint",
    "aws:ec2/flowLog:FlowLog", "aws:ec2transitgateway/vpcAttachment:VpcAttachment", "aws:ecr/repository:Repository",
    "aws:ecr/repositoryPolicy:RepositoryPolicy", "aws:codepipeline/pipeline:Pipeline", "aws:codebuild/project:Project",
    "aws:cloudformation/stackSet:StackSet", "pulumi:providers:aws",
]
PROPERTIES = ["bucket", "policy", "rules", "versioningConfiguration", "acl", "assumeRolePolicy", "inlinePolicies",
              "content", "type", "policyId", "targetId", "recordingGroup", "kmsKeyId", "kmsKeyArn", "vpcConfig",
              "vpcId", "subnetId", "ingress", "cidrIpv4", "privateDnsEnabled", "logDestination", "artifactStores",
              "environment", "encryptionKey", "encryptionConfigurations", "imageScanningConfiguration",
              "imageTagMutability", "templateBody", "tags", "tagsAll", "region", "defaultTags", "enableKeyRotation",
              "deletionWindowInDays", "instanceType", "role", "policyArn", "s3BucketName", "isMultiRegionTrail"]


def _policy_errors(diagnostics):
    return [d.message for d in diagnostics if "could not evaluate" in d.message or "can't run policy" in d.message]


def test_the_pack_starts_as_the_engine_starts_it(analyzer):
    assert analyzer.command == [sys.executable, "-u", "-m", "pulumi.policy", analyzer.engine_address, "."]
    assert analyzer.pack_dir == PACK_DIR and analyzer.running
    assert analyzer.info.version == "0.1.0" and analyzer.plugin_version == "1.21.0"  # PulumiPolicy.yaml wins
    assert len(analyzer.info.policies) == len(all_policies()) >= 44
    schema = analyzer.info.policy("reg-1-allowed-regions")
    assert schema.required == ("allowedRegions",) and schema.policy_type == "stack"


@pytest.mark.parametrize("value", [UNKNOWN, None, "not json", 7, [UNKNOWN], {"x": UNKNOWN}])
def test_any_value_in_any_property_never_breaks_a_policy(analyzer, value):
    resources = [res(t, f"r{i}", {p: value for p in PROPERTIES}, protect=True) for i, t in enumerate(TYPES)]
    diagnostics = analyzer.analyze_each(resources) + analyzer.analyze_stack(resources)
    assert not _policy_errors(diagnostics)


def test_settings_unknown_during_preview_are_not_violations(analyzer):
    unknown = {
        "aws:sagemaker/notebookInstance:NotebookInstance": ["instanceType", "kmsKeyId", "subnetId", "securityGroups",
                                                            "directInternetAccess", "rootAccess"],
        "aws:sagemaker/domain:Domain": ["kmsKeyId", "vpcId", "subnetIds", "appNetworkAccessType"],
        "aws:sagemaker/model:Model": ["vpcConfig", "enableNetworkIsolation"],
        "aws:kms/key:Key": ["enableKeyRotation", "deletionWindowInDays", "policy"],
        "aws:cloudtrail/trail:Trail": ["isMultiRegionTrail", "isOrganizationTrail", "enableLogFileValidation", "kmsKeyId"],
        "aws:ecr/repository:Repository": ["imageScanningConfiguration", "imageTagMutability", "encryptionConfigurations"],
        "aws:codebuild/project:Project": ["encryptionKey", "environment"],
        "aws:codepipeline/pipeline:Pipeline": ["artifactStores"],
        "aws:iam/role:Role": ["assumeRolePolicy", "inlinePolicies"],
    }
    resources = [res(t, f"r{i}", {p: UNKNOWN for p in props}, protect=True) for i, (t, props) in enumerate(unknown.items())]
    assert [d.policy_name for d in analyzer.analyze_each(resources)] == []


def test_all_disabled_and_per_policy_levels(analyzer):
    assert_violation(analyzer.analyze(BAD_NOTEBOOK), "sm-5-no-root-access")
    with analyzer.configured({"all": "disabled"}):
        assert analyzer.analyze(BAD_NOTEBOOK) == []
        assert analyzer.analyze_stack([DEFAULT_PROVIDER, BAD_NOTEBOOK]) == []
    with analyzer.configured({"all": "advisory", "sm-5-no-root-access": "disabled"}):
        diagnostics = analyzer.analyze(BAD_NOTEBOOK)
        assert diagnostics and {d.enforcement_level for d in diagnostics} == {"advisory"}
        assert_clean(diagnostics, "sm-5-no-root-access")
    with analyzer.configured({"sm-1-notebook-domain-kms": {"enforcementLevel": "advisory"}}):
        d = assert_violation(analyzer.analyze(BAD_NOTEBOOK), "sm-1-notebook-domain-kms")
        assert d.enforcement_level == "advisory"
    assert assert_violation(analyzer.analyze(BAD_NOTEBOOK), "sm-1-notebook-domain-kms").enforcement_level == "mandatory"


def test_invalid_configurations_are_rejected_like_the_cli(analyzer):
    before = (analyzer.policy_config, dict(analyzer._current_config))
    with pytest.raises(PolicyConfigError, match="not a valid enforcement level"):
        with analyzer.configured({"sm-5-no-root-access": "loud"}):
            pass
    with pytest.raises(PolicyConfigError, match=r"reg-1-allowed-regions.allowedRegions: expected array"):
        with analyzer.configured({"reg-1-allowed-regions": {"allowedRegions": "eu-west-1"}}):
            pass
    with pytest.raises(PolicyConfigError, match="reg-1-allowed-regions: allowedRegions is required"):
        analyzer.configure({})
    # A rejected configuration is never sent: the pack keeps the one it had, and so does the client.
    assert (analyzer.policy_config, analyzer._current_config) == before
    assert before[1]["reg-1-allowed-regions"]["allowedRegions"] == ["eu-west-1", "eu-central-1"]
    abroad = provider("abroad", region="us-east-1", tags=TAGS)
    assert_violation(analyzer.analyze_stack([abroad]), "reg-1-allowed-regions", "us-east-1")
    assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER]), "reg-1-allowed-regions")
    assert assert_violation(analyzer.analyze(BAD_NOTEBOOK), "sm-1-notebook-domain-kms").enforcement_level == "mandatory"


def test_stack_tags_reach_the_policies(analyzer, stack_tags):
    untagged = provider("untagged", tags=None)
    endpoint = res("aws:sagemaker/endpoint:Endpoint", "ep", {"endpointConfigName": "c"}, prov=untagged)
    assert_clean(analyzer.analyze_stack([untagged, endpoint]), "sm-7-no-endpoints-in-dev-sandbox")
    with stack_tags({"environment": "dev"}):
        assert_violation(analyzer.analyze_stack([untagged, endpoint]), "sm-7-no-endpoints-in-dev-sandbox",
                         "from the stack's tags")


def test_stack_violations_carry_the_resource_urn_and_policy_metadata(analyzer):
    vpc = res("aws:ec2/vpc:Vpc", "spoke", {"cidrBlock": "10.0.0.0/16"})
    d = assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, vpc]), "net-4-vpc-flow-logs")
    assert (d.urn, d.policy_pack_name, d.severity) == (urn("aws:ec2/vpc:Vpc", "spoke"), "ml-guardrails", "medium")
    assert d.policy_pack_version == "0.1.0"
    assert d.message.startswith(d.description + "\n") and "\nRemediation: " in d.message


def test_resources_from_captured_registrations(analyzer):
    # What the preview sends: inputs to Analyze, outputs to AnalyzeStack, the provider resolved.
    prov_urn = DEFAULT_PROVIDER.urn

    def registration(**fields):
        base = dict(custom=True, id="1234", parent=None, provider=None, dependencies=[], property_dependencies={},
                    protect=False, retain_on_delete=False, ignore_changes=[], delete_before_replace=False, import_id=None)
        return Registration(**{**base, **fields})

    run = StackRun(stack=STACK, resources=[
        registration(urn=prov_urn, type="pulumi:providers:aws", name="workload", inputs=DEFAULT_PROVIDER.properties,
                     outputs=DEFAULT_PROVIDER.properties),
        registration(urn=urn("aws:kms/key:Key", "k"), type="aws:kms/key:Key", name="k", inputs={"enableKeyRotation": False},
                     outputs={"enableKeyRotation": False, "arn": "arn"}, provider=f"{prov_urn}::1234", retain_on_delete=True),
    ])
    resources = analyzed_resources(run)
    assert resources[1].provider == {"type": "pulumi:providers:aws", "name": "workload", "urn": prov_urn,
                                     "properties": DEFAULT_PROVIDER.properties}
    assert resources[1].retain_on_delete and "arn" not in resources[1].properties
    assert "arn" in analyzed_resources(run, use_outputs=True)[1].properties
    assert_violation(analyzer.analyze(resources[1]), "kms-1-key-rotation-deletion-window", "does not rotate")
    assert_violation(analyzer.analyze_stack(resources), "state-1-stateful-resources-protected", "Key k is not protected")


def test_a_broken_pack_reports_its_error(tmp_path):
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (tmp_path / "__main__.py").write_text("raise RuntimeError('boom in the pack')\n")
    with pytest.raises(PolicyPackError, match="boom in the pack"):
        with PolicyAnalyzer(tmp_path, {}, startup_timeout=30):
            pass
    with pytest.raises(PolicyPackError, match="no PulumiPolicy.yaml"):
        PolicyAnalyzer(tmp_path / "missing")


SAMPLE_STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")]
                       for p in (Path(__file__).resolve().parents[2] / "stacks").glob("Pulumi.*.yaml"))


@pytest.mark.parametrize("stack", SAMPLE_STACKS)
def test_every_sample_stack_passes_the_mandatory_policies(analyzer, request, stack):
    sample_runs = request.getfixturevalue("sample_runs")
    run = sample_runs(stack)
    previous = analyzer.stack
    try:
        analyzer.configure_stack(stack)
        diagnostics = analyzer.analyze_each(analyzed_resources(run))
        diagnostics += analyzer.analyze_stack(analyzed_resources(run, use_outputs=True))
    finally:
        analyzer.configure_stack(previous)
    assert [f"{d.policy_name}: {d.message}" for d in diagnostics if d.is_mandatory] == []


def test_analyzed_resource_defaults():
    r = AnalyzedResource(urn="u", type="t", name="n")
    assert (r.properties, r.dependencies, r.property_dependencies, r.provider, r.protect) == ({}, [], {}, None, False)
    assert TAGS["environment"] == "dev"


def test_logging_flags_go_before_the_plugin_arguments_and_shared_analyzers_start_once():
    from offline_preview.policy_analyzer import shared_analyzer

    flagged = PolicyAnalyzer(PACK_DIR, log_to_stderr=True, verbosity=9, tracing="127.0.0.1:1")
    assert flagged.flags == ["--logtostderr", "-v=9", "--tracing", "127.0.0.1:1"]
    config = {"reg-1-allowed-regions": {"allowedRegions": ["eu-west-1"]},
              "sm-8-notebook-instance-types": {"allowedInstanceTypes": ["ml.t3.medium"]}}
    first = shared_analyzer(PACK_DIR, config, log_to_stderr=True, verbosity=9)
    assert first.command[4:7] == ["--logtostderr", "-v=9", first.engine_address]
    assert shared_analyzer(PACK_DIR, dict(config)) is first and first.running
    assert_violation(first.analyze(BAD_NOTEBOOK), "sm-5-no-root-access")
    first.close()
    assert not first.running


def test_central_endpoint_mode_passes_the_mandatory_policies(analyzer, request, sample_platform):
    # The other supported endpoint layout: central endpoints in the hub, private zones in spokes.
    sample_runs, run_platform = request.getfixturevalue("sample_runs"), request.getfixturevalue("run_platform")
    sample_platform["network"]["endpoints"]["mode"] = "central"
    upstream = {s: sample_runs(s).outputs for s in ("organization", "identity", "security")}
    network = run_platform("network", platform=sample_platform, upstream=upstream)
    upstream["network"] = network.outputs
    upstream["data-lake"] = sample_runs("data-lake").outputs
    upstream["shared-services"] = sample_runs("shared-services").outputs
    spoke = run_platform("fraud-detection-dev", platform=sample_platform, upstream=upstream)
    previous = analyzer.stack
    try:
        for run in (network, spoke):
            analyzer.configure_stack(run.stack)
            found = analyzer.analyze_each(analyzed_resources(run))
            found += analyzer.analyze_stack(analyzed_resources(run, use_outputs=True))
            assert [f"{d.policy_name}: {d.message}" for d in found if d.is_mandatory] == [], run.stack
    finally:
        analyzer.configure_stack(previous)
