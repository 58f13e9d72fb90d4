"""REG-1, TAG-1 and STATE-1."""

from __future__ import annotations

from pack_helpers import (
    DEFAULT_PROVIDER,
    TAGS,
    UNKNOWN,
    assert_clean,
    assert_violation,
    provider,
    res,
    urn,
)


# -- REG-1 ---------------------------------------------------------------------------------------
def test_providers_in_allowed_regions_pass(analyzer):
    frankfurt = provider("frankfurt", region="eu-central-1", tags=TAGS)
    resources = [DEFAULT_PROVIDER, frankfurt,
                 res("aws:ec2/vpc:Vpc", "a", {"cidrBlock": "10.0.0.0/16"}),
                 res("aws:ec2/vpc:Vpc", "b", {"cidrBlock": "10.1.0.0/16"}, prov=frankfurt)]
    assert_clean(analyzer.analyze_stack(resources), "reg-1-allowed-regions")


def test_provider_outside_the_allowed_regions(analyzer):
    virginia = provider("virginia", region="us-east-1", tags=TAGS)
    resources = [virginia, res("aws:ec2/vpc:Vpc", "a", {"cidrBlock": "10.0.0.0/16"}, prov=virginia)]
    d = assert_violation(analyzer.analyze_stack(resources), "reg-1-allowed-regions",
                         "AWS provider virginia deploys to us-east-1; allowed regions: eu-west-1, eu-central-1")
    assert d.urn == virginia.urn


def test_default_provider_seen_only_through_resources(analyzer):
    default = provider("default_7_51_1", region="us-west-2", tags=TAGS)
    resources = [res("aws:ec2/vpc:Vpc", "a", {"cidrBlock": "10.0.0.0/16"}, prov=default)]
    assert_violation(analyzer.analyze_stack(resources), "reg-1-allowed-regions", "deploys to us-west-2")


def test_global_services_may_use_another_region(analyzer):
    virginia = provider("global", region="us-east-1", tags=TAGS)
    resources = [virginia, res("aws:iam/role:Role", "r", {"assumeRolePolicy": "{}"}, prov=virginia)]
    assert_clean(analyzer.analyze_stack(resources), "reg-1-allowed-regions")


def test_resource_region_override_and_missing_provider_region(analyzer):
    resources = [DEFAULT_PROVIDER, res("aws:s3/bucket:Bucket", "b", {"bucket": "b", "region": "ap-south-1"}, protect=True)]
    assert_violation(analyzer.analyze_stack(resources), "reg-1-allowed-regions", "overrides its region to ap-south-1")
    unset = provider("unset", region=None, tags=TAGS)
    resources = [unset, res("aws:ec2/vpc:Vpc", "a", {}, prov=unset)]
    assert_violation(analyzer.analyze_stack(resources), "reg-1-allowed-regions", "sets no region")
    unknown = provider("later", region=None, tags=TAGS)
    unknown.properties["region"] = UNKNOWN
    assert_clean(analyzer.analyze_stack([unknown, res("aws:ec2/vpc:Vpc", "a", {}, prov=unknown)]), "reg-1-allowed-regions")


# -- TAG-1 ---------------------------------------------------------------------------------------
def test_provider_default_tags_satisfy_mandatory_tags(analyzer):
    resources = [DEFAULT_PROVIDER, res("aws:ec2/vpc:Vpc", "a", {"tags": {"Name": "a"}})]
    assert_clean(analyzer.analyze_stack(resources), "tag-1-mandatory-tags")


def test_missing_mandatory_tags_are_advisory(analyzer):
    bare = provider("bare", tags={"owner": "x"})
    resources = [bare, res("aws:ec2/vpc:Vpc", "a", {"tags": {"project": "p"}}, prov=bare),
                 res("aws:iam/rolePolicy:RolePolicy", "inline", {"role": "r", "policy": "{}"}, prov=bare)]
    diagnostics = analyzer.analyze_stack(resources)
    d = assert_violation(diagnostics, "tag-1-mandatory-tags", "Vpc a is missing mandatory tags: environment, cost-center, "
                         "data-classification", urn_=urn("aws:ec2/vpc:Vpc", "a"))
    assert d.enforcement_level == "advisory"
    assert_clean(diagnostics, "tag-1-mandatory-tags", urn_=urn("aws:iam/rolePolicy:RolePolicy", "inline"))


def test_tags_all_and_unknown_tag_values_count(analyzer):
    bare = provider("bare", tags=None)
    resources = [bare, res("aws:ec2/vpc:Vpc", "a", {"tagsAll": {**TAGS, "owner": UNKNOWN}}, prov=bare)]
    assert_clean(analyzer.analyze_stack(resources), "tag-1-mandatory-tags")


def test_sagemaker_resources_are_tagged_at_creation(analyzer):
    bare = provider("bare", tags={"owner": "x"})
    domain = res("aws:sagemaker/domain:Domain", "studio", {"domainName": "studio"}, prov=bare)
    assert_violation(analyzer.analyze(domain), "tag-1-sagemaker-tagged-at-creation",
                     "Domain studio is created without tags project, environment, cost-center, data-classification")
    tagged = res("aws:sagemaker/domain:Domain", "studio", {"domainName": "studio"})
    assert_clean(analyzer.analyze(tagged), "tag-1-sagemaker-tagged-at-creation")


# -- STATE-1 -------------------------------------------------------------------------------------
def test_stateful_resources_must_be_protected(analyzer):
    resources = [DEFAULT_PROVIDER,
                 res("aws:kms/key:Key", "key", {}, protect=True),
                 res("aws:ecr/repository:Repository", "repo", {"name": "repo"}),
                 res("aws:s3/bucket:Bucket", "b", {"bucket": "b", "forceDestroy": True}, protect=True),
                 res("aws:organizations/account:Account", "acct", {"name": "a"}, protect=True, delete_before_replace=True)]
    diagnostics = analyzer.analyze_stack(resources)
    assert_clean(diagnostics, "state-1-stateful-resources-protected", urn_=urn("aws:kms/key:Key", "key"))
    assert_violation(diagnostics, "state-1-stateful-resources-protected", "stateful Repository repo is not protected")
    assert_violation(diagnostics, "state-1-stateful-resources-protected", "sets forceDestroy")
    assert_violation(diagnostics, "state-1-stateful-resources-protected", "deleteBeforeReplace")


def test_exemption_by_urn_pattern_and_by_tag(analyzer):
    repo = res("aws:ecr/repository:Repository", "scratch-repo", {"name": "scratch", "tags": {"lifecycle": "ephemeral"}})
    config = {"state-1-stateful-resources-protected": {"exemptResources": ["*scratch-*"]}}
    with analyzer.configured(config):
        assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, repo]), "state-1-stateful-resources-protected")
    config = {"state-1-stateful-resources-protected": {"exemptTags": {"lifecycle": "ephemeral"}}}
    with analyzer.configured(config):
        assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, repo]), "state-1-stateful-resources-protected")
    assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, repo]), "state-1-stateful-resources-protected",
                     "not protected")


def test_a_provider_in_a_wrong_region_is_reported_once(analyzer):
    virginia = provider("virginia", region="us-east-1", tags=TAGS)
    resources = [virginia] + [res("aws:ec2/vpc:Vpc", f"v{i}", {"region": "us-east-1"}, prov=virginia) for i in range(3)]
    diagnostics = [d for d in analyzer.analyze_stack(resources) if d.policy_name == "reg-1-allowed-regions"]
    assert [d.urn for d in diagnostics] == [virginia.urn]


def test_service_quota_requests_for_global_services_may_use_us_east_1(analyzer):
    # Organizations' account quota exists in us-east-1 only; a regional service's quota does not.
    virginia = provider("quotas", region="us-east-1", tags=TAGS)
    organizations = res("aws:servicequotas/serviceQuota:ServiceQuota", "accounts",
                        {"serviceCode": "organizations", "quotaCode": "L-29A0C5DF", "value": 19}, prov=virginia)
    assert_clean(analyzer.analyze_stack([virginia, organizations]), "reg-1-allowed-regions")
    ec2 = res("aws:servicequotas/serviceQuota:ServiceQuota", "vcpus",
              {"serviceCode": "ec2", "quotaCode": "L-1216C47A", "value": 64}, prov=virginia)
    assert_violation(analyzer.analyze_stack([virginia, organizations, ec2]), "reg-1-allowed-regions",
                     "AWS provider quotas deploys to us-east-1")
    override = res("aws:servicequotas/serviceQuota:ServiceQuota", "accounts-here",
                   {"serviceCode": "organizations", "quotaCode": "L-29A0C5DF", "value": 19, "region": "us-east-1"})
    assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, override]), "reg-1-allowed-regions")


# -- configured values ---------------------------------------------------------------------------
def test_global_services_and_explicit_regions_are_configurable(analyzer):
    virginia = provider("global", region="us-east-1", tags=TAGS)
    role = res("aws:iam/role:Role", "r", {"assumeRolePolicy": "{}"}, prov=virginia)
    vpc = res("aws:ec2/vpc:Vpc", "v", {"cidrBlock": "10.0.0.0/16"}, prov=virginia)
    # A provider used by a regional service as well is judged by its region.
    assert_violation(analyzer.analyze_stack([virginia, role, vpc]), "reg-1-allowed-regions", "deploys to us-east-1")
    with analyzer.configured({"reg-1-allowed-regions": {"globalServices": ["ec2"]}}):
        # IAM is no longer listed as global: its provider's region counts now.
        assert_violation(analyzer.analyze_stack([virginia, role]), "reg-1-allowed-regions", "deploys to us-east-1")
        assert_clean(analyzer.analyze_stack([virginia, vpc]), "reg-1-allowed-regions")
        override = res("aws:ec2/vpc:Vpc", "o", {"region": "ap-south-1"}, prov=DEFAULT_PROVIDER)
        assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, override]), "reg-1-allowed-regions")
    unset = provider("unset", region=None, tags=TAGS)
    with analyzer.configured({"reg-1-allowed-regions": {"requireExplicitRegion": False}}):
        assert_clean(analyzer.analyze_stack([unset, res("aws:ec2/vpc:Vpc", "a", {}, prov=unset)]), "reg-1-allowed-regions")


def test_tag_exempt_types_are_configurable(analyzer):
    untagged = provider("untagged", tags=None)
    vpc = res("aws:ec2/vpc:Vpc", "v", {"cidrBlock": "10.0.0.0/16"}, prov=untagged)
    collection = res("aws:devopsguru/resourceCollection:ResourceCollection", "c", {"type": "AWS_TAGS"}, prov=untagged)
    diagnostics = analyzer.analyze_stack([untagged, vpc, collection])
    assert_violation(diagnostics, "tag-1-mandatory-tags", "Vpc v is missing mandatory tags", urn_=vpc.urn)
    assert_clean(diagnostics, "tag-1-mandatory-tags", urn_=collection.urn)
    with analyzer.configured({"tag-1-mandatory-tags": {"exemptTypes": ["aws:ec2/vpc:Vpc"]}}):
        assert_clean(analyzer.analyze_stack([untagged, vpc]), "tag-1-mandatory-tags")


def test_stateful_types_are_configurable(analyzer):
    vpc = res("aws:ec2/vpc:Vpc", "v", {"cidrBlock": "10.0.0.0/16"})
    key = res("aws:kms/key:Key", "key", {})
    assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, vpc]), "state-1-stateful-resources-protected")
    with analyzer.configured({"state-1-stateful-resources-protected": {"statefulTypes": ["aws:ec2/vpc:Vpc"]}}):
        diagnostics = analyzer.analyze_stack([DEFAULT_PROVIDER, vpc, key])
    assert_violation(diagnostics, "state-1-stateful-resources-protected", "stateful Vpc v is not protected")
    assert_clean(diagnostics, "state-1-stateful-resources-protected", urn_=key.urn)
