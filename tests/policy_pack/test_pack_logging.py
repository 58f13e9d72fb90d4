"""LOG-1, LOG-2, LOG-3 (including recorders in stack set templates)."""

from __future__ import annotations

import json

from pack_helpers import (
    KEY_ARN,
    assert_clean,
    assert_violation,
    bucket_set,
    res,
    urn,
)

TRAIL = "aws:cloudtrail/trail:Trail"
GOOD_TRAIL = {"name": "org-trail", "isMultiRegionTrail": True, "isOrganizationTrail": True,
              "enableLogFileValidation": True, "kmsKeyId": KEY_ARN, "s3BucketName": "mrd-archive-bucket"}


def test_organization_trail(analyzer):
    assert_clean(analyzer.analyze(res(TRAIL, "trail", GOOD_TRAIL)), "log-1-cloudtrail-organization-trail")


def test_single_region_unencrypted_trail(analyzer):
    trail = res(TRAIL, "trail", {"name": "t", "s3BucketName": "b", "enableLogging": False})
    assert_violation(analyzer.analyze(trail), "log-1-cloudtrail-organization-trail",
                     "trail trail is not: multi-region, log-file validation, organization-wide, logging, "
                     "KMS encryption (kmsKeyId)")


def _archive(**kwargs):
    resources = bucket_set("archive", **kwargs)
    bucket = resources[1]
    trail = res(TRAIL, "trail", GOOD_TRAIL, deps={"s3BucketName": [bucket]})
    return resources + [trail]


def test_log_archive_with_object_lock_and_protection(analyzer):
    resources = _archive(bucket_props={"objectLockEnabled": True})
    assert_clean(analyzer.analyze_stack(resources), "log-2-log-archive-immutable")


def test_log_archive_without_object_lock_unprotected(analyzer):
    resources = _archive(protect=False, bucket_props={"forceDestroy": True}, skip=["policy"])
    assert_violation(analyzer.analyze_stack(resources), "log-2-log-archive-immutable",
                     "log archive bucket archive: Object Lock is not enabled", "TLS", "is not protected",
                     "forceDestroy is true", urn_=urn("aws:s3/bucket:Bucket", "archive"))


def test_log_archive_found_by_name_pattern(analyzer):
    resources = bucket_set("log-archive")
    assert_violation(analyzer.analyze_stack(resources), "log-2-log-archive-immutable", "Object Lock is not enabled")
    lock = res("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", "lock",
               {"bucket": "mrd-log-archive-bucket", "objectLockEnabled": "Enabled",
                "rule": {"defaultRetention": {"mode": "COMPLIANCE", "years": 7}}})
    assert_clean(analyzer.analyze_stack(resources + [lock]), "log-2-log-archive-immutable")


def test_recorder_records_everything(analyzer):
    recorder = res("aws:cfg/recorder:Recorder", "recorder", {"roleArn": "arn:aws:iam::1:role/config",
                                                             "recordingGroup": {"allSupported": True}})
    assert_clean(analyzer.analyze(recorder), "log-3-config-records-all-resources")
    partial = res("aws:cfg/recorder:Recorder", "recorder", {"recordingGroup": {
        "allSupported": False, "resourceTypes": ["AWS::S3::Bucket"],
        "recordingStrategies": [{"useOnly": "INCLUSION_BY_RESOURCE_TYPES"}]}})
    assert_violation(analyzer.analyze(partial), "log-3-config-records-all-resources",
                     "does not record all supported resource types", "INCLUSION_BY_RESOURCE_TYPES")


def _stack_set(template: str) -> object:
    return res("aws:cloudformation/stackSet:StackSet", "baseline", {"name": "baseline", "templateBody": template,
                                                                    "permissionModel": "SERVICE_MANAGED"})


def test_recorder_in_a_stack_set_template(analyzer):
    good = {"Resources": {"Recorder": {"Type": "AWS::Config::ConfigurationRecorder", "Properties": {
        "RoleARN": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/config"},
        "RecordingGroup": {"AllSupported": True, "IncludeGlobalResourceTypes": True}}}}}
    assert_clean(analyzer.analyze(_stack_set(json.dumps(good))), "log-3-config-records-all-resources")
    bad_yaml = """
Resources:
  Recorder:
    Type: AWS::Config::ConfigurationRecorder
    Properties:
      RoleARN: !Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:role/config
      RecordingGroup:
        AllSupported: false
        ResourceTypes: [AWS::EC2::Instance]
"""
    assert_violation(analyzer.analyze(_stack_set(bad_yaml)), "log-3-config-records-all-resources",
                     "templateBody recorder Recorder does not record all supported resource types")


def test_config_delivery_buckets_count_as_log_archives_unless_configured_otherwise(analyzer):
    # AWS Config cannot deliver to a bucket with Object Lock default retention, so a delivery
    # bucket needs every other LOG-2 property but not Object Lock.
    def with_channel(resources):
        channel = res("aws:cfg/deliveryChannel:DeliveryChannel", "channel", {"s3BucketName": "mrd-config-history-bucket"},
                      deps={"s3BucketName": [resources[0]]})
        return resources + [channel]

    assert_clean(analyzer.analyze_stack(with_channel(bucket_set("config-history"))), "log-2-log-archive-immutable")
    unprotected = with_channel(bucket_set("config-history", protect=False))
    assert_violation(analyzer.analyze_stack(unprotected), "log-2-log-archive-immutable",
                     "log archive bucket config-history: it is not protected")
    with analyzer.configured({"log-2-log-archive-immutable": {"includeConfigDeliveryBuckets": False}}):
        assert_clean(analyzer.analyze_stack(unprotected), "log-2-log-archive-immutable")

# -- configured values ---------------------------------------------------------------------------
def test_an_account_trail_is_allowed_when_configured(analyzer):
    account_trail = res(TRAIL, "trail", {**GOOD_TRAIL, "isOrganizationTrail": False})
    assert_violation(analyzer.analyze(account_trail), "log-1-cloudtrail-organization-trail",
                     "trail trail is not: organization-wide")
    with analyzer.configured({"log-1-cloudtrail-organization-trail": {"requireOrganizationTrail": False}}):
        assert_clean(analyzer.analyze(account_trail), "log-1-cloudtrail-organization-trail")
        single = res(TRAIL, "single", {**GOOD_TRAIL, "isOrganizationTrail": False, "isMultiRegionTrail": False,
                                       "includeGlobalServiceEvents": False})
        assert_violation(analyzer.analyze(single), "log-1-cloudtrail-organization-trail",
                         "trail single is not: multi-region, global service events")


def test_log_archives_found_by_configured_patterns_and_tags(analyzer):
    plain = bucket_set("history")
    assert_clean(analyzer.analyze_stack(plain), "log-2-log-archive-immutable")
    with analyzer.configured({"log-2-log-archive-immutable": {"logArchiveBucketPatterns": ["mrd-hist*"]}}):
        assert_violation(analyzer.analyze_stack(plain), "log-2-log-archive-immutable",
                         "log archive bucket history: Object Lock is not enabled")
    tagged = bucket_set("tagged", bucket_props={"tags": {"purpose": "log-archive"}})
    assert_clean(analyzer.analyze_stack(tagged), "log-2-log-archive-immutable")
    with analyzer.configured({"log-2-log-archive-immutable": {"logArchiveTags": {"purpose": "log-archive"}}}):
        assert_violation(analyzer.analyze_stack(tagged), "log-2-log-archive-immutable",
                         "log archive bucket tagged: Object Lock is not enabled")
        other = bucket_set("other", bucket_props={"tags": {"purpose": "data"}})
        assert_clean(analyzer.analyze_stack(other), "log-2-log-archive-immutable")


def test_global_resource_types_are_required_when_configured(analyzer):
    recorder = res("aws:cfg/recorder:Recorder", "recorder", {"recordingGroup": {"allSupported": True}})
    assert_clean(analyzer.analyze(recorder), "log-3-config-records-all-resources")
    with analyzer.configured({"log-3-config-records-all-resources": {"requireGlobalResourceTypes": True}}):
        assert_violation(analyzer.analyze(recorder), "log-3-config-records-all-resources",
                         "recorder recorder does not include global resource types")
        with_global = res("aws:cfg/recorder:Recorder", "recorder", {"recordingGroup": {
            "allSupported": True, "includeGlobalResourceTypes": True}})
        assert_clean(analyzer.analyze(with_global), "log-3-config-records-all-resources")
    excluded = res("aws:cfg/recorder:Recorder", "recorder", {"recordingGroup": {
        "allSupported": True, "exclusionByResourceTypes": [{"resourceTypes": ["AWS::EC2::Instance"]}]}})
    assert_violation(analyzer.analyze(excluded), "log-3-config-records-all-resources", "excludes resource types")


def test_resource_types_listed_next_to_all_supported_are_fine(analyzer):
    both = res("aws:cfg/recorder:Recorder", "recorder", {"recordingGroup": {
        "allSupported": True, "resourceTypes": ["AWS::S3::Bucket"]}})
    assert_clean(analyzer.analyze(both), "log-3-config-records-all-resources")
    only = res("aws:cfg/recorder:Recorder", "recorder", {"recordingGroup": {"resourceTypes": ["AWS::S3::Bucket"]}})
    assert_violation(analyzer.analyze(only), "log-3-config-records-all-resources",
                     "recorder recorder records only ['AWS::S3::Bucket']")
