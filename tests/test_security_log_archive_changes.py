"""The log archive's frozen settings (lifecycle, Object Lock default retention, bucket policies)
are denied to the deployment role by the archive's own bucket policies (LOG-2). A change to them
has one path: `security.log_archive.apply_changes_as: break-glass` with a change ticket makes the
log-archive provider assume the log-archive account's break-glass role, the one principal those
policies exempt. Without it the plan is exactly the usual one."""

from __future__ import annotations

import json

import pytest

from offline_preview.engine import PreviewError

LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
FROZEN = ("s3:PutLifecycleConfiguration", "s3:PutBucketPolicy", "s3:PutBucketObjectLockConfiguration")


@pytest.fixture(scope="module")
def baseline(sample_runs):
    return sample_runs("security")


@pytest.fixture(scope="module")
def log_archive_id(sample_runs):
    return sample_runs("organization").outputs["accountIds"]["log-archive"]


def provider_of(run, resource):
    return run.by_urn(resource.provider.rsplit("::", 1)[0])


def plan(run) -> dict[str, tuple[dict, str | None]]:
    """Each registration's inputs and provider (by URN; provider ids are per run)."""
    return {r.urn: (r.inputs, r.provider and r.provider.rsplit("::", 1)[0]) for r in run.resources}


def assumed(provider) -> list[dict]:
    roles = provider.inputs.get("assumeRoles")
    return json.loads(roles) if isinstance(roles, str) else roles


def break_glass_change(platform: dict, ticket: str = "CHG-4711") -> dict:
    archive = platform["security"]["log_archive"]
    archive["object_lock"] = {"mode": "COMPLIANCE", "retention_days": 400}
    archive["apply_changes_as"] = "break-glass"
    archive["change_ticket"] = ticket
    return platform


def test_a_changed_retention_goes_through_the_log_archive_break_glass_role(run_platform, sample_platform, baseline,
                                                                          log_archive_id):
    run = run_platform("security", platform=break_glass_change(sample_platform))
    [lock] = run.of_type(LOCK)
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 400}
    provider = provider_of(run, lock)
    assert provider.name == "log-archive"  # the same provider resource: nothing moves, nothing is replaced
    assert assumed(provider) == [{"roleArn": f"arn:aws:iam::{log_archive_id}:role/mrd-break-glass",
                                  "sessionName": "ml-platform-log-archive-CHG-4711"}]
    carriers = [r for typ in (LOCK, LIFECYCLE, POLICY) for r in run.of_type(typ) if r.account == log_archive_id]
    assert len(carriers) == 1 + 3 + 3  # Object Lock; lifecycle and policy of each of the three buckets
    assert {provider_of(run, r).urn for r in carriers} == {provider.urn}

    # Exactly two registrations differ from the usual plan: the provider's role and the retention.
    now, usual = plan(run), plan(baseline)
    assert now.keys() == usual.keys()
    assert {urn for urn in now if now[urn] != usual[urn]} == {provider.urn, lock.urn}


def test_the_break_glass_path_assumes_the_one_role_the_archive_policies_exempt(run_platform, sample_platform,
                                                                              log_archive_id):
    run = run_platform("security", platform=break_glass_change(sample_platform))
    [role] = assumed(provider_of(run, run.of_type(LOCK)[0]))
    frozen_buckets = {"mrd-log-archive-111111111111", "mrd-config-history-111111111111"}
    policies = [json.loads(p.inputs["policy"]) for p in run.of_type(POLICY) if p.account == log_archive_id]
    checked = set()
    for policy in policies:
        for s in policy["Statement"]:
            if s.get("Sid") != "LOG2DenyDeleteOrLoosen" or not set(FROZEN) <= set(s["Action"]):
                continue
            assert s["Effect"] == "Deny" and s["Principal"] == "*"
            # Everyone else is denied, the deployment role (OrganizationAccountAccessRole) included.
            assert s["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": role["roleArn"]}}
            checked |= {r.split(":::")[1].split("/")[0] for r in s["Resource"]}
    assert checked == frozen_buckets


def test_without_a_declared_change_the_plan_is_the_usual_one(run_platform, sample_platform, baseline, log_archive_id):
    sample_platform["security"]["log_archive"]["apply_changes_as"] = "deployment-role"
    run = run_platform("security", platform=sample_platform)
    assert plan(run) == plan(baseline)
    [lock] = run.of_type(LOCK)
    assert assumed(provider_of(run, lock)) == [{
        "roleArn": f"arn:aws:iam::{log_archive_id}:role/OrganizationAccountAccessRole",
        "sessionName": "ml-platform-log-archive"}]


@pytest.mark.parametrize(("settings", "expected"), [
    ({"apply_changes_as": "break-glass"},
     "security.log_archive.change_ticket: required when security.log_archive.apply_changes_as is break-glass"),
    ({"change_ticket": "CHG-4711"},
     "security.log_archive.change_ticket: set while security.log_archive.apply_changes_as is deployment-role"),
    ({"apply_changes_as": "break-glass", "change_ticket": "CHG 4711"},
     "security.log_archive.change_ticket: 'CHG 4711' cannot name a role session"),
    ({"apply_changes_as": "break-glass", "change_ticket": "C" * 41},
     "cannot name a role session"),
    ({"apply_changes_as": "root"}, "security.log_archive.apply_changes_as"),
])
def test_a_bad_change_path_stops_the_program_before_any_resource(run_platform, sample_platform, settings, expected):
    sample_platform["security"]["log_archive"].update(settings)
    with pytest.raises(PreviewError) as info:
        run_platform("security", platform=sample_platform)
    assert expected in str(info.value)
    assert [r for r in info.value.registered if r.custom] == []


def test_break_glass_needs_the_baseline_in_the_log_archive_accounts_ou(run_platform, sample_platform):
    break_glass_change(sample_platform)
    sample_platform["security"]["config"]["baseline_ous"] = ["Workloads"]
    with pytest.raises(PreviewError) as info:
        run_platform("security", platform=sample_platform)
    assert ("security.log_archive.apply_changes_as: break-glass needs the break-glass role in the log-archive "
            "account") in str(info.value)
    sample_platform["security"]["config"]["baseline_ous"] = ["Security"]
    run = run_platform("security", platform=sample_platform)
    assert run.of_type(LOCK)[0].inputs["rule"]["defaultRetention"]["days"] == 400
