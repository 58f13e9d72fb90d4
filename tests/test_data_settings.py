"""The data layer's configuration: bad input is rejected before any resource, every problem
named with its key, what is wrong and what is allowed."""

from __future__ import annotations

import pytest

from offline_preview.engine import PreviewError
from stacks.config import BUCKET_KINDS, ConfigError, parse_platform
from stacks.data_settings import KINDS_BY_ENVIRONMENT, estimate_lake_policy_sizes


def problems_of(data) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_platform(data)
    return info.value.problems


def test_sample_data_settings_are_valid(sample_platform):
    data = parse_platform(sample_platform).data_lake
    assert [d.name for d in data.domains] == ["transactions", "documents"]
    assert {c.project for c in data.consumers} == {"fraud-detection", "document-vision"}


def test_every_environment_kind_is_a_configured_bucket_kind():
    # Bucket names use the kinds config.py checks for length; no other kind may appear.
    assert {k for kinds in KINDS_BY_ENVIRONMENT.values() for k in kinds} <= set(BUCKET_KINDS)
    assert all("access-logs" in kinds for kinds in KINDS_BY_ENVIRONMENT.values())


def _consumer(p, **changes):
    consumer = p["data_lake"]["consumers"][0]
    consumer.update(changes)
    return consumer


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        # a grant to an account the configuration does not define
        (lambda p: _consumer(p, project="payments"),
         "data_lake.consumers[0].project: unknown project 'payments' (allowed: fraud-detection, document-vision)"),
        (lambda p: p["projects"][0]["environments"].pop("prod"),
         "data_lake.consumers[1].environments[1]: project 'fraud-detection' has no environment 'prod', so no account to grant to"),
        (lambda p: p["data_lake"]["write_back"]["approvers"].append({"account": "partner-bank", "role": "x"}),
         "data_lake.write_back.approvers[1].account: unknown account 'partner-bank'"),
        # a grant to a role the configuration does not define
        (lambda p: _consumer(p, roles=["data-scientist", "intern"]),
         "data_lake.consumers[0].roles[1]: unknown role 'intern' (allowed: data-scientist, ml-engineer, model-consumer, sm-execution"),
        (lambda p: p["data_lake"]["project_buckets"].__setitem__("automation_roles", ["deployer"]),
         "data_lake.project_buckets.automation_roles[0]: unknown role 'deployer'"),
        (lambda p: p["data_lake"].__setitem__("data_engineer_roles", ["AWSReservedSSO_DataEngineer_*"]),
         "data_lake.data_engineer_roles[0]: 'AWSReservedSSO_DataEngineer_*' is not an IAM role name"),
        # an unknown domain
        (lambda p: _consumer(p, domains=["transactions", "payments"]),
         "data_lake.consumers[0].domains[1]: unknown domain 'payments' (allowed: transactions, documents)"),
        # lifecycle rules that would expire data before its retention
        (lambda p: p["data_lake"]["domains"][0]["lifecycle"]["raw"].__setitem__("noncurrent_expire_days", 365),
         "data_lake.domains[0].lifecycle.raw.noncurrent_expire_days: 365 days would expire data before its retention of 2555 days"),
        (lambda p: p["data_lake"]["domains"][1]["lifecycle"]["curated"].__setitem__("expire_days", 90),
         "data_lake.domains[1].lifecycle.curated.expire_days: 90 days would expire data before its retention of 3650 days"),
        (lambda p: p["data_lake"]["project_buckets"]["lifecycle"]["models"].__setitem__("expire_days", 30),
         "data_lake.project_buckets.lifecycle.models.expire_days: 30 days would expire data before its retention of 2555 days"),
        # zones, kinds and other shapes
        (lambda p: _consumer(p, zones=["raw", "curated"]),
         "data_lake.consumers[0].zones[0]: raw data is never shared outside the data-lake account"),
        (lambda p: p["data_lake"]["consumers"][2]["zones"].append("features"),
         "data_lake.consumers[2].zones: redacted_only consumers read the masked copies under curated/redacted/ only"),
        (lambda p: p["data_lake"]["domains"][0]["lifecycle"].__setitem__("bronze", {"expire_days": 9999}),
         "data_lake.domains[0].lifecycle.bronze: unknown zone 'bronze' (allowed: raw, curated, features)"),
        (lambda p: p["data_lake"]["project_buckets"]["lifecycle"].__setitem__("scratch", {}),
         "data_lake.project_buckets.lifecycle.scratch: unknown bucket kind 'scratch'"),
        (lambda p: p["data_lake"]["domains"][0]["lifecycle"]["curated"]["transitions"][0].__setitem__("days", 10),
         "data_lake.domains[0].lifecycle.curated.transitions[0].days: S3 moves objects to STANDARD_IA after 30 days at the earliest"),
        (lambda p: p["data_lake"]["domains"].append(dict(p["data_lake"]["domains"][0])),
         "data_lake.domains[2].name: domain 'transactions' is already defined at data_lake.domains[0]"),
        (lambda p: p["data_lake"]["consumers"].append({"project": "fraud-detection", "environments": ["dev"], "domains": ["transactions"]}),
         "data_lake.consumers[4]: fraud-detection-dev is already granted domain 'transactions' by data_lake.consumers[0]"),
        (lambda p: _consumer(p, roles=["data-scientist", "model-consumer"]),
         "data_lake.consumers[0].roles[1]: 'model-consumer' cannot read the lake in dev: it is not in data_lake.project_buckets.team_roles"),
        (lambda p: (p["projects"][0].__setitem__("consumes_models_from", ["document-vision"]),
                    p.pop("model_sharing"), p["projects"][1]["environments"].pop("preprod")),
         "projects[0].consumes_models_from[0]: model-producer project 'document-vision' has no 'preprod' environment"),
        # The producer is model_sharing's setting now (stacks/model_sharing_settings.py).
        (lambda p: p["data_lake"].__setitem__("model_producer_environment", "dev"),
         "data_lake.model_producer_environment: unknown key"),
        (lambda p: p["data_lake"].__setitem__("warehouse", {}), "data_lake.warehouse: unknown key"),
    ],
)
def test_bad_data_settings_are_rejected_naming_the_key(sample_platform, mutate, fragment):
    mutate(sample_platform)
    joined = "\n".join(problems_of(sample_platform))
    assert fragment in joined, joined


def test_every_problem_is_reported_together(sample_platform):
    p = sample_platform
    _consumer(p, project="payments", domains=["cards"], roles=["intern"])
    p["data_lake"]["domains"][0]["lifecycle"]["raw"]["noncurrent_expire_days"] = 30
    problems = problems_of(p)
    for fragment in ("consumers[0].project: unknown project 'payments'", "consumers[0].domains[0]: unknown domain 'cards'",
                     "consumers[0].roles[0]: unknown role 'intern'", "lifecycle.raw.noncurrent_expire_days: 30 days"):
        assert any(fragment in problem for problem in problems), (fragment, problems)


def test_too_many_consumers_for_a_bucket_policy_are_rejected(sample_platform):
    consumer = sample_platform["data_lake"]["consumers"][0]
    consumer["roles"] = ["data-scientist", "ml-engineer", "sm-execution"]
    sample_platform["data_lake"]["project_roles"] = [f"analyst-team-{i:02d}" for i in range(60)]
    consumer["roles"] += sample_platform["data_lake"]["project_roles"]
    sample_platform["data_lake"]["project_buckets"]["team_roles"] = consumer["roles"]
    joined = "\n".join(problems_of(sample_platform))
    assert "data_lake.consumers: the policy of bucket 'mrd-data-lake-transactions-curated-111111111111' would be about" in joined
    assert "allowed: at most 20480, the S3 limit" in joined


def test_policy_size_estimate_is_never_below_the_real_policy(sample_runs, sample_platform):
    estimates = estimate_lake_policy_sizes(parse_platform(sample_platform))
    policies = {r.inputs["bucket"]: r.inputs["policy"] for r in sample_runs("data-lake").of_type("aws:s3/bucketPolicy:BucketPolicy")}
    for bucket, estimate in estimates.items():
        assert len(policies[bucket]) <= estimate, bucket


@pytest.mark.parametrize("stack", ["data-lake", "fraud-detection-dev"])
def test_bad_data_settings_stop_the_program_before_any_resource(run_platform, sample_platform, stack):
    _consumer(sample_platform, project="payments")
    sample_platform["data_lake"]["domains"][0]["lifecycle"]["raw"]["expire_days"] = 10
    with pytest.raises(PreviewError) as info:
        run_platform(stack, platform=sample_platform)
    message = str(info.value)
    assert "data_lake.consumers[0].project: unknown project 'payments'" in message
    assert "data_lake.domains[0].lifecycle.raw.expire_days: 10 days would expire data before its retention" in message
    assert [r for r in info.value.registered if r.custom] == []
