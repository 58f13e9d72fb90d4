"""Realistic, deterministic mocked outputs for pulumi-aws resources and invokes.

The mocks answer the way AWS would: 12-digit account ids, ARNs with the partition, region and
account of the provider that creates the resource (so cross-account wiring reads as it will in
AWS), ids in AWS formats, and names echoed where AWS echoes them. Every value derives from a
hash of the stack and the resource's URN, so one configuration always gives the same plan.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pulumi

PARTITION = "aws"
_HEX = "0123456789abcdef"
_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


def digest(*parts: str) -> str:
    """A stable hex digest of the given parts."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _chars(seed: str, n: int, alphabet: str) -> str:
    h = digest(seed)
    while len(h) < 2 * n:
        h += digest(h)
    return "".join(alphabet[int(h[2 * i : 2 * i + 2], 16) % len(alphabet)] for i in range(n))


def account_id_for(seed: str) -> str:
    """A 12-digit account id, never starting with 0."""
    return str(1 + int(digest("account", seed), 16) % 9) + str(int(digest("acct", seed), 16))[:11]


def uuid_for(seed: str) -> str:
    h = digest("uuid", seed)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


# type token -> (id format, arn format). `{n}` is the echoed or generated name, `{id}` the id,
# `{region}`, `{account}`, `{partition}` come from the provider. None means "no ARN".
_ID_PREFIXES = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/flowLog:FlowLog": "fl",
    "aws:ec2/networkAcl:NetworkAcl": "acl",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2transitgateway/transitGateway:TransitGateway": "tgw",
    "aws:ec2transitgateway/vpcAttachment:VpcAttachment": "tgw-attach",
    "aws:ec2transitgateway/routeTable:RouteTable": "tgw-rtb",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr",
    "aws:route53/zone:Zone": "Z",
    "aws:servicecatalog/portfolio:Portfolio": "port",
    "aws:servicecatalog/product:Product": "prod",
    "aws:servicecatalog/tagOption:TagOption": "tag",
}

_ARNS = {
    "aws:iam/role:Role": "arn:{partition}:iam::{account}:role/{n}",
    "aws:iam/policy:Policy": "arn:{partition}:iam::{account}:policy/{n}",
    "aws:iam/user:User": "arn:{partition}:iam::{account}:user/{n}",
    "aws:iam/instanceProfile:InstanceProfile": "arn:{partition}:iam::{account}:instance-profile/{n}",
    "aws:s3/bucket:Bucket": "arn:{partition}:s3:::{n}",
    "aws:kms/key:Key": "arn:{partition}:kms:{region}:{account}:key/{id}",
    "aws:kms/alias:Alias": "arn:{partition}:kms:{region}:{account}:{n}",
    "aws:sns/topic:Topic": "arn:{partition}:sns:{region}:{account}:{n}",
    "aws:sqs/queue:Queue": "arn:{partition}:sqs:{region}:{account}:{n}",
    "aws:cloudtrail/trail:Trail": "arn:{partition}:cloudtrail:{region}:{account}:trail/{n}",
    "aws:cloudwatch/logGroup:LogGroup": "arn:{partition}:logs:{region}:{account}:log-group:{n}",
    "aws:cloudwatch/eventRule:EventRule": "arn:{partition}:events:{region}:{account}:rule/{n}",
    "aws:ecr/repository:Repository": "arn:{partition}:ecr:{region}:{account}:repository/{n}",
    "aws:sagemaker/domain:Domain": "arn:{partition}:sagemaker:{region}:{account}:domain/{id}",
    "aws:sagemaker/studioLifecycleConfig:StudioLifecycleConfig": "arn:{partition}:sagemaker:{region}:{account}:studio-lifecycle-config/{n}",
    "aws:ec2/vpc:Vpc": "arn:{partition}:ec2:{region}:{account}:vpc/{id}",
    "aws:ec2/subnet:Subnet": "arn:{partition}:ec2:{region}:{account}:subnet/{id}",
    "aws:ec2/securityGroup:SecurityGroup": "arn:{partition}:ec2:{region}:{account}:security-group/{id}",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "arn:{partition}:ec2:{region}:{account}:vpc-endpoint/{id}",
    "aws:ec2transitgateway/transitGateway:TransitGateway": "arn:{partition}:ec2:{region}:{account}:transit-gateway/{id}",
    "aws:ec2transitgateway/routeTable:RouteTable": "arn:{partition}:ec2:{region}:{account}:transit-gateway-route-table/{id}",
    "aws:ram/resourceShare:ResourceShare": "arn:{partition}:ram:{region}:{account}:resource-share/{uuid}",
    "aws:glue/catalogDatabase:CatalogDatabase": "arn:{partition}:glue:{region}:{account}:database/{n}",
    "aws:athena/workgroup:Workgroup": "arn:{partition}:athena:{region}:{account}:workgroup/{n}",
    "aws:cfg/rule:Rule": "arn:{partition}:config:{region}:{account}:config-rule/config-rule-{short}",
    "aws:accessanalyzer/analyzer:Analyzer": "arn:{partition}:access-analyzer:{region}:{account}:analyzer/{n}",
    "aws:cloudformation/stackSet:StackSet": "arn:{partition}:cloudformation:{region}:{account}:stackset/{n}:{uuid}",
    "aws:ssm/parameter:Parameter": "arn:{partition}:ssm:{region}:{account}:parameter{n}",
    # Rekognition adds the creation time (epoch milliseconds) to the project name.
    "aws:rekognition/project:Project": "arn:{partition}:rekognition:{region}:{account}:project/{n}/1700000000000",
    "aws:codecommit/repository:Repository": "arn:{partition}:codecommit:{region}:{account}:{n}",
    "aws:codeconnections/connection:Connection": "arn:{partition}:codeconnections:{region}:{account}:connection/{uuid}",
    "aws:servicecatalog/portfolio:Portfolio": "arn:{partition}:catalog:{region}:{account}:portfolio/{id}",
    "aws:servicecatalog/product:Product": "arn:{partition}:catalog:{region}:{account}:product/{id}",
}

# Inputs AWS echoes back as the resource's name when set.
_NAME_KEYS = ("name", "bucket", "roleName", "functionName", "topicName", "repositoryName", "domainName")


def _decoded(value: Any) -> Any:
    # Provider inputs reach the engine JSON-encoded (a list arrives as '["..."]').
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class PlatformMocks(pulumi.runtime.Mocks):
    """Mocks answering like AWS, deterministic per stack.

    `default_account_id` is the account of a provider that assumes no role (the management
    account); providers that assume `arn:aws:iam::<id>:role/...` act in account `<id>`.
    """

    def __init__(self, stack: str, default_account_id: str, default_region: str,
                 invoke_mocks: dict[str, list[dict[str, Any]]] | None = None, mocks_file: str | None = None):
        self.stack = stack
        # The user's mocks file (see load_mocks_file): answers first, then the built-in ones.
        self.invoke_mocks = invoke_mocks or {}
        self.mocks_file = mocks_file
        self.default_account_id = default_account_id
        self.default_region = default_region
        # provider reference ("urn::id") -> (account, region)
        self.providers: dict[str, tuple[str, str]] = {}
        self.organization_id = "o-" + _chars("org" + default_account_id, 10, _ALNUM)
        self.root_id = "r-" + _chars("root" + default_account_id, 4, _ALNUM)

    # -- provider context --------------------------------------------------------------
    def context(self, provider_ref: str | None) -> tuple[str, str]:
        """(account, region) a resource using provider reference `urn::id` (or None) acts in."""
        if provider_ref and provider_ref in self.providers:
            return self.providers[provider_ref]
        return self.default_account_id, self.default_region


    def _register_provider(self, args: pulumi.runtime.MockResourceArgs, resource_id: str) -> None:
        account, region = self.default_account_id, args.inputs.get("region") or self.default_region
        roles = _decoded(args.inputs.get("assumeRoles")) or []
        # A provider pinned to one account (and assuming no role) acts in that account.
        allowed = _decoded(args.inputs.get("allowedAccountIds")) or []
        if isinstance(allowed, list) and len(allowed) == 1 and re.fullmatch(r"\d{12}", str(allowed[0])):
            account = str(allowed[0])
        if isinstance(roles, dict):
            roles = [roles]
        for role in roles:
            match = re.match(r"^arn:[\w-]+:iam::(\d{12}):role/", str(role.get("roleArn", "")))
            if match:
                account = match.group(1)
        urn = self._urn(args)
        self.providers[f"{urn}::{resource_id}"] = (account, region)

    def _urn(self, args: pulumi.runtime.MockResourceArgs) -> str:
        # The monitor computes the same URN; only its uniqueness matters for the mocks.
        return getattr(args, "urn", None) or f"{args.typ}::{args.name}"

    # -- resources ---------------------------------------------------------------------
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        seed = f"{self.stack}/{self._urn(args)}"
        inputs = dict(args.inputs)
        typ = args.typ
        if typ.startswith("pulumi:providers:"):
            resource_id = uuid_for(seed)
            self._register_provider(args, resource_id)
            return resource_id, inputs
        if not args.custom:
            return f"{args.name}-component", inputs

        account, region = self.context(args.provider)
        name = next((inputs[k] for k in _NAME_KEYS if isinstance(inputs.get(k), str)), None)
        generated = name or f"{args.name}-{_chars(seed, 7, _HEX)}"
        state: dict[str, Any] = dict(inputs)
        resource_id = self._id(typ, seed, generated, inputs)
        arn = self._arn(typ, seed, generated, resource_id, account, region)
        if arn:
            state["arn"] = arn
        if name is None and typ in _ARNS and "{n}" in _ARNS[typ]:
            state["name"] = generated
        state.update(self._extra(typ, seed, state, resource_id, account, region))
        if "tags" in inputs:
            state.setdefault("tagsAll", inputs.get("tags") or {})
        return resource_id, state

    def _id(self, typ: str, seed: str, name: str, inputs: dict) -> str:
        if typ == "aws:organizations/account:Account":
            return account_id_for(inputs.get("email", seed))
        if typ == "aws:organizations/organizationalUnit:OrganizationalUnit":
            return f"ou-{self.root_id[2:]}-{_chars(seed, 8, _ALNUM)}"
        if typ == "aws:organizations/policy:Policy":
            return "p-" + _chars(seed, 8, _ALNUM)
        if typ == "aws:organizations/organization:Organization":
            return self.organization_id
        if typ == "aws:kms/key:Key":
            return uuid_for(seed)
        if typ in _ID_PREFIXES:
            prefix = _ID_PREFIXES[typ]
            if prefix == "Z":
                return "Z" + _chars(seed, 20, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
            return f"{prefix}-{_chars(seed, 17, _HEX)}"
        return name

    def _arn(self, typ: str, seed: str, name: str, resource_id: str, account: str, region: str) -> str | None:
        if typ == "aws:organizations/account:Account":
            return f"arn:{PARTITION}:organizations::{self.default_account_id}:account/{self.organization_id}/{resource_id}"
        if typ == "aws:organizations/organizationalUnit:OrganizationalUnit":
            return f"arn:{PARTITION}:organizations::{self.default_account_id}:ou/{self.organization_id}/{resource_id}"
        if typ == "aws:organizations/policy:Policy":
            return f"arn:{PARTITION}:organizations::{self.default_account_id}:policy/{self.organization_id}/service_control_policy/{resource_id}"
        if typ == "aws:organizations/organization:Organization":
            return f"arn:{PARTITION}:organizations::{self.default_account_id}:organization/{self.organization_id}"
        template = _ARNS.get(typ)
        if template is None:
            return None
        return template.format(
            partition=PARTITION, region=region, account=account, n=name, id=resource_id,
            uuid=uuid_for(seed), short=_chars(seed, 6, _ALNUM),
        )

    def _extra(self, typ: str, seed: str, state: dict, resource_id: str, account: str, region: str) -> dict:
        """Computed attributes other resources commonly read."""
        if typ == "aws:organizations/organization:Organization":
            root_arn = f"arn:{PARTITION}:organizations::{self.default_account_id}:root/{self.organization_id}/{self.root_id}"
            return {
                "masterAccountId": self.default_account_id,
                "roots": [{"id": self.root_id, "arn": root_arn, "name": "Root", "policyTypes": []}],
            }
        if typ == "aws:kms/key:Key":
            return {"keyId": resource_id}
        if typ == "aws:s3/bucket:Bucket":
            return {"bucket": state.get("bucket") or resource_id, "bucketDomainName": f"{resource_id}.s3.amazonaws.com",
                    "bucketRegionalDomainName": f"{resource_id}.s3.{region}.amazonaws.com", "region": region}
        if typ == "aws:ssoadmin/permissionSet:PermissionSet":
            instance = str(state.get("instanceArn", "")).rsplit("/", 1)[-1]
            return {"arn": f"arn:{PARTITION}:sso:::permissionSet/{instance}/ps-{_chars(seed, 16, _HEX)}"}
        if typ == "aws:iam/role:Role":
            return {"uniqueId": "AROA" + _chars(seed, 17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")}
        if typ == "aws:ec2/vpc:Vpc":
            return {"defaultSecurityGroupId": f"sg-{_chars(seed + 'sg', 17, _HEX)}",
                    "defaultRouteTableId": f"rtb-{_chars(seed + 'rtb', 17, _HEX)}",
                    "defaultNetworkAclId": f"acl-{_chars(seed + 'acl', 17, _HEX)}", "ownerId": account}
        if typ == "aws:ec2transitgateway/transitGateway:TransitGateway":
            return {"ownerId": account, "associationDefaultRouteTableId": "", "propagationDefaultRouteTableId": ""}
        if typ == "aws:ec2/vpcEndpoint:VpcEndpoint":
            if state.get("vpcEndpointType") == "Gateway":
                # Gateway endpoints expose the AWS-managed prefix list of their service.
                return {"prefixListId": f"pl-{_chars(seed, 8, _HEX)}", "ownerId": account, "dnsEntries": []}
            return {"dnsEntries": [{"dnsName": f"{resource_id}.{state.get('serviceName', '')}", "hostedZoneId": "Z" + _chars(seed, 13, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")}],
                    "ownerId": account}
        if typ in ("aws:ec2/vpnConnection:VpnConnection", "aws:directconnect/gatewayAssociation:GatewayAssociation"):
            # Attachments to the Transit Gateway that AWS creates for these connections.
            return {"transitGatewayAttachmentId": f"tgw-attach-{_chars(seed + 'attach', 17, _HEX)}"}
        if typ == "aws:ecr/repository:Repository":
            # AWS computes the registry and the repository's URL from the account and region.
            return {"registryId": account,
                    "repositoryUrl": f"{account}.dkr.ecr.{region}.amazonaws.com/{state.get('name', resource_id)}"}
        if typ == "aws:sagemaker/userProfile:UserProfile":
            return {"arn": f"arn:{PARTITION}:sagemaker:{region}:{account}:user-profile/"
                           f"{state.get('domainId', '')}/{state.get('userProfileName', resource_id)}"}
        if typ == "aws:sagemaker/domain:Domain":
            return {"url": f"https://{resource_id}.studio.{region}.sagemaker.aws", "homeEfsFileSystemId": f"fs-{_chars(seed, 17, _HEX)}"}
        return {}

    # -- invokes -----------------------------------------------------------------------
    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list] | dict:
        token = args.token
        for entry in self.invoke_mocks.get(token, ()):
            if _matches(entry.get("args") or {}, args.args):
                return copy.deepcopy(entry.get("return") or {})
        answer = self._builtin_call(args)
        if answer is None:
            raise MissingInvokeMock(token, args.args, self.mocks_file, token in self.invoke_mocks)
        return answer

    def _builtin_call(self, args: pulumi.runtime.MockCallArgs) -> dict | None:
        account, region = self.context(args.provider)
        token = args.token
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": account, "arn": f"arn:{PARTITION}:sts::{account}:assumed-role/pulumi/session",
                    "userId": "AROA" + _chars(account, 17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), "id": account}
        if token == "aws:index/getRegion:getRegion":
            return {"name": region, "region": region, "id": region, "endpoint": f"ec2.{region}.amazonaws.com",
                    "description": region}
        if token == "aws:index/getPartition:getPartition":
            return {"partition": PARTITION, "dnsSuffix": "amazonaws.com", "id": PARTITION,
                    "reverseDnsPrefix": "com.amazonaws"}
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{region}{s}" for s in "abc"]
            return {"names": names, "zoneIds": [f"{region[:3]}{region.split('-')[-1]}-az{i + 1}" for i in range(3)],
                    "id": region}
        if token == "aws:organizations/getOrganization:getOrganization":
            return {"id": self.organization_id, "masterAccountId": self.default_account_id,
                    "roots": [{"id": self.root_id, "name": "Root"}], "featureSet": "ALL",
                    "arn": f"arn:{PARTITION}:organizations::{self.default_account_id}:organization/{self.organization_id}"}
        if token == "aws:iam/getRole:getRole":
            # A role the configuration says exists (e.g. organization.break_glass.existing).
            name = args.args["name"]
            return {"arn": f"arn:{PARTITION}:iam::{account}:role/{name}", "name": name, "id": name, "path": "/",
                    "uniqueId": "AROA" + _chars(account + name, 17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
                    "assumeRolePolicy": "{}", "createDate": "2024-01-01T00:00:00Z", "description": "",
                    "maxSessionDuration": 3600, "permissionsBoundary": "", "roleLastUseds": [], "tags": {}}
        return None


class MissingInvokeMock(NotImplementedError):
    """An invoke (data source) that neither the mocks file nor the built-in AWS mocks answer."""

    def __init__(self, token: str, args: dict[str, Any], mocks_file: str | None, token_known: bool = False):
        self.token, self.args, self.mocks_file = token, args, mocks_file
        shown = json.dumps(_jsonable(args), sort_keys=True)
        if mocks_file is None:
            text = (f"invoke {token} has no mock (called with {shown}); write its answer in a mocks file "
                    f"(JSON or YAML) and pass it with --mocks FILE: "
                    f'{{"invokes": {{"{token}": [{{"args": {shown}, "return": {{...}}}}]}}}}')
        else:
            which = "no entry matching these arguments" if token_known else "no entry"
            text = (f"invoke {token} has {which} in the mocks file {mocks_file} (called with {shown}); "
                    f'add one to {mocks_file}: under "invokes", "{token}": [{{"args": {shown}, "return": {{...}}}}]')
        super().__init__(text)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def _matches(expected: Any, actual: Any) -> bool:
    """Whether the call's arguments hold `expected`: the keys given, with equal values (a
    mapping's other keys are ignored at every depth, lists must match item by item)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and _matches(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return (isinstance(actual, (list, tuple)) and len(expected) == len(actual)
                and all(_matches(e, a) for e, a in zip(expected, actual)))
    return expected == actual


class MocksFileError(ValueError):
    """The mocks file cannot be read or is not in the expected shape."""


def read_data_file(path: Path, what: str, error: type[Exception]) -> Any:
    """A JSON or YAML file's data; `error` names the file as `what` when it cannot be read or
    parsed (JSON is YAML)."""
    import yaml

    try:
        return yaml.safe_load(path.read_text())
    except OSError as exc:
        raise error(f"{what} {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise error(f"{what} {path}: not valid JSON or YAML: {exc}") from None


def load_mocks_file(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """The invoke mocks of a JSON or YAML file: `{"invokes": {token: [{"args": {...}, "return": {...}}]}}`.

    Entries of a token are tried in order; the first whose `args` the call's arguments hold
    answers with its `return` (an entry without `args` answers every call).
    """
    path = Path(path)
    data = read_data_file(path, "mocks file", MocksFileError)
    invokes = data.get("invokes") if isinstance(data, dict) else None
    problems = []
    if not isinstance(invokes, dict):
        problems.append('the top level must be a mapping with "invokes": {token: [entries]}')
        invokes = {}
    for token, entries in invokes.items():
        if not isinstance(entries, list):
            entries = [entries]
            invokes[token] = entries
        for n, entry in enumerate(entries):
            if not isinstance(entry, dict) or "return" not in entry or not set(entry) <= {"args", "return"}:
                problems.append(f'invokes.{token}[{n}]: must be a mapping with "return" (and optionally "args")')
            elif not isinstance(entry["return"], dict) or not isinstance(entry.get("args") or {}, dict):
                problems.append(f'invokes.{token}[{n}]: "args" and "return" must be mappings')
    if problems:
        raise MocksFileError(f"mocks file {path}: " + "; ".join(problems))
    return {str(k): v for k, v in invokes.items()}
