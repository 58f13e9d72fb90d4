"""Every IAM role the platform's policies name is created by a stack of the platform, created by
AWS, or declared pre-existing (stacks/principal_settings.py), over the whole sample plan; and
the settings' list of created roles is exactly what the plan creates."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from offline_preview.engine import PreviewError, discover_stacks
from stacks.config import ConfigError, parse_platform
from stacks.principal_settings import MANAGEMENT, created_roles, find_role, known_roles
from tests.conftest import SAMPLE_DIR, load_sample_platform

ROLE_ARN = re.compile(r"arn:aws:iam::(\d{12}|\*):role/([\w+=,.@*/${}:-]+)")
ROLE_TYPE = "aws:iam/role:Role"
STACK_SET = "aws:cloudformation/stackSet:StackSet"
STACK_SET_INSTANCE = "aws:cloudformation/stackSetInstance:StackSetInstance"


@pytest.fixture(scope="module")
def platform():
    return parse_platform(load_sample_platform())


@pytest.fixture(scope="module")
def runs(sample_runs):
    return {name: sample_runs(name) for name in discover_stacks(SAMPLE_DIR)}


@pytest.fixture(scope="module")
def account_keys(runs, platform) -> dict[str, str]:
    ids = runs["organization"].outputs["accountIds"]
    return {**{v: k for k, v in ids.items()}, platform.organization.management_account_id: MANAGEMENT}


def _substitute(text: str, parameters: dict[str, Any], region: str | None = None) -> str:
    values = {**parameters, "AWS::Partition": "aws"}
    if region:
        values["AWS::Region"] = region
    return re.sub(r"\$\{([\w:]+)\}", lambda m: str(values.get(m.group(1), m.group(0))), text)


def _strings(value: Any):
    """Every string in a resource's inputs, JSON documents (policies, templates) opened."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        if value[:1] in "{[":
            try:
                yield from _strings(json.loads(value))
                return
            except ValueError:
                pass
        yield value


def named_roles(runs) -> list[tuple[str, str, str, str]]:
    """(stack, resource, account id or *, role name) of every role ARN a resource names."""
    found = []
    for stack, run in runs.items():
        for resource in run.resources:
            parameters = resource.inputs.get("parameters") or {} if resource.type == STACK_SET else {}
            for text in _strings(resource.inputs):
                for account, name in ROLE_ARN.findall(_substitute(text, parameters)):
                    found.append((stack, f"{resource.type} {resource.name}", account, name))
    return found


def test_every_role_a_policy_names_is_created_by_aws_or_declared(runs, platform, account_keys):
    references = named_roles(runs)
    # The walk sees the principals the issue is about (a walk that finds nothing proves nothing).
    names = {(a, n) for _, _, a, n in references}
    management = platform.organization.management_account_id
    assert (management, "mrd-break-glass") in names
    assert (runs["organization"].outputs["accountIds"]["security-tooling"], "mrd-security-auditor") in names
    assert (runs["organization"].outputs["accountIds"]["automation"], "mrd-data-approval") in names
    known = known_roles(platform)
    unknown = []
    for stack, resource, account, name in references:
        assert "${" not in name, f"{stack} {resource}: unresolved role name {name}"
        key = "*" if account == "*" else account_keys.get(account)
        assert key is not None, f"{stack} {resource}: role {name} in account {account}, not an account of the platform"
        if find_role(platform, key, name, known) is None:
            unknown.append(f"{stack} {resource}: {key}/{name}")
    assert unknown == []


def _template_roles(stack_set, instances, platform, ou_ids, root_id) -> set[tuple[str, str, str]]:
    """(account key, role name, stack) the baseline StackSet creates, from its template, its
    parameters and the instances' targets and regions."""
    template = json.loads(stack_set.inputs["templateBody"])
    parameters = stack_set.inputs["parameters"]
    path_of = {v: k for k, v in ou_ids.items()}
    found = set()
    for instance in instances:
        region = instance.inputs["stackSetInstanceRegion"]
        targets = instance.inputs["deploymentTargets"]["organizationalUnitIds"]
        accounts = [key for key, (_, ou) in platform.accounts().items()
                    if any(t == root_id or ou == path_of[t] or ou.startswith(path_of[t] + "/") for t in targets)]
        conditions = {"IsHomeRegion": region == parameters["HomeRegion"],
                      "DeployRecorder": parameters["DeployConfigRecorder"] == "true"}
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::IAM::Role" or not conditions.get(resource.get("Condition"), True):
                continue
            name = resource["Properties"]["RoleName"]
            name = parameters[name["Ref"]] if "Ref" in name else _substitute(name["Fn::Sub"], parameters, region)
            found |= {(account, name, "security") for account in accounts}
    return found


def test_created_roles_are_exactly_the_roles_the_plan_creates(runs, platform, account_keys):
    planned = set()
    for stack, run in runs.items():
        for role in run.of_type(ROLE_TYPE):
            planned.add((account_keys[role.account], role.inputs["name"], stack))
        stack_sets = run.of_type(STACK_SET)
        for stack_set in stack_sets:
            instances = [i for i in run.of_type(STACK_SET_INSTANCE) if i.inputs["stackSetName"] == stack_set.inputs["name"]]
            org = runs["organization"].outputs
            planned |= _template_roles(stack_set, instances, platform, org["ouIds"], org["rootId"])
    listed = [(r.account, r.name, r.source) for r in created_roles(platform)]
    assert len(listed) == len(set(listed))
    assert set(listed) == planned


# -- failing closed ---------------------------------------------------------------------------

def test_a_policy_naming_an_undeclared_role_fails_and_registers_nothing(run_platform, sample_platform):
    sample_platform["organization"]["existing_roles"] = []   # mrd-data-approval no longer declared
    with pytest.raises(PreviewError) as info:
        run_platform("data-lake", platform=sample_platform)
    message = str(info.value)
    assert "data-write-back trust policy" in message
    assert "'mrd-data-approval' in account automation" in message
    assert "organization.existing_roles" in message
    assert [r for r in info.value.registered if r.custom] == []


def test_an_auditor_pattern_must_be_declared(run_platform, sample_platform):
    sample_platform["security"]["log_archive"]["auditor_role_names"] = ["mrd-security-auditor", "soc-reader-*"]
    with pytest.raises(PreviewError) as info:
        run_platform("security", platform=sample_platform)
    message = str(info.value)
    assert "log archive bucket and key policies" in message and "'soc-reader-*' in account security-tooling" in message
    assert [r for r in info.value.registered if r.custom] == []
    # Declared pre-existing, the same configuration deploys.
    sample_platform["organization"]["existing_roles"].append(
        {"account": "security-tooling", "name": "soc-reader-1", "reason": "SOC analysts' reader role (SIEM team)"})
    assert run_platform("security", platform=sample_platform).errors == []


def test_break_glass_trusted_roles_must_be_known(run_platform, sample_platform):
    sample_platform["organization"]["break_glass"]["trusted_principals"] = [
        "arn:aws:iam::111111111111:user/mrd-break-glass-1",
        "arn:aws:iam::111111111111:role/ops-emergency",
        "arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_BreakGlass_*",
    ]
    with pytest.raises(PreviewError) as info:
        run_platform("security", platform=sample_platform)
    message = str(info.value)
    assert "management break-glass trust policy (BreakGlassWithRecentMfa): names role 'ops-emergency' in account management" in message
    assert "AWSReservedSSO" not in message   # Identity Center's roles are created by AWS
    assert [r for r in info.value.registered if r.custom] == []


def test_created_roles_follow_the_security_settings(run_platform, sample_platform, sample_runs):
    """The list keeps up with the security stack under other settings too (Control Tower owns
    the recorders, the baseline reaches some OUs, an existing break-glass role, more auditors)."""
    data = sample_platform
    data["security"]["control_tower"]["enabled"] = True
    data["security"]["config"]["baseline_ous"] = ["Workloads", "Security"]
    data["security"]["log_archive"]["auditor_role_names"] = ["mrd-security-auditor", "mrd-forensics"]
    data["organization"]["break_glass"] = {"existing": True}
    run = run_platform("security", platform=data)
    ids = sample_runs("organization").outputs["accountIds"]
    keys = {**{v: k for k, v in ids.items()}, "111111111111": MANAGEMENT}
    org = sample_runs("organization").outputs
    platform = parse_platform(data)
    planned = {(keys[r.account], r.inputs["name"], "security") for r in run.of_type(ROLE_TYPE)}
    (stack_set,) = run.of_type(STACK_SET)
    planned |= _template_roles(stack_set, run.of_type(STACK_SET_INSTANCE), platform, org["ouIds"], org["rootId"])
    listed = {(r.account, r.name, r.source) for r in created_roles(platform) if r.source == "security"}
    assert listed == planned
    assert (MANAGEMENT, "mrd-break-glass", "security") not in listed
    assert ("security-tooling", "mrd-forensics", "security") in listed
    assert not any(name.startswith("mrd-config-recorder-") for _, name, _ in listed)
    assert ("network", "mrd-break-glass", "security") not in listed   # Infrastructure OU: not a target


def test_key_policies_may_not_name_a_break_glass_role_the_baseline_does_not_create(run_platform, sample_platform):
    # The baseline StackSet (and so the break-glass role) reaches the Workloads OU only; the
    # network account's flow-log key would name a role that does not exist there.
    sample_platform["security"]["config"]["baseline_ous"] = ["Workloads"]
    with pytest.raises(PreviewError) as info:
        run_platform("network", platform=sample_platform)
    message = str(info.value)
    assert "VPC flow-log key policy (administrators): names role 'mrd-break-glass' in account network" in message
    assert "in account data-lake" not in message   # Workloads/Prod: the baseline reaches it
    assert [r for r in info.value.registered if r.custom] == []


# -- configuration ----------------------------------------------------------------------------

def _problems(data) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_platform(data)
    return exc.value.problems


def test_existing_roles_are_validated(sample_platform):
    sample_platform["organization"]["existing_roles"] = [
        {"account": "nowhere", "name": "x-role", "reason": "a good enough reason"},
        {"account": "automation", "name": "bad name!", "reason": "a good enough reason"},
        {"account": "data-lake", "name": "mrd-data-write-back", "reason": "a good enough reason"},
        {"account": "automation", "name": "mrd-data-approval", "reason": "short"},
        {"account": "automation", "name": "mrd-data-approval", "reason": "a good enough reason"},
    ]
    problems = _problems(sample_platform)
    assert any(p.startswith("organization.existing_roles[0].account: unknown account 'nowhere'") for p in problems)
    assert any(p.startswith("organization.existing_roles[1].name: 'bad name!'") for p in problems)
    assert any(p.startswith("organization.existing_roles[2]: role 'mrd-data-write-back' in data-lake is created by the data-lake stack")
               for p in problems)
    assert any(p.startswith("organization.existing_roles[3].reason:") for p in problems)
    assert any(p.startswith("organization.existing_roles[4]: role 'mrd-data-approval' in automation is already declared")
               for p in problems)


def test_break_glass_principals_are_validated(sample_platform):
    bg = sample_platform["organization"]["break_glass"]
    bg["trusted_principals"] = [
        "arn:aws:iam::222222222222:user/someone",          # another account
        "arn:aws:iam::111111111111:root",                  # the whole account
        "arn:aws:iam::111111111111:role/*",                # every role
        "arn:aws:iam::111111111111:role/mrd-break-glass",  # itself
        "arn:aws:iam::111111111111:user/ops-*",            # a user pattern
    ]
    bg["max_mfa_age_seconds"] = 7200
    problems = _problems(sample_platform)
    key = "organization.break_glass"
    assert any(p.startswith(f"{key}.trusted_principals[0]: ") and "management account 111111111111" in p for p in problems)
    assert any(p.startswith(f"{key}.trusted_principals[1]: ") and "not an IAM user or role ARN" in p for p in problems)
    assert any(p.startswith(f"{key}.trusted_principals[2]: ") and "every role" in p for p in problems)
    assert any(p.startswith(f"{key}.trusted_principals[3]: the break-glass role cannot trust itself") for p in problems)
    assert any(p.startswith(f"{key}.trusted_principals[4]: ") and "user pattern" in p for p in problems)
    assert any(p.startswith(f"{key}.max_mfa_age_seconds: 7200") for p in problems)
    bg["trusted_principals"] = []
    assert any(p.startswith(f"{key}.trusted_principals: at least one principal") for p in _problems(sample_platform))
    bg["max_session_seconds"] = 60
    assert any(p.startswith(f"{key}.max_session_seconds:") for p in _problems(sample_platform))


def test_a_reserved_pattern_is_known_only_as_itself(platform):
    # MOD-1 denies by the model-consumer pattern before any such role exists; a policy that
    # grants to or trusts a concrete role of that family is still an unknown principal.
    from stacks.data_settings import model_consumer_role_pattern

    pattern = model_consumer_role_pattern(platform)
    assert find_role(platform, "*", pattern) is not None
    assert find_role(platform, "*", "mrd-fraud-detection-dev-model-consumer") is None
    assert find_role(platform, "fraud-detection-dev", pattern) is None


def test_the_role_inventory_is_built_once_per_definition(monkeypatch, sample_platform):
    # Validation builds it, and the stacks' require_roles asks for it again: once per stack.
    from stacks import principal_settings
    from stacks.config import parse_platform
    from stacks.principal_settings import RoleReference, require_roles

    created, known = [], []  # definitions each inventory was built for
    for module, name, calls in ((principal_settings.ms, "created_roles", created),
                                (principal_settings, "aws_created_roles", known)):
        build = getattr(module, name)
        monkeypatch.setattr(module, name, lambda p, build=build, calls=calls: calls.append(p) or build(p))
    platform = parse_platform(sample_platform)
    roles = created_roles(platform)
    require_roles(platform, [RoleReference("test", MANAGEMENT, roles[0].name)])
    require_roles(platform, [RoleReference("test", MANAGEMENT, roles[0].name)])
    roles.clear()  # a caller's copy: the inventory stays whole
    assert created_roles(platform) == known_roles(platform)[:len(created_roles(platform))]
    assert (len(created), len(known)) == (1, 1)
    assert known_roles(parse_platform(sample_platform)) and (len(created), len(known)) == (2, 2)  # afresh


def test_finding_a_role_by_its_accounts_roles_answers_as_the_whole_inventory(sample_platform):
    # find_role looks among the account's roles only; the answer must be the one a scan of the
    # whole inventory gives, for names, patterns, unknown roles and accounts, and `*`.
    platform = parse_platform(sample_platform)
    known = known_roles(platform)
    accounts = sorted({r.account for r in known}) + ["*", "no-such-account"]
    names = sorted({r.name for r in known})[::7] + ["*", "AWSServiceRoleForConfig", "aws-service-role/x",
                                                    "no-such-role", "mrd-*"]
    for account in accounts:
        for name in names:
            assert find_role(platform, account, name) == find_role(platform, account, name, known), (account, name)


def test_glob_match_answers_as_fnmatchcase(sample_platform):
    # Role names and references, literal and patterned, against each other: plain names are
    # compared instead of compiled, and the answer is fnmatch's for every pair.
    import fnmatch

    from stacks.principal_settings import glob_match

    names = sorted({r.name for r in known_roles(parse_platform(sample_platform))})[::5]
    names += ["*", "mrd-*", "mrd-?ata-*", "[ab]c", "a[!b]c", "abc", "acc", "a.c", "a\\c", "a+c", "(x)", "x$",
              "^x", "", "MRD-*", "role/path/*", "aws-service-role/*"]
    checked = 0
    for name in names:
        for pattern in names:
            assert glob_match(name, pattern) == fnmatch.fnmatchcase(name, pattern), (name, pattern)
            checked += glob_match(name, pattern)
    assert checked > len(names)  # some pairs match other than themselves
