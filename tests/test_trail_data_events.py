"""The organization trail logs the object-level events of exactly the data buckets of the
plan: selectors come from the naming functions that create the buckets, within CloudTrail's
quota on selector values."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline_preview.engine import discover_stacks
from stacks.config import ConfigError, parse_platform
from stacks.security_settings import (
    TRAIL_SELECTOR_VALUES_MAX,
    data_event_arn_prefixes,
    trail_selector_values,
)

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "stacks"

BUCKET = "aws:s3/bucket:Bucket"
TRAIL = "aws:cloudtrail/trail:Trail"


def plan_buckets(sample_runs) -> dict[str, tuple[str, dict]]:
    """Every bucket of every sample stack: name -> (stack, tags)."""
    return {b.inputs["bucket"]: (stack, b.inputs.get("tags") or {})
            for stack in discover_stacks(SAMPLE_DIR) for b in sample_runs(stack).of_type(BUCKET)}


def s3_data_event_prefixes(trail) -> list[str]:
    found = []
    for selector in trail.inputs["advancedEventSelectors"]:
        fields = {f["field"]: f for f in selector["fieldSelectors"]}
        if fields.get("eventCategory", {}).get("equals") == ["Data"] and \
                fields.get("resources.type", {}).get("equals") == ["AWS::S3::Object"]:
            assert set(fields["resources.ARN"]) == {"field", "startsWiths"}
            found += fields["resources.ARN"]["startsWiths"]
    return found


def logged(prefixes: list[str], bucket: str) -> bool:
    """Whether an object of `bucket` matches one of the StartsWith values."""
    return any(f"arn:aws:s3:::{bucket}/some/key".startswith(p) for p in prefixes)


def test_every_data_bucket_of_the_plan_is_logged_and_every_selector_matches_one(sample_runs):
    buckets = plan_buckets(sample_runs)
    # Data: what the data-lake and project stacks keep, except the server-access-log targets.
    # The security stack's buckets hold the audit logs themselves (the trail writes there).
    data = {n for n, (stack, tags) in buckets.items() if stack != "security" and tags.get("access-log-target") != "true"}
    logs = set(buckets) - data
    assert {"mrd-fraud-detection-dev-experimentation-111111111111", "mrd-data-lake-athena-results-111111111111",
            "mrd-document-vision-prod-pipeline-111111111111"} <= data
    trail = sample_runs("security").of_type(TRAIL)[0]
    prefixes = s3_data_event_prefixes(trail)

    assert sorted(b for b in data if not logged(prefixes, b)) == []
    assert [p for p in prefixes if not any(logged([p], b) for b in data)] == []
    assert sorted(b for b in logs if logged(prefixes, b)) == []


def test_selector_values_stay_within_the_cloudtrail_quota(sample_runs, sample_platform):
    trail = sample_runs("security").of_type(TRAIL)[0]
    values = sum(len(v) for s in trail.inputs["advancedEventSelectors"] for f in s["fieldSelectors"]
                 for k, v in f.items() if k != "field")
    assert values == trail_selector_values(parse_platform(sample_platform)) <= TRAIL_SELECTOR_VALUES_MAX


def test_too_many_data_event_values_are_rejected_naming_the_key(sample_platform):
    sample_platform["security"]["trail"]["data_event_buckets"] = [f"mrd-bucket-{i}" for i in range(498)]
    with pytest.raises(ConfigError) as info:
        parse_platform(sample_platform)
    assert any(p.startswith("security.trail.data_event_buckets: the trail's event selectors would hold 501 values "
                            "for 498 data-event buckets (allowed: at most 500 per trail") for p in info.value.problems)
    sample_platform["security"]["trail"]["data_event_buckets"] = [f"mrd-bucket-{i}" for i in range(497)]
    parse_platform(sample_platform)


def test_a_new_project_environment_is_logged_without_configuration(sample_platform):
    sample_platform["projects"].append({
        "name": "churn", "owner": "x@meridian-bank.example", "cost_center": "CC-9", "environments": {
            "dev": {"email": "aws-churn-dev@meridian-bank.example", "cidr": "10.70.0.0/22"}}})
    prefixes = data_event_arn_prefixes(parse_platform(sample_platform))
    assert logged(prefixes, "mrd-churn-dev-experimentation-111111111111")
    assert not logged(prefixes, "mrd-churn-dev-access-logs-111111111111")


def test_without_projects_or_domains_the_trail_logs_the_data_engineers_results(run_platform, sample_platform):
    sample_platform["projects"] = []
    sample_platform["workspace"]["studio"]["user_profiles"] = {}  # profiles belong to projects
    sample_platform["delivery"]["projects"] = {}  # pipelines belong to projects
    sample_platform["model_sharing"]["projects"] = {}  # so does model sharing
    sample_platform["data_lake"]["domains"] = []
    sample_platform["data_lake"]["consumers"] = []
    sample_platform["data_lake"]["write_back"]["approvers"] = []
    trail = run_platform("security", platform=sample_platform).of_type(TRAIL)[0]
    # The data engineers' results, and the shared services' Service Catalog templates.
    assert s3_data_event_prefixes(trail) == ["arn:aws:s3:::mrd-data-lake-athena-results-111111111111/",
                                             "arn:aws:s3:::mrd-shared-services-templates-111111111111/"]
    assert trail_selector_values(parse_platform(sample_platform)) == 1 + 2 + 2
