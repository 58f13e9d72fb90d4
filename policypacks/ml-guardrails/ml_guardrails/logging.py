"""Logging: the organization trail (LOG-1), the immutable log archive (LOG-2) and AWS Config
recorders (LOG-3), including recorders in the CloudFormation templates of stack sets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .common import (
    UNKNOWN,
    ResourceContext,
    Stack,
    StackResource,
    as_list,
    known_str,
    matches_any,
    resource_policy,
    stack_policy,
    truthy,
)
from .identity import TEMPLATE_TYPES, template_resources
from .storage import (
    BUCKET,
    OBJECT_LOCK,
    encryption_problems,
    public_access_problems,
    tls_problems,
    versioning_problems,
)

DOMAIN = "logging"

TRAIL = "aws:cloudtrail/trail:Trail"
RECORDER = "aws:cfg/recorder:Recorder"
DELIVERY_CHANNEL = "aws:cfg/deliveryChannel:DeliveryChannel"
ALL_TYPES = "ALL_SUPPORTED_RESOURCE_TYPES"


def _validate_trail(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    props = ctx.props
    wanted = [("isMultiRegionTrail", True, "multi-region"), ("enableLogFileValidation", True, "log-file validation")]
    if ctx.config.get("requireOrganizationTrail", True):
        wanted.append(("isOrganizationTrail", True, "organization-wide"))
    missing = [label for key, value, label in wanted
               if props.get(key) is not UNKNOWN and truthy(props.get(key)) is not value]
    for key, label in (("enableLogging", "logging"), ("includeGlobalServiceEvents", "global service events")):
        if truthy(props.get(key)) is False:
            missing.append(label)
    if not props.get("kmsKeyId"):
        missing.append("KMS encryption (kmsKeyId)")
    if missing:
        report(f"trail {ctx.name} is not: {', '.join(missing)}")


def _recording_group_problems(group: Any, label: str, require_global: bool, cfn: bool = False) -> list[str]:
    if group is None or group is UNKNOWN:
        return []  # AWS records all supported resource types by default
    if not isinstance(group, dict):
        return []
    key = (lambda name: name[0].upper() + name[1:]) if cfn else (lambda name: name)
    problems = []
    if group.get(key("allSupported")) is not UNKNOWN and truthy(group.get(key("allSupported"))) is False:
        problems.append(f"{label} does not record all supported resource types (allSupported is false)")
    if group.get(key("resourceTypes")) and truthy(group.get(key("allSupported"))) is not True:
        problems.append(f"{label} records only {group.get(key('resourceTypes'))}")
    exclusions = group.get(key("exclusionByResourceTypes"))
    if exclusions and exclusions is not UNKNOWN:
        problems.append(f"{label} excludes resource types ({exclusions})")
    for strategy in as_list(group.get(key("recordingStrategies")) or group.get("RecordingStrategy")):
        use_only = strategy.get(key("useOnly")) if isinstance(strategy, dict) else None
        if isinstance(use_only, str) and use_only != ALL_TYPES:
            problems.append(f"{label} uses recording strategy {use_only}")
    if require_global and group.get(key("includeGlobalResourceTypes")) is not UNKNOWN \
            and truthy(group.get(key("includeGlobalResourceTypes"))) is not True:
        problems.append(f"{label} does not include global resource types")
    return problems


def _validate_recorder(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    require_global = bool(ctx.config.get("requireGlobalResourceTypes"))
    found: list[list[str]] = []
    if ctx.type == RECORDER:
        found.append(_recording_group_problems(ctx.props.get("recordingGroup"), f"recorder {ctx.name}", require_global))
    else:
        for logical_id, cfn_type, props in template_resources(ctx.props.get("templateBody"), ctx.props.get("parameters")):
            if cfn_type == "AWS::Config::ConfigurationRecorder":
                found.append(_recording_group_problems(props.get("RecordingGroup"),
                                                       f"templateBody recorder {logical_id}", require_global, cfn=True))
    for problems in found:
        if problems:
            report("; ".join(problems))


def log_archive_buckets(stack: Stack) -> list[tuple[StackResource, bool]]:
    """Buckets the organization trail or a Config delivery channel writes to, and buckets whose
    name or tags the configuration names as log archives, each with whether it must have
    Object Lock (not for Config delivery buckets: AWS Config delivery does not support
    buckets with Object Lock default retention)."""
    found: dict[str, tuple[StackResource, bool]] = {}
    if stack.config.get("includeConfigDeliveryBuckets", True):
        for source in stack.of_type(DELIVERY_CHANNEL):
            for bucket in stack.linked(source, "s3BucketName", (BUCKET,)):
                found[bucket.urn] = (bucket, False)
    for source in stack.of_type(TRAIL):
        for bucket in stack.linked(source, "s3BucketName", (BUCKET,)):
            found[bucket.urn] = (bucket, True)
    patterns = stack.config.get("logArchiveBucketPatterns") or []
    tags = stack.config.get("logArchiveTags") or {}
    for bucket in stack.of_type(BUCKET):
        names = [known_str(bucket.props.get("bucket")), bucket.name]
        if any(matches_any(n, patterns) for n in names) or any(bucket.tags.get(k) == v for k, v in tags.items()):
            found[bucket.urn] = (bucket, True)
    return list(found.values())


def _object_lock_problems(stack: Stack, bucket: StackResource) -> list[str]:
    enabled = bucket.set_by_program("objectLockEnabled")
    if enabled is UNKNOWN or truthy(enabled) is True:
        return []
    legacy = bucket.props.get("objectLockConfiguration")
    if isinstance(legacy, dict) and legacy.get("objectLockEnabled") == "Enabled":
        return []
    for config in stack.children(bucket, (OBJECT_LOCK,), "bucket"):
        if config.props.get("objectLockEnabled") in ("Enabled", UNKNOWN, None) or config.props.get("rule"):
            return []
    return ["Object Lock is not enabled (object_lock_enabled=True on the bucket)"]


def _validate_log_archive(stack: Stack, report: Callable[[str, str | None], None]) -> None:
    for bucket, needs_object_lock in log_archive_buckets(stack):
        problems = _object_lock_problems(stack, bucket) if needs_object_lock else []
        problems += versioning_problems(stack, bucket)
        problems += encryption_problems(stack, bucket)
        problems += tls_problems(stack, bucket)
        problems += public_access_problems(stack, bucket)
        if not bucket.protect:
            problems.append("it is not protected (protect=True)")
        if truthy(bucket.props.get("forceDestroy")) is True:
            problems.append("forceDestroy is true")
        if problems:
            report(f"log archive bucket {bucket.name}: " + "; ".join(problems), bucket.urn)


POLICIES = [
    resource_policy(
        name="log-1-cloudtrail-organization-trail", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="LOG-1: every CloudTrail trail is multi-region, organization-wide, validates log files, "
                    "is KMS-encrypted and logs (with global service events).",
        remediation="Set is_multi_region_trail=True, is_organization_trail=True, enable_log_file_validation=True, "
                    "kms_key_id=<log archive key ARN> and leave enable_logging and include_global_service_events "
                    "at true.",
        types=(TRAIL,), validate=_validate_trail,
        config={
            "requireOrganizationTrail": {"type": "boolean", "default": True,
                                         "description": "Require isOrganizationTrail (set false for "
                                                        "account-level trails kept in addition)."},
        },
    ),
    stack_policy(
        name="log-2-log-archive-immutable", domain=DOMAIN, severity="critical", enforcement="mandatory",
        description="LOG-2: the log archive bucket (the bucket a trail or Config delivery channel writes to, "
                    "or one named by the configuration) has Object Lock, versioning, SSE-KMS with a "
                    "customer key, a TLS-only policy and a public access block, is protected and cannot be "
                    "force-destroyed.",
        remediation="Create the log archive bucket with object_lock_enabled=True and protect=True, add its "
                    "BucketVersioning (Enabled), BucketServerSideEncryptionConfiguration (aws:kms with the log "
                    "archive key, bucket key on), BucketPolicy (deny aws:SecureTransport=false) and "
                    "BucketPublicAccessBlock, and a BucketObjectLockConfiguration with a default retention.",
        validate=_validate_log_archive,
        config={
            "logArchiveBucketPatterns": {"type": "array", "items": {"type": "string"}, "default": ["*log-archive*"],
                                         "description": "Bucket names or resource names (glob) of log archives."},
            "logArchiveTags": {"type": "object", "additionalProperties": {"type": "string"}, "default": {},
                               "description": "Tags (key -> value) marking a bucket as a log archive."},
            "includeConfigDeliveryBuckets": {"type": "boolean", "default": True,
                                             "description": "Treat the buckets AWS Config delivery channels write "
                                                            "to as log archives too (every check but Object "
                                                            "Lock, which Config delivery does not support)."},
        },
    ),
    resource_policy(
        name="log-3-config-records-all-resources", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="LOG-3: every AWS Config configuration recorder (declared directly or in a stack set "
                    "template) records all supported resource types, without exclusions.",
        remediation="Set recording_group={all_supported: True} (RecordingGroup.AllSupported: true in "
                    "CloudFormation) and drop resource_types, exclusion_by_resource_types and recording "
                    "strategies other than ALL_SUPPORTED_RESOURCE_TYPES; record global resource types in the "
                    "home region.",
        types=(RECORDER, *TEMPLATE_TYPES), validate=_validate_recorder,
        config={
            "requireGlobalResourceTypes": {"type": "boolean", "default": False,
                                           "description": "Also require includeGlobalResourceTypes (record "
                                                          "IAM and other global types in every region)."},
        },
    ),
]
