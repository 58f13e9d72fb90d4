"""What the security stack registers for the sample platform: log archive, organization trail,
AWS Config everywhere, the detective guardrails, delegated security services and alerts, each
in the account it belongs to."""

from __future__ import annotations

import json
import re

import pytest

from components.config_rules import DETECTIVE_RULES, GUARDRAIL_IDS, rule_specs
from components.security_alerts import FILTER_PATTERN_MAX
from policy_documents.service_authorization import validate_document
from guardrail_catalog import read_catalog

ARCHIVE = "mrd-log-archive-111111111111"
CONFIG_BUCKET = "mrd-config-history-111111111111"
ACCESS_LOGS = "mrd-log-access-111111111111"
MANAGEMENT = "111111111111"
REGIONS = ["eu-west-1", "eu-central-1"]


@pytest.fixture(scope="module")
def run(sample_runs):
    return sample_runs("security")


@pytest.fixture(scope="module")
def org_outputs(sample_runs):
    return sample_runs("organization").outputs


def typed(run, typ: str):
    return run.of_type(typ)


def one(run, typ: str, name: str | None = None):
    found = [r for r in run.of_type(typ) if name is None or r.name == name]
    assert len(found) == 1, f"{len(found)} {typ} named {name}"
    return found[0]


def doc(registration, key: str = "policy") -> dict:
    return json.loads(registration.inputs[key])


def _json_list(value):
    return json.loads(value) if isinstance(value, str) else (value or [])


def account_of(run, resource) -> tuple[str, str]:
    """(account, region) of the provider a resource is registered with, from the provider's own
    registration: the role it assumes, else the management account it is pinned to."""
    provider = run.by_urn(resource.provider.rsplit("::", 1)[0])
    allowed = _json_list(provider.inputs.get("allowedAccountIds"))
    roles = _json_list(provider.inputs.get("assumeRoles"))
    assumed = [re.match(r"arn:aws:iam::(\d{12}):role/", r["roleArn"]).group(1) for r in roles]
    if assumed:
        assert assumed == allowed, "the provider's allowed account must be the one whose role it assumes"
        return assumed[0], provider.inputs["region"]
    return allowed[0], provider.inputs["region"]


def statement(document: dict, sid: str) -> dict:
    found = [s for s in document["Statement"] if s.get("Sid") == sid]
    assert len(found) == 1, f"no statement {sid}"
    return found[0]


def as_list(value):
    return value if isinstance(value, list) else [value]


# -- log archive ------------------------------------------------------------------------------

def test_archive_bucket_has_object_lock_from_configuration(run):
    bucket = one(run, "aws:s3/bucket:Bucket", "log-archive-bucket")
    assert bucket.inputs["bucket"] == ARCHIVE
    assert bucket.inputs["objectLockEnabled"] is True
    assert bucket.protect and bucket.retain_on_delete
    lock = one(run, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock.inputs["objectLockEnabled"] == "Enabled"
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 365}
    assert lock.protect
    # A setting of the bucket: in the same SecureBucket, created after the bucket.
    assert lock.parent == bucket.parent and bucket.urn in lock.dependencies


def test_trail_and_delivery_channels_wait_for_the_bucket_policies(run):
    # CreateTrail and PutDeliveryChannel fail when the bucket policy is not in place yet.
    policies = {p.urn for p in run.of_type("aws:s3/bucketPolicy:BucketPolicy")}
    trail = run.of_type("aws:cloudtrail/trail:Trail")[0]
    archive_policy = one(run, "aws:s3/bucketPolicy:BucketPolicy", "log-archive-bucket-policy")
    assert archive_policy.urn in trail.dependencies
    for channel in run.of_type("aws:cfg/deliveryChannel:DeliveryChannel"):
        assert policies & set(channel.dependencies), channel.name
    (stack_set,) = run.of_type("aws:cloudformation/stackSet:StackSet")
    assert policies & set(stack_set.dependencies)


def test_object_lock_mode_and_days_follow_the_settings(run_platform, sample_platform):
    sample_platform["security"]["log_archive"]["object_lock"] = {"mode": "GOVERNANCE", "retention_days": 2555}
    changed = run_platform("security", platform=sample_platform)
    lock = one(changed, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": 2555}


def test_log_buckets_move_to_colder_storage_and_log_access(run):
    lifecycle = [r for r in typed(run, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
                 if r.name == "log-archive-bucket-lifecycle"][0]
    transitions = lifecycle.inputs["rules"][0]["transitions"]
    assert [(t["days"], t["storageClass"]) for t in transitions] == [(90, "GLACIER_IR"), (365, "DEEP_ARCHIVE")]
    assert "expiration" not in lifecycle.inputs["rules"][0]  # logs are never expired by default
    logging = {r.name: r for r in typed(run, "aws:s3/bucketLogging:BucketLogging")}
    assert logging["log-archive-bucket-logging"].inputs["targetBucket"] == ACCESS_LOGS
    assert logging["config-history-logging"].inputs["targetBucket"] == ACCESS_LOGS


def test_log_key_rotates_and_admits_only_the_organization(run, accounts, org_outputs):
    key = one(run, "aws:kms/key:Key", "log-archive-key")
    assert key.inputs["enableKeyRotation"] is True and key.inputs["deletionWindowInDays"] == 30
    assert key.protect
    policy = doc(key)
    assert validate_document(policy) == []
    trail_arn = one(run, "aws:cloudtrail/trail:Trail").outputs["arn"]
    # Administered by the deployment and break-glass roles only (no account-wide kms:*).
    admin = statement(policy, "KeyAdministration")
    log_archive = accounts["log-archive"]
    assert admin["Principal"] == {"AWS": f"arn:aws:iam::{log_archive}:root"}
    assert admin["Condition"]["ArnLike"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::{log_archive}:role/OrganizationAccountAccessRole", f"arn:aws:iam::{log_archive}:role/mrd-break-glass"]
    assert "kms:*" not in admin["Action"] and "kms:Decrypt" not in admin["Action"]
    cloudtrail = statement(policy, "CloudTrailEncryptOrganizationTrail")
    assert cloudtrail["Condition"]["StringEquals"] == {"aws:SourceArn": trail_arn}
    assert cloudtrail["Condition"]["StringLike"]["kms:EncryptionContext:aws:cloudtrail:arn"] == \
        f"arn:aws:cloudtrail:*:{MANAGEMENT}:trail/*"
    config = statement(policy, "ConfigEncryptForOrganization")
    assert config["Condition"] == {"StringEquals": {"aws:SourceOrgID": org_outputs["organizationId"]}}
    auditors = statement(policy, "AuditorsDecryptThroughS3")
    assert set(as_list(auditors["Action"])) == {"kms:Decrypt", "kms:DescribeKey"}
    assert auditors["Condition"]["ArnLike"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::{accounts['security-tooling']}:role/mrd-security-auditor"]
    assert auditors["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == org_outputs["organizationId"]
    # Every statement is conditioned and nobody gets kms:*.
    for s in policy["Statement"]:
        assert s.get("Condition"), s["Sid"]
        assert "kms:*" not in as_list(s["Action"]), s["Sid"]


WRITE_ACTIONS = {"s3:PutObject", "s3:*", "s3:Put*"}


@pytest.mark.parametrize(("policy_name", "bucket", "writer"), [
    ("log-archive-bucket-policy", ARCHIVE, "cloudtrail.amazonaws.com"),
    ("config-history-policy", CONFIG_BUCKET, "config.amazonaws.com"),
])
def test_only_the_log_service_may_write_and_nobody_may_delete(run, accounts, org_outputs, policy_name, bucket, writer):
    policy = doc(one(run, "aws:s3/bucketPolicy:BucketPolicy", policy_name))
    assert validate_document(policy) == []
    arn = f"arn:aws:s3:::{bucket}"
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    if writer == "config.amazonaws.com":
        # In its own account Config delivers with the recorder's role, not as the service:
        # the log-archive account's recorder roles may write that account's history only.
        (local,) = [s for s in allows if s["Sid"] == "LocalConfigRecordersWrite"]
        log_archive = accounts["log-archive"]
        assert local["Principal"] == {"AWS": f"arn:aws:iam::{log_archive}:root"}
        assert local["Condition"] == {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{log_archive}:role/mrd-config-recorder-*"}}
        assert local["Resource"] == [arn, f"{arn}/AWSLogs/{log_archive}/Config/*"]
        allows.remove(local)
        (deny_writes,) = [s for s in policy["Statement"] if s["Sid"] == "LOG2DenyWritesExceptServices"]
        assert deny_writes["Condition"]["ArnNotLike"] == {"aws:PrincipalArn": [local["Condition"]["ArnLike"]["aws:PrincipalArn"]]}
    writes = [s for s in allows if WRITE_ACTIONS & set(as_list(s["Action"]))]
    assert writes, "the log service must be allowed to write"
    for s in writes:
        assert s["Principal"] == {"Service": writer}
        condition = s["Condition"]["StringEquals"]
        assert condition["s3:x-amz-acl"] == "bucket-owner-full-control"
        assert "aws:SourceArn" in condition or "aws:SourceOrgID" in condition
        for resource in as_list(s["Resource"]):
            assert resource.startswith(f"{arn}/AWSLogs/"), resource
    # Any other Allow is the auditors' read access, scoped to their role ARNs.
    for s in allows:
        if s in writes:
            continue
        if "Service" in s["Principal"]:
            assert s["Principal"] == {"Service": writer}
            assert set(as_list(s["Action"])) <= {"s3:GetBucketAcl", "s3:ListBucket"}
            assert s["Condition"]
        else:
            assert s["Sid"] == "AuditorsRead"
            assert all(a.startswith(("s3:Get", "s3:List")) for a in s["Action"])
            assert s["Condition"]["ArnLike"]["aws:PrincipalArn"]
    if writer == "cloudtrail.amazonaws.com":
        trail_arn = one(run, "aws:cloudtrail/trail:Trail").outputs["arn"]
        resources = {r for s in writes for r in as_list(s["Resource"])}
        assert resources == {f"{arn}/AWSLogs/{MANAGEMENT}/*", f"{arn}/AWSLogs/{org_outputs['organizationId']}/*"}
        assert all(s["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn for s in writes)
    else:
        assert all(s["Condition"]["StringEquals"]["aws:SourceOrgID"] == org_outputs["organizationId"] for s in writes)

    tls = statement(policy, "S34DenyInsecureTransport")
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    no_delete = statement(policy, "LOG2DenyDeleteOrLoosen")
    assert no_delete["Effect"] == "Deny" and no_delete["Principal"] == "*"
    assert {"s3:DeleteObject*", "s3:DeleteBucket*", "s3:PutLifecycleConfiguration", "s3:PutBucketPolicy",
            "s3:PutObjectRetention", "s3:BypassGovernanceRetention"} <= set(no_delete["Action"])
    assert set(no_delete["Resource"]) == {arn, f"{arn}/*"}
    assert no_delete["Condition"] == {"ArnNotLike": {"aws:PrincipalArn":
                                                     f"arn:aws:iam::{accounts['log-archive']}:role/mrd-break-glass"}}
    only_services = statement(policy, "LOG2DenyWritesExceptServices")
    assert only_services["Effect"] == "Deny" and only_services["Action"] == "s3:PutObject"
    assert only_services["Condition"]["Bool"] == {"aws:PrincipalIsAWSService": "false"}
    # The one other writer: the log-archive account's own Config recorders, config bucket only.
    exempt = only_services["Condition"].get("ArnNotLike", {}).get("aws:PrincipalArn", [])
    assert exempt == ([f"arn:aws:iam::{accounts['log-archive']}:role/mrd-config-recorder-*"]
                      if writer == "config.amazonaws.com" else [])


def test_bucket_policies_are_applied_after_the_settings_they_freeze(run):
    by_urn = {r.urn: r for r in run.resources}
    for policy in typed(run, "aws:s3/bucketPolicy:BucketPolicy"):
        depends = {by_urn[d].type.split(":")[-1] for d in policy.dependencies if d in by_urn}
        siblings = {r.type.split(":")[-1] for r in run.resources if r.parent == policy.parent}
        for frozen in ("BucketLifecycleConfiguration", "BucketObjectLockConfiguration"):
            if frozen in siblings:
                assert frozen in depends, f"{policy.name} does not wait for {frozen}"


def test_access_log_bucket_admits_server_access_logging_of_the_log_buckets(run, accounts):
    policy = doc(one(run, "aws:s3/bucketPolicy:BucketPolicy", "server-access-logs-policy"))
    assert validate_document(policy) == []
    write = statement(policy, "S3ServerAccessLogsWrite")
    assert write["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert set(write["Condition"]["ArnLike"]["aws:SourceArn"]) == {f"arn:aws:s3:::{ARCHIVE}", f"arn:aws:s3:::{CONFIG_BUCKET}"}
    assert write["Condition"]["StringEquals"] == {"aws:SourceAccount": accounts["log-archive"]}


# -- organization trail -----------------------------------------------------------------------

def test_organization_trail_settings(run):
    trail = one(run, "aws:cloudtrail/trail:Trail")
    i = trail.inputs
    assert i["name"] == "mrd-organization-trail"
    assert i["isMultiRegionTrail"] and i["isOrganizationTrail"] and i["enableLogFileValidation"]
    assert i["includeGlobalServiceEvents"] and i["enableLogging"]
    assert i["s3BucketName"] == ARCHIVE
    assert i["kmsKeyId"] == one(run, "aws:kms/key:Key", "log-archive-key").outputs["arn"]
    assert trail.protect
    assert trail.outputs["arn"] == f"arn:aws:cloudtrail:eu-west-1:{MANAGEMENT}:trail/mrd-organization-trail"
    selectors = {s["name"]: s["fieldSelectors"] for s in i["advancedEventSelectors"]}
    assert selectors["Management events"] == [{"field": "eventCategory", "equals": ["Management"]}]
    data = {f["field"]: f for f in selectors["S3 data events of data buckets"]}
    assert data["eventCategory"]["equals"] == ["Data"]
    assert data["resources.type"]["equals"] == ["AWS::S3::Object"]
    prefixes = data["resources.ARN"]["startsWiths"]
    assert "arn:aws:s3:::mrd-data-lake-transactions-raw-111111111111/" in prefixes
    assert "arn:aws:s3:::mrd-fraud-detection-prod-models-111111111111/" in prefixes
    assert "arn:aws:s3:::mrd-document-vision-dev-experimentation-111111111111/" in prefixes
    assert "arn:aws:s3:::mrd-shared-services-templates-111111111111/" in prefixes
    assert "arn:aws:s3:::mrd-fraud-detection-pipeline-artifacts-111111111111/" in prefixes
    # 2 domains x 3 zones, the data engineers' Athena results, 2 projects x (dev experimentation;
    # preprod datasets, pipeline, models; prod pipeline, models; the delivery pipelines' artifacts),
    # the Service Catalog templates
    assert len(prefixes) == 6 + 1 + 2 * (1 + 3 + 2 + 1) + 1


def test_trail_delivers_to_an_encrypted_log_group_in_its_own_account(run):
    trail = one(run, "aws:cloudtrail/trail:Trail")
    group = one(run, "aws:cloudwatch/logGroup:LogGroup")
    assert trail.inputs["cloudWatchLogsGroupArn"] == group.outputs["arn"] + ":*"
    assert account_of(run, group) == account_of(run, trail) == (MANAGEMENT, "eu-west-1")
    key = one(run, "aws:kms/key:Key", "organization-trail-logs-key")
    assert group.inputs["kmsKeyId"] == key.outputs["arn"] and group.protect
    assert group.inputs["retentionInDays"] == 365
    role = one(run, "aws:iam/role:Role", "organization-trail-logs-role")
    assert trail.inputs["cloudWatchLogsRoleArn"] == role.outputs["arn"]
    trust = doc(role, "assumeRolePolicy")["Statement"][0]
    assert trust["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceArn"] == trail.outputs["arn"]
    policy = doc(one(run, "aws:iam/rolePolicy:RolePolicy", "organization-trail-logs-role-policy"))
    assert validate_document(policy) == []
    assert policy["Statement"][0]["Resource"] == group.outputs["arn"] + ":log-stream:*"


# -- AWS Config -------------------------------------------------------------------------------

def catalog_config_rules() -> set[tuple[str, str]]:
    """(guardrail id, managed rule identifier) for every rule of the catalog's `config` layer."""
    return {(g.id, rule) for g in read_catalog() for rule in g.config_rules}


def test_detective_rules_are_the_catalog_config_layer():
    assert len(catalog_config_rules()) >= 18
    assert {(r.guardrail, r.identifier) for r in DETECTIVE_RULES} == catalog_config_rules()
    assert GUARDRAIL_IDS == tuple(g.id for g in read_catalog())


def test_required_tags_are_split_six_per_rule():
    tags = [f"tag-{i}" for i in range(8)]
    specs = [s for s in rule_specs("mrd", "eu-west-1", ["eu-west-1"], tags) if s.identifier == "REQUIRED_TAGS"]
    assert [s.name for s in specs] == ["mrd-tag-1-required-tags", "mrd-tag-1-required-tags-2"]
    assert [len(json.loads(s.input_parameters)) for s in specs] == [6, 2]


def test_one_organization_rule_per_guardrail_config_rule(run, accounts):
    rules = typed(run, "aws:cfg/organizationManagedRule:OrganizationManagedRule")
    expected = catalog_config_rules()
    assert expected
    for guardrail, identifier in expected:
        matching = [r for r in rules if r.inputs["ruleIdentifier"] == identifier]
        assert matching, f"no organization rule for {guardrail} {identifier}"
        for rule in matching:
            assert rule.inputs["name"].startswith(f"mrd-{guardrail.lower()}-"), rule.inputs["name"]
            assert guardrail in rule.inputs["description"]
    by_region: dict[str, set[str]] = {}
    for rule in rules:
        account, region = account_of(run, rule)
        assert account == accounts["security-tooling"]  # the Config delegated administrator
        by_region.setdefault(region, set()).add(rule.inputs["ruleIdentifier"])
    regional = {r.identifier for r in DETECTIVE_RULES if r.scope == "regional"}
    assert by_region["eu-central-1"] == regional  # global rules run once, in the home region
    assert by_region["eu-west-1"] == {r.identifier for r in DETECTIVE_RULES}
    assert all(len(r.inputs["name"]) <= 64 for r in rules)


def test_required_tags_rule_checks_the_mandatory_tags(run):
    rules = [r for r in typed(run, "aws:cfg/organizationManagedRule:OrganizationManagedRule")
             if r.inputs["ruleIdentifier"] == "REQUIRED_TAGS"]
    assert len(rules) == len(REGIONS)
    for rule in rules:
        assert json.loads(rule.inputs["inputParameters"]) == {
            "tag1Key": "owner", "tag2Key": "project", "tag3Key": "environment", "tag4Key": "cost-center",
            "tag5Key": "data-classification"}


def test_organization_rules_wait_for_the_recorders(run):
    stack_set = one(run, "aws:cloudformation/stackSet:StackSet")
    for rule in typed(run, "aws:cfg/organizationManagedRule:OrganizationManagedRule"):
        assert any(d.endswith("::account-baseline") for d in rule.dependencies), rule.name
    assert stack_set.protect


def test_baseline_stack_set_reaches_every_account_and_allowed_region(run, accounts, org_outputs):
    stack_set = one(run, "aws:cloudformation/stackSet:StackSet")
    i = stack_set.inputs
    assert i["permissionModel"] == "SERVICE_MANAGED" and i["callAs"] == "SELF"
    assert i["autoDeployment"]["enabled"] is True
    assert i["capabilities"] == ["CAPABILITY_NAMED_IAM"]
    assert account_of(run, stack_set)[0] == MANAGEMENT
    assert i["parameters"]["ConfigBucketName"] == CONFIG_BUCKET
    assert i["parameters"]["LogKeyArn"] == one(run, "aws:kms/key:Key", "log-archive-key").outputs["arn"]
    assert i["parameters"]["DeployConfigRecorder"] == "true"
    template = json.loads(i["templateBody"])
    types = {r["Type"] for r in template["Resources"].values()}
    assert {"AWS::Config::ConfigurationRecorder", "AWS::Config::DeliveryChannel", "AWS::SSM::Association"} <= types
    instances = typed(run, "aws:cloudformation/stackSetInstance:StackSetInstance")
    assert sorted(x.inputs["stackSetInstanceRegion"] for x in instances) == sorted(REGIONS)
    for instance in instances:
        assert instance.inputs["deploymentTargets"]["organizationalUnitIds"] == [org_outputs["rootId"]]
        assert instance.inputs["callAs"] == "SELF"


def test_management_account_gets_the_baseline_directly(run):
    recorders = typed(run, "aws:cfg/recorder:Recorder")
    assert sorted(account_of(run, r) for r in recorders) == sorted((MANAGEMENT, r) for r in REGIONS)
    for recorder in recorders:
        group = recorder.inputs["recordingGroup"]
        assert group["allSupported"] is True
        assert group["includeGlobalResourceTypes"] is (account_of(run, recorder)[1] == "eu-west-1")
    for channel in typed(run, "aws:cfg/deliveryChannel:DeliveryChannel"):
        assert channel.inputs["s3BucketName"] == CONFIG_BUCKET
        assert channel.inputs["s3KmsKeyArn"] == one(run, "aws:kms/key:Key", "log-archive-key").outputs["arn"]
    assert all(s.inputs["isEnabled"] for s in typed(run, "aws:cfg/recorderStatus:RecorderStatus"))
    assert len(typed(run, "aws:ebs/encryptionByDefault:EncryptionByDefault")) == len(REGIONS)
    block = one(run, "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock")
    assert all(block.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))


def test_organization_aggregator_in_security_tooling(run, accounts):
    aggregator = one(run, "aws:cfg/configurationAggregator:ConfigurationAggregator")
    assert aggregator.inputs["name"] == "mrd-organization"
    assert aggregator.inputs["organizationAggregationSource"]["regions"] == REGIONS
    assert account_of(run, aggregator) == (accounts["security-tooling"], "eu-west-1")
    assert run.outputs["aggregatorName"] == "mrd-organization"


# -- delegated security services ---------------------------------------------------------------

def test_guardduty_and_security_hub_are_delegated_to_security_tooling(run, accounts):
    tooling = accounts["security-tooling"]
    for typ in ("aws:guardduty/organizationAdminAccount:OrganizationAdminAccount",
                "aws:securityhub/organizationAdminAccount:OrganizationAdminAccount"):
        admins = typed(run, typ)
        assert sorted(account_of(run, a) for a in admins) == sorted((MANAGEMENT, r) for r in REGIONS)
        assert all(a.inputs["adminAccountId"] == tooling for a in admins)
    for config in typed(run, "aws:guardduty/organizationConfiguration:OrganizationConfiguration"):
        assert config.inputs["autoEnableOrganizationMembers"] == "ALL"
        assert account_of(run, config)[0] == tooling
    features = typed(run, "aws:guardduty/organizationConfigurationFeature:OrganizationConfigurationFeature")
    assert {f.inputs["name"] for f in features} == {"S3_DATA_EVENTS", "EBS_MALWARE_PROTECTION"}
    assert all(f.inputs["autoEnable"] == "ALL" for f in features)
    for config in typed(run, "aws:securityhub/organizationConfiguration:OrganizationConfiguration"):
        assert config.inputs["autoEnable"] is True
        assert account_of(run, config)[0] == tooling
    subscriptions = typed(run, "aws:securityhub/standardsSubscription:StandardsSubscription")
    assert sorted(s.inputs["standardsArn"] for s in subscriptions) == sorted(
        f"arn:aws:securityhub:{r}::standards/aws-foundational-security-best-practices/v/1.0.0" for r in REGIONS)
    assert all(account_of(run, s)[0] == tooling for s in subscriptions)
    aggregator = one(run, "aws:securityhub/findingAggregator:FindingAggregator")
    assert aggregator.inputs["specifiedRegions"] == ["eu-central-1"]


def test_access_analyzers_cover_the_organization(run, accounts):
    analyzers = typed(run, "aws:accessanalyzer/analyzer:Analyzer")
    kinds = sorted((a.inputs["type"], account_of(run, a)[1]) for a in analyzers)
    assert kinds == sorted([("ORGANIZATION", r) for r in REGIONS] + [("ORGANIZATION_UNUSED_ACCESS", "eu-west-1")])
    assert all(account_of(run, a)[0] == accounts["security-tooling"] for a in analyzers)
    unused = [a for a in analyzers if a.inputs["type"] == "ORGANIZATION_UNUSED_ACCESS"][0]
    assert unused.inputs["configuration"]["unusedAccess"]["unusedAccessAge"] == 90


# -- alerts -----------------------------------------------------------------------------------

REQUIRED_ALERTS = {
    "root-user-activity": ['$.userIdentity.type = "Root"'],
    "cloudtrail-changes": ["StopLogging", "DeleteTrail", "UpdateTrail"],
    "config-changes": ["StopConfigurationRecorder", "DeleteDeliveryChannel"],
    "organization-changes": ["AttachPolicy", "DetachPolicy", "UpdatePolicy", "LeaveOrganization"],
    "iam-policy-changes": ["PutRolePolicy", "AttachRolePolicy", "CreatePolicyVersion"],
    "console-signin-without-mfa": ['$.eventName = "ConsoleLogin"', '$.additionalEventData.MFAUsed != "Yes"'],
    "kms-key-deletion": ["ScheduleKeyDeletion"],
}


def test_alarms_watch_the_trail_for_dangerous_changes(run):
    group = one(run, "aws:cloudwatch/logGroup:LogGroup")
    filters = {f.inputs["name"]: f for f in typed(run, "aws:cloudwatch/logMetricFilter:LogMetricFilter")}
    alarms = {a.inputs["name"]: a for a in typed(run, "aws:cloudwatch/metricAlarm:MetricAlarm")}
    for alert, fragments in REQUIRED_ALERTS.items():
        metric_filter = filters[f"mrd-{alert}"]
        assert metric_filter.inputs["logGroupName"] == group.outputs["name"]
        pattern = metric_filter.inputs["pattern"]
        assert len(pattern) <= FILTER_PATTERN_MAX
        assert pattern.count("(") == pattern.count(")") and pattern.startswith("{") and pattern.endswith("}")
        for fragment in fragments:
            assert fragment in pattern, f"{alert}: {fragment}"
        alarm = alarms[f"mrd-security-{alert}"]
        assert alarm.inputs["metricName"] == metric_filter.inputs["metricTransformation"]["name"]
        assert alarm.inputs["namespace"] == metric_filter.inputs["metricTransformation"]["namespace"]
        assert alarm.inputs["threshold"] == 1
        assert account_of(run, metric_filter) == account_of(run, alarm) == (MANAGEMENT, "eu-west-1")


def test_alerts_reach_the_topic_in_security_tooling(run, accounts):
    tooling = accounts["security-tooling"]
    topic = one(run, "aws:sns/topic:Topic")
    key = one(run, "aws:kms/key:Key", "security-alerts-key")
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"] and key.protect
    assert account_of(run, topic)[0] == account_of(run, key)[0] == tooling
    key_policy = doc(key)
    assert validate_document(key_policy) == []
    services = {s["Principal"]["Service"] for s in key_policy["Statement"] if "Service" in s["Principal"]}
    assert services == {"events.amazonaws.com", "cloudwatch.amazonaws.com"}
    topic_policy = doc(one(run, "aws:sns/topicPolicy:TopicPolicy"))
    assert validate_document(topic_policy) == []
    publish = statement(topic_policy, "EventBridgeAndCloudWatchPublish")
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": tooling}}
    assert run.outputs["alertTopicArn"] == topic.outputs["arn"]

    rules = {r.inputs["name"]: r for r in typed(run, "aws:cloudwatch/eventRule:EventRule")}
    forward = rules["mrd-security-forward-alarms"]
    assert account_of(run, forward)[0] == MANAGEMENT
    pattern = json.loads(forward.inputs["eventPattern"])
    assert pattern["detail"]["alarmName"] == [{"prefix": "mrd-security-"}]
    targets = {t.inputs["rule"]: t for t in typed(run, "aws:cloudwatch/eventTarget:EventTarget")}
    to_bus = targets["mrd-security-forward-alarms"]
    assert to_bus.inputs["arn"] == f"arn:aws:events:eu-west-1:{tooling}:event-bus/mrd-security-alerts"
    assert to_bus.inputs["roleArn"] == one(run, "aws:iam/role:Role", "security-alerts-forwarder").outputs["arn"]
    bus_policy = doc(one(run, "aws:cloudwatch/eventBusPolicy:EventBusPolicy"))
    assert validate_document(bus_policy) == []
    assert statement(bus_policy, "ManagementAccountForwarder")["Condition"]["ArnEquals"]["aws:PrincipalArn"] == \
        f"arn:aws:iam::{MANAGEMENT}:role/mrd-security-alert-forwarder"
    for name in ("mrd-security-forwarded-alarms", "mrd-security-guardduty", "mrd-security-securityhub"):
        assert account_of(run, rules[name])[0] == tooling
        assert targets[name].inputs["arn"] == topic.outputs["arn"]
    subscriptions = typed(run, "aws:sns/topicSubscription:TopicSubscription")
    assert [s.inputs["endpoint"] for s in subscriptions] == ["security-operations@meridian-bank.example"]


# -- accounts, outputs, Control Tower mode ----------------------------------------------------

def test_resources_land_in_the_right_accounts(run, accounts):
    expected = {
        "aws:s3/bucket:Bucket": accounts["log-archive"],
        "aws:s3/bucketPolicy:BucketPolicy": accounts["log-archive"],
        "aws:cloudtrail/trail:Trail": MANAGEMENT,
        "aws:cloudwatch/logGroup:LogGroup": MANAGEMENT,
        # Only the management account administers service-managed StackSets (IAM-3).
        "aws:cloudformation/stackSet:StackSet": MANAGEMENT,
        "aws:cfg/configurationAggregator:ConfigurationAggregator": accounts["security-tooling"],
        "aws:guardduty/detector:Detector": None,  # both: the administrator and the management account
        "aws:sns/topic:Topic": accounts["security-tooling"],
    }
    for typ, account in expected.items():
        for resource in typed(run, typ):
            if account is not None:
                assert account_of(run, resource)[0] == account, f"{typ} {resource.name}"
    keys = {k.name: account_of(run, k)[0] for k in typed(run, "aws:kms/key:Key")}
    assert keys == {"log-archive-key": accounts["log-archive"], "organization-trail-logs-key": MANAGEMENT,
                    "security-alerts-key": accounts["security-tooling"]}
    regions = {account_of(run, r)[1] for r in run.resources if r.custom and r.provider}
    assert regions == set(REGIONS)


def test_outputs_contract(run):
    out = run.outputs
    assert out["logArchiveBucketName"] == ARCHIVE and out["logArchiveBucketArn"] == f"arn:aws:s3:::{ARCHIVE}"
    assert out["configBucketName"] == CONFIG_BUCKET and out["accessLogBucketName"] == ACCESS_LOGS
    assert out["logKeyArn"] == one(run, "aws:kms/key:Key", "log-archive-key").outputs["arn"]
    assert out["trailArn"] == one(run, "aws:cloudtrail/trail:Trail").outputs["arn"]
    assert out["baselineStackSetName"] == "mrd-account-baseline"
    assert set(out["configRuleNames"]) == {r.guardrail for r in DETECTIVE_RULES}
    assert out["controlTowerControls"] == []


def test_control_tower_mode_enables_controls_instead_of_owned_rules(run_platform, sample_platform, org_outputs):
    sample_platform["security"]["control_tower"] = {"enabled": True}
    ct = run_platform("security", platform=sample_platform)
    controls = typed(ct, "aws:controltower/controlTowerControl:ControlTowerControl")
    identifiers = {c.inputs["controlIdentifier"] for c in controls}
    assert "arn:aws:controltower:eu-west-1::control/AWS-GR_S3_VERSIONING_ENABLED" in identifiers
    assert "arn:aws:controltower:eu-west-1::control/AWS-GR_ROOT_ACCOUNT_MFA_ENABLED" in identifiers
    ou = org_outputs["ouIds"]["Workloads/Prod"]
    prod = f"arn:aws:organizations::{MANAGEMENT}:ou/{org_outputs['organizationId']}/{ou}"
    assert any(c.inputs["targetIdentifier"] == prod for c in controls)
    security_ou = org_outputs["ouIds"]["Security"]
    assert not any(c.inputs["targetIdentifier"].endswith(security_ou) for c in controls)
    assert all(account_of(ct, c)[0] == MANAGEMENT for c in controls)
    rules = {r.inputs["ruleIdentifier"] for r in typed(ct, "aws:cfg/organizationManagedRule:OrganizationManagedRule")}
    assert not rules & {"S3_BUCKET_VERSIONING_ENABLED", "ROOT_ACCOUNT_MFA_ENABLED", "S3_BUCKET_PUBLIC_READ_PROHIBITED",
                        "S3_BUCKET_PUBLIC_WRITE_PROHIBITED"}
    assert {"S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED", "REQUIRED_TAGS"} <= rules
    stack_set = one(ct, "aws:cloudformation/stackSet:StackSet")
    assert stack_set.inputs["parameters"]["DeployConfigRecorder"] == "false"
    assert ct.outputs["controlTowerControls"]


def test_cloudtrail_may_decrypt_for_the_bucket_key(run):
    # With an S3 Bucket Key on the archive, CreateTrail with SSE-KMS needs kms:Decrypt.
    key = one(run, "aws:kms/key:Key", "log-archive-key")
    statements = {s["Sid"]: s for s in doc(key)["Statement"]}
    decrypt = statements["CloudTrailDecryptForBucketKey"]
    assert decrypt["Principal"] == {"Service": "cloudtrail.amazonaws.com"} and as_list(decrypt["Action"]) == ["kms:Decrypt"]
    assert "aws:SourceArn" in decrypt["Condition"]["StringEquals"]


def test_organization_rules_wait_for_every_recorder(run):
    # A rule fails to create while any account lacks a recorder, the management account's included.
    recorders = {r.urn for r in run.of_type("aws:cfg/recorder:Recorder")}
    assert recorders
    for rule in run.of_type("aws:cfg/organizationManagedRule:OrganizationManagedRule"):
        assert recorders <= set(rule.dependencies), rule.name
