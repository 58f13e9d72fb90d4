"""The platform definition is typed and validated; every problem is reported at once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from offline_preview.engine import PreviewError, run_stack
from stacks.config import ConfigError, parse_platform

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "stacks"


def problems_of(data) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_platform(data)
    return info.value.problems


def test_sample_configuration_is_valid(sample_platform):
    cfg = parse_platform(sample_platform)
    assert [p.name for p in cfg.projects] == [p["name"] for p in sample_platform["projects"]]
    # One account per shared role, per sandbox and per project environment, each under its key.
    expected = ([k.replace("_", "-") for k in sample_platform["shared_accounts"]]
                + [s["name"] for s in sample_platform["sandbox_accounts"]]
                + [f"{p['name']}-{env}" for p in sample_platform["projects"] for env in p["environments"]])
    assert sorted(cfg.accounts()) == sorted(expected) and len(expected) == len(set(expected))
    assert cfg.accounts()["fraud-detection-prod"][1] == "Workloads/Prod"
    assert cfg.accounts()["fraud-detection-dev"][1] == "Workloads/Dev"
    assert cfg.accounts()[sample_platform["sandbox_accounts"][0]["name"]][1] == "Sandbox"


def test_every_problem_is_reported_together(sample_platform):
    p = sample_platform
    p["shared_accounts"]["network"]["email"] = "not-an-email"
    p["shared_accounts"]["automation"]["email"] = p["shared_accounts"]["log_archive"]["email"].upper()
    p["shared_accounts"]["data_lake"]["name"] = p["shared_accounts"]["log_archive"]["name"]
    p["projects"][1]["name"] = p["projects"][0]["name"]
    p["projects"][0]["environments"]["qa"] = {"email": "qa@meridian-bank.example", "cidr": "10.67.0.0/22"}
    p["home_region"] = "us-east-1"
    p["projects"][0]["environments"]["dev"]["cidr"] = "10.65.4.0/23"  # overlaps preprod
    p["cidr_plan"]["shared"]["network"] = "10.64.0.1/22"  # host bits set
    p["sandbox_accounts"][0]["ou"] = "Playground"
    problems = problems_of(p)
    joined = "\n".join(problems)
    expected = [
        "shared_accounts.network.email: 'not-an-email' is not a valid e-mail address",
        "shared_accounts.automation.email: e-mail 'AWS-LOG-ARCHIVE@MERIDIAN-BANK.EXAMPLE' is already used by shared_accounts.log_archive.email",
        "shared_accounts.data_lake.name: account name 'mrd-log-archive' is already used by shared_accounts.log_archive",
        "projects[1].name: project 'fraud-detection' is already defined at projects[0]",
        "projects[0].environments.qa: unknown environment 'qa' (allowed: dev, preprod, prod)",
        "home_region: 'us-east-1' is not in allowed_regions (allowed: eu-west-1, eu-central-1)",
        "projects[0].environments.preprod.cidr: 10.65.4.0/22 overlaps projects[0].environments.dev.cidr",
        "cidr_plan.shared.network: '10.64.0.1/22' is not a valid IPv4 CIDR block",
        "sandbox_accounts[0].ou: unknown OU 'Playground'",
    ]
    for fragment in expected:
        assert fragment in joined, f"missing: {fragment}\n{joined}"


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda p: p.pop("shared_accounts"), "shared_accounts: required key is missing"),
        (lambda p: p["organization"].pop("management_account_id"), "organization.management_account_id: required key is missing"),
        (lambda p: p.__setitem__("allowed_region", ["eu-west-1"]), "allowed_region: unknown key"),
        (lambda p: p["projects"][0].__setitem__("name", "Fraud_Detection"), "projects[0].name: String should match pattern"),
        (lambda p: p["organization"].__setitem__("management_account_id", "1234"), "organization.management_account_id"),
        (lambda p: p["guardrails"].__setitem__("model_producer_ous", ["Workloads/QA"]), "guardrails.model_producer_ous[0]: unknown OU 'Workloads/QA'"),
        (lambda p: p["guardrails"].__setitem__("scp_free_slots_per_target", 4), "guardrails.scp_free_slots_per_target: 4 leaves no slot for guardrails under scp_limit_per_target 5 (allowed: at most 3"),
        (lambda p: p["projects"][0]["environments"]["prod"].__setitem__("cidr", "172.16.0.0/22"), "is outside cidr_plan.supernet 10.64.0.0/12"),
        (lambda p: p["projects"][0]["environments"]["prod"].__setitem__("cidr", "10.65.8.0/29"), "has prefix /29 (allowed: /16 to /28)"),
        (lambda p: p["organization"]["organizational_units"].remove("Workloads/Prod") if "organizational_units" in p["organization"] else p["organization"].__setitem__("organizational_units", ["Workloads", "Workloads/Dev", "Workloads/PreProd"]), "'Workloads/Prod' is required for the prod environment"),
        (lambda p: p["projects"][0].__setitem__("consumes_models_from", ["vision"]), "projects[0].consumes_models_from[0]: unknown project 'vision'"),
        (lambda p: p["allowed_regions"].append("us-gov-west-1"), "allowed_regions[2]: 'us-gov-west-1' is outside the aws partition"),
    ],
)
def test_each_problem_names_the_key(sample_platform, mutate, fragment):
    mutate(sample_platform)
    assert any(fragment in p for p in problems_of(sample_platform)), problems_of(sample_platform)


def _with_project(platform, name: str) -> dict:
    """Add a project (rather than rename one that other sections refer to)."""
    platform["projects"].append({
        "name": name, "owner": "x@meridian-bank.example", "cost_center": "CC-9", "environments": {
            "preprod": {"email": "aws-long-preprod@meridian-bank.example", "cidr": "10.70.0.0/22"}}})
    return platform


def test_names_that_break_aws_limits_are_rejected(sample_platform):
    sample_platform["name_prefix"] = "meridian-bank-ml"  # 16 characters, the longest prefix allowed
    _with_project(sample_platform, "transaction-fraud-scorer")  # 24, the longest project name
    problems = problems_of(sample_platform)
    assert any(
        "projects[2].name: bucket name 'meridian-bank-ml-transaction-fraud-scorer-preprod-access-logs-111111111111' "
        "would be 74 characters (allowed: 3 to 63); shorten name_prefix, bucket_suffix or the project name" in p
        for p in problems
    ), problems


@pytest.mark.parametrize("suffix, accepted", [("meridian-ml-01", True), ("meridian-ml-012", False)])
def test_bucket_names_at_exactly_the_limit(sample_platform, suffix, accepted):
    # The longest bucket of a preprod-only project: 3 + 24 + len("preprod") + len("access-logs")
    # + 4 hyphens + 14 characters of suffix = 63 characters exactly.
    sample_platform["bucket_suffix"] = suffix
    _with_project(sample_platform, "transaction-fraud-scorer")
    if accepted:
        cfg = parse_platform(sample_platform)
        assert len(cfg.bucket_name("transaction-fraud-scorer", "preprod", "access-logs")) == 63
    else:
        assert problems_of(sample_platform) == [
            "projects[2].name: bucket name 'mrd-transaction-fraud-scorer-preprod-access-logs-meridian-ml-012' would be "
            "64 characters (allowed: 3 to 63); shorten name_prefix, bucket_suffix or the project name"]


def test_bucket_suffix_defaults_to_the_management_account_id(sample_platform):
    cfg = parse_platform(sample_platform)
    assert cfg.bucket_name("data-lake", "transactions", "raw") == "mrd-data-lake-transactions-raw-111111111111"
    sample_platform["bucket_suffix"] = "mrd7q2"
    assert parse_platform(sample_platform).bucket_name("log-archive") == "mrd-log-archive-mrd7q2"


@pytest.mark.parametrize("suffix", ["Meridian", "-x", "x-", "a_b", "x" * 21])
def test_bucket_suffix_must_be_a_bucket_name_part(sample_platform, suffix):
    sample_platform["bucket_suffix"] = suffix
    assert any(p.startswith("bucket_suffix: ") for p in problems_of(sample_platform))


def test_two_buckets_of_the_plan_may_not_share_a_name(sample_platform):
    sample_platform["security"]["log_archive"]["bucket_name"] = "mrd-data-lake-transactions-raw-111111111111"
    assert ("data_lake.domains[0].name: bucket name 'mrd-data-lake-transactions-raw-111111111111' is also the name "
            "of a bucket of security.log_archive (allowed: every bucket its own name)") in problems_of(sample_platform)


def test_every_bucket_the_program_creates_follows_the_naming_rule(sample_runs):
    """Data lake, project, log archive and any other bucket of every sample stack."""
    from offline_preview.engine import discover_stacks

    names = [r.inputs["bucket"] for stack in discover_stacks(SAMPLE_DIR)
             for r in sample_runs(stack).of_type("aws:s3/bucket:Bucket")]
    assert len(names) == len(set(names)) > 20
    assert [n for n in names if not (n.startswith("mrd-") and n.endswith("-111111111111"))] == []


def test_deployment_role_is_the_member_role(sample_platform):
    cfg = parse_platform(sample_platform)
    assert cfg.organization.deployment_role == "OrganizationAccountAccessRole"
    sample_platform["organization"]["deployment_role_name"] = "mrd-deployer"
    assert any(p.startswith("organization.deployment_role_name: 'mrd-deployer' differs from member_role_name")
               for p in problems_of(sample_platform))


def test_an_unknown_layer_fails_naming_the_key_and_the_layers(tmp_path):
    shutil.copy(SAMPLE_DIR / "platform.yaml", tmp_path / "platform.yaml")
    (tmp_path / "Pulumi.tools.yaml").write_text(
        "config:\n  aws:region: eu-west-1\n  ml-platform:layer: tooling\n  ml-platform:platform-file: platform.yaml\n")
    with pytest.raises(PreviewError) as info:
        run_stack("tools", tmp_path, {})
    assert ("ml-platform:layer: 'tooling' is not a layer "
            "(allowed: organization, identity, security, network, data-lake, shared-services, project, delivery)") in str(info.value)
    assert info.value.registered == []


def test_a_delivery_stack_needs_a_project_of_the_platform(tmp_path):
    shutil.copy(SAMPLE_DIR / "platform.yaml", tmp_path / "platform.yaml")
    (tmp_path / "Pulumi.x-delivery.yaml").write_text(
        "config:\n  ml-platform:layer: delivery\n  ml-platform:platform-file: platform.yaml\n  ml-platform:project: x\n")
    with pytest.raises(PreviewError) as info:
        run_stack("x-delivery", tmp_path, {})
    assert "ml-platform:project: 'x' is not a project of the platform" in str(info.value)
    assert info.value.registered == []


def test_schema_and_cross_field_problems_are_reported_together(sample_platform):
    sample_platform["name_prefix"] = "Meridian_Bank"  # schema: pattern
    sample_platform["home_region"] = "us-east-1"  # cross-field: not in allowed_regions
    problems = problems_of(sample_platform)
    assert problems[0].startswith("name_prefix: String should match pattern")
    assert "home_region: 'us-east-1' is not in allowed_regions (allowed: eu-west-1, eu-central-1)" in problems
    # Checks that need a valid name_prefix (derived bucket, role and account names) are
    # skipped rather than reporting on a bad value; nothing else is wrong.
    assert len(problems) == 2, problems


def test_every_section_is_checked_despite_schema_problems_in_others(sample_platform):
    p = sample_platform
    p["security"]["services"]["unused_access_age_days"] = 999  # schema (security)
    p["security"]["trail"]["cloudwatch_retention_days"] = 100  # cross-field (security)
    p["network"]["amazon_side_asn"] = 100  # cross-field (network)
    p["data_lake"]["athena"]["bytes_scanned_cutoff_gb"] = 0  # schema (data)
    p["data_lake"]["consumers"][0]["project"] = "fraud-detector"  # cross-field (data)
    p["data_lake"]["domains"][0]["lifecycle"]["raw"]["noncurrent_expire_days"] = 30  # cross-field (data)
    p["cidr_plan"]["shared"]["automation"] = "10.64.0.0/22"  # cross-field (platform)
    joined = "\n".join(problems_of(p))
    for fragment in [
        "security.services.unused_access_age_days: Input should be less than or equal to 365",
        "security.trail.cloudwatch_retention_days: 100 is not a CloudWatch Logs retention",
        "network.amazon_side_asn: 100 is not a private ASN",
        "data_lake.athena.bytes_scanned_cutoff_gb: Input should be greater than or equal to 1",
        "data_lake.consumers[0].project: unknown project 'fraud-detector'",
        "data_lake.domains[0].lifecycle.raw.noncurrent_expire_days: 30 days would expire data before its retention",
        "cidr_plan.shared.automation: 10.64.0.0/22 overlaps cidr_plan.shared.network",
    ]:
        assert fragment in joined, f"missing: {fragment}\n{joined}"


def test_schema_and_cross_field_problems_register_nothing(run_platform, sample_platform):
    sample_platform["name_prefix"] = "Meridian_Bank"
    sample_platform["home_region"] = "us-east-1"
    sample_platform["data_lake"]["consumers"][0]["environments"] = ["qa"]
    with pytest.raises(PreviewError) as info:
        run_platform("data-lake", platform=sample_platform)
    message = str(info.value)
    assert "3 configuration problem(s)" in message, message
    assert "name_prefix: String should match pattern" in message
    assert "home_region: 'us-east-1' is not in allowed_regions" in message
    assert "data_lake.consumers[0].environments[0]: project 'fraud-detection' has no environment 'qa'" in message
    assert info.value.registered == []


@pytest.mark.parametrize("path, value", [
    (("shared_accounts", "network", "email"), 12345),  # read by re.match in the e-mail check
    (("organization", "organizational_units"), "Workloads"),  # iterated by the OU checks
    (("projects", 0, "environments", "dev", "cidr"), ["10.65.0.0/22"]),  # parsed by ipaddress
])
def test_a_schema_problem_in_a_setting_a_check_reads_is_reported_once(sample_platform, path, value):
    target = sample_platform
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    sample_platform["home_region"] = "us-east-1"
    problems = problems_of(sample_platform)
    key = ".".join(str(k) for k in path).replace(".0.", "[0].")
    assert [p for p in problems if p.startswith(f"{key}:")] != [], problems
    assert "home_region: 'us-east-1' is not in allowed_regions (allowed: eu-west-1, eu-central-1)" in problems


def test_overlapping_networks_are_every_overlapping_pair_with_its_earlier_ones_in_order():
    # The sweep that finds overlapping CIDR blocks gives what comparing every pair gives: nested,
    # equal, adjacent and disjoint blocks, in a deterministic pseudo-random mix.
    import ipaddress
    import random

    from stacks.config import _overlapping_pairs

    pick = random.Random(7)
    nets = [ipaddress.ip_network(f"10.{pick.randrange(4)}.{pick.randrange(8) * 32}.0/{pick.choice((16, 19, 22, 24))}",
                                 strict=False) for _ in range(120)]
    nets += [nets[3], nets[40]]  # the same block twice
    expected = {}
    for idx, net in enumerate(nets):
        earlier = [other for other in range(idx) if net.overlaps(nets[other])]
        if earlier:
            expected[idx] = earlier
    assert _overlapping_pairs(nets) == expected
    assert sum(len(v) for v in expected.values()) > 100  # the mix has many overlaps to find


def test_a_view_derived_once_per_definition_is_computed_once_and_forgotten_with_it(sample_platform):
    import gc

    from stacks.config_model import once_per_definition

    calls = []

    @once_per_definition
    def view(platform, env):
        calls.append(env)
        return (platform.name_prefix, env)

    platform = parse_platform(sample_platform)
    assert [view(platform, "dev"), view(platform, "dev"), view(platform, "prod")] == [
        (platform.name_prefix, "dev"), (platform.name_prefix, "dev"), (platform.name_prefix, "prod")]
    assert calls == ["dev", "prod"]
    assert view.__wrapped__(platform, "dev") == view(platform, "dev") and calls == ["dev", "prod", "dev"]
    other = parse_platform(sample_platform)  # an equal definition, another object: afresh
    view(other, "dev")
    assert calls[-1] == "dev" and len(calls) == 4
    del platform, other
    gc.collect()
    # Forgotten: a new definition (which may reuse a dead one's id) is derived afresh.
    for _ in range(3):
        view(parse_platform(sample_platform), "dev")
    assert len(calls) == 7


def test_the_workspace_role_views_are_derived_once_per_definition(monkeypatch, sample_platform):
    from stacks import data_settings, workspace_settings as ws

    platform = parse_platform(sample_platform)  # validation derives them
    calls = []
    original = data_settings.roles_in_environment
    monkeypatch.setattr(data_settings, "roles_in_environment", lambda *a: calls.append(a) or original(*a))
    project = platform.projects[0].name
    first = ws.data_persona_suffixes(platform, project, "dev")
    groups = ws.bucket_role_groups(platform, "dev")
    first.clear()
    groups["team"].clear()  # callers get copies
    assert ws.data_persona_suffixes(platform, project, "dev") and ws.bucket_role_groups(platform, "dev")["team"]
    assert ws.bucket_access(platform, "dev", ws.service_role_suffixes(platform)["training"])
    assert calls == []


def test_accounts_are_built_once_per_definition_and_each_caller_gets_its_own_dict(sample_platform):
    platform = parse_platform(sample_platform)
    first, second = platform.accounts(), platform.accounts()
    assert first == second and first is not second
    assert all(first[key][0] is second[key][0] for key in first)  # one build: the same account specs
    first.clear()  # a caller's copy: the definition's accounts stay whole
    assert platform.accounts() == second == parse_platform(sample_platform).accounts()
    assert {"log-archive", "fraud-detection-dev"} <= set(second)
