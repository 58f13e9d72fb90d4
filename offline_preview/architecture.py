"""The architecture the preview would build, drawn from the plan: SVG (own writer) and Mermaid.

What is drawn, read from `plan.json` data so any program's plan can be drawn:

- accounts grouped by OU (from `aws:organizations` OUs and accounts; accounts that appear only
  as a provider's account are grouped apart),
- in each account: VPCs with their CIDR and endpoints, Transit Gateways, buckets, KMS keys
  (by alias), and roles that principals other than AWS services may assume,
- trust edges: from each account whose principals a role trusts to the role's account,
- StackReference edges: from each stack to the stacks that read it.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offline_preview.svg import Svg, text_width

OU_TYPE = "aws:organizations/organizationalUnit:OrganizationalUnit"
ACCOUNT_TYPE = "aws:organizations/account:Account"
ORGANIZATION_TYPE = "aws:organizations/organization:Organization"
ORG_POLICY_TYPE = "aws:organizations/policy:Policy"
VPC_TYPE = "aws:ec2/vpc:Vpc"
ENDPOINT_TYPE = "aws:ec2/vpcEndpoint:VpcEndpoint"
TGW_TYPE = "aws:ec2transitgateway/transitGateway:TransitGateway"
TGW_ATTACHMENT_TYPE = "aws:ec2transitgateway/vpcAttachment:VpcAttachment"
BUCKET_TYPE = "aws:s3/bucket:Bucket"
KEY_TYPE = "aws:kms/key:Key"
ALIAS_TYPE = "aws:kms/alias:Alias"
ROLE_TYPE = "aws:iam/role:Role"
_ACCOUNT_IN_ARN = re.compile(r"^arn:[\w-]+:iam::(\d{12}):(root|role/.+|user/.+|assumed-role/.+)$")


@dataclass
class Item:
    """One thing drawn inside an account box."""

    kind: str  # vpc, endpoints, tgw, bucket, key, role, services
    label: str
    detail: str = ""


@dataclass
class Account:
    id: str
    name: str
    ou: str | None  # OU path, "" for the root, None when not a member of a drawn organization
    items: list[Item] = field(default_factory=list)
    resources: int = 0


@dataclass(frozen=True)
class Trust:
    role: str  # role name
    role_account: str
    principal: str  # what may assume it, as text
    principal_account: str | None  # its account, when it is one


@dataclass
class Model:
    """What the diagram shows; built by :func:`build_model`."""

    project: str
    ous: list[str]  # OU paths, parents first
    accounts: dict[str, Account]
    trusts: list[Trust]
    stacks: list[tuple[str, str | None]]  # (name, layer)
    references: list[tuple[str, str]]  # (upstream, reader)
    management_account: str | None = None


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def trusted_principals(policy: Any) -> list[tuple[str, str | None]]:
    """Who a trust policy lets assume the role: [(description, account id or None)], services left out."""
    document = _json(policy)
    if not isinstance(document, dict):
        return []
    found = []
    for statement in _list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = [str(a) for a in _list(statement.get("Action"))]
        if not any(a.lower().startswith("sts:assumerole") or a == "*" or a == "sts:*" for a in actions):
            continue
        conditions = statement.get("Condition") or {}
        org_condition = any("aws:principalorgid" in str(k).lower() for v in conditions.values()
                            if isinstance(v, dict) for k in v)
        principal = statement.get("Principal")
        if principal == "*":
            found.append(("any principal" + (" in the organization" if org_condition else ""), None))
            continue
        if not isinstance(principal, dict):
            continue
        for value in _list(principal.get("AWS")):
            value = str(value)
            match = _ACCOUNT_IN_ARN.match(value)
            if match:
                account, what = match.groups()
                label = f"{account}" if what == "root" else f"{account} {what}"
                found.append((label + (" (organization only)" if org_condition else ""), account))
            elif re.fullmatch(r"\d{12}", value):
                found.append((value, value))
            elif value == "*":
                found.append(("any principal" + (" in the organization" if org_condition else ""), None))
            else:
                found.append((value, None))
        for value in _list(principal.get("Federated")):
            found.append((f"federated {value}", None))
    return found


def _ou_paths(resources: list[dict[str, Any]]) -> tuple[dict[str, str], str | None]:
    """OU id -> path, and the organization's root id."""
    ous = {r["id"]: r for r in resources if r["type"] == OU_TYPE and r.get("id")}
    root_id = None
    for r in resources:
        if r["type"] == ORGANIZATION_TYPE:
            roots = (r.get("outputs") or {}).get("roots") or []
            if roots and isinstance(roots[0], dict):
                root_id = roots[0].get("id")
    paths: dict[str, str] = {}

    def path(ou_id: str, seen: frozenset[str] = frozenset()) -> str:
        if ou_id in paths:
            return paths[ou_id]
        ou = ous[ou_id]
        parent = (ou.get("inputs") or {}).get("parentId")
        name = str((ou.get("inputs") or {}).get("name") or ou["name"])
        prefix = path(parent, seen | {ou_id}) + "/" if parent in ous and parent not in seen else ""
        paths[ou_id] = prefix + name
        return paths[ou_id]

    for ou_id in ous:
        path(ou_id)
    return paths, root_id


def build_model(plan: dict[str, Any]) -> Model:
    """Read the diagram's content from plan.json data."""
    stacks = plan.get("stacks") or []
    resources = [r for s in stacks for r in s.get("resources") or []]
    ou_paths, root_id = _ou_paths(resources)
    accounts: dict[str, Account] = {}
    org_policies: dict[str, int] = defaultdict(int)
    management = None
    for r in resources:
        if r["type"] == ACCOUNT_TYPE and r.get("id"):
            inputs = r.get("inputs") or {}
            parent = inputs.get("parentId")
            ou = ou_paths.get(parent, "" if parent == root_id or parent is None else None)
            accounts[r["id"]] = Account(r["id"], str(inputs.get("name") or r["name"]), ou)
        if r["type"] == ORG_POLICY_TYPE:
            org_policies[str((r.get("inputs") or {}).get("type") or "SERVICE_CONTROL_POLICY")] += 1
        if r["type"] == ORGANIZATION_TYPE:
            management = (r.get("outputs") or {}).get("masterAccountId") or r.get("account")
    if management and management not in accounts:
        accounts[management] = Account(management, "management", "" if ou_paths else None)
    if management and org_policies:
        kinds = ", ".join(f"{n} {k.replace('_', ' ').lower()}" for k, n in sorted(org_policies.items()))
        accounts[management].items.append(Item("org", f"organization policies: {kinds}"))

    def account(account_id: str) -> Account:
        if account_id not in accounts:
            accounts[account_id] = Account(account_id, "AWS account", None)
        return accounts[account_id]

    # Items, per account.
    aliases: dict[str, list[str]] = defaultdict(list)
    for r in resources:
        if r["type"] == ALIAS_TYPE:
            target = str((r.get("inputs") or {}).get("targetKeyId") or "")
            aliases[target].append(str((r.get("inputs") or {}).get("name") or r["name"]))
    endpoints: dict[str, list[str]] = defaultdict(list)
    attached: set[str] = set()
    for r in resources:
        inputs = r.get("inputs") or {}
        if r["type"] == ENDPOINT_TYPE:
            service = str(inputs.get("serviceName") or r["name"])
            endpoints[str(inputs.get("vpcId"))].append(re.sub(r"^com\.amazonaws\.[\w-]+\.", "", service))
        if r["type"] == TGW_ATTACHMENT_TYPE:
            attached.add(str(inputs.get("vpcId")))
    trusts: list[Trust] = []
    service_roles: dict[str, int] = defaultdict(int)
    for r in sorted(resources, key=lambda r: r["urn"]):
        if not r.get("account") or r.get("read"):
            continue
        acct = account(r["account"])
        acct.resources += 1
        inputs, outputs = r.get("inputs") or {}, r.get("outputs") or {}
        typ = r["type"]
        if typ == VPC_TYPE:
            detail = ", ".join(sorted(set(endpoints.get(str(r.get("id")), []))))
            flags = " · TGW" if str(r.get("id")) in attached else ""
            acct.items.append(Item("vpc", f"VPC {r['name']} {inputs.get('cidrBlock', '')}{flags}".strip(), detail))
        elif typ == TGW_TYPE:
            acct.items.append(Item("tgw", f"Transit Gateway {r['name']}"))
        elif typ == BUCKET_TYPE:
            name = inputs.get("bucket") or outputs.get("bucket") or r["name"]
            flags = " (Object Lock)" if inputs.get("objectLockEnabled") else ""
            acct.items.append(Item("bucket", f"bucket {name}{flags}"))
        elif typ == KEY_TYPE:
            ids = {str(r.get("id")), str(outputs.get("arn")), str(outputs.get("keyId"))}
            names = sorted({a for i in ids for a in aliases.get(i, [])})
            acct.items.append(Item("key", f"KMS key {names[0] if names else r['name']}"))
        elif typ == ROLE_TYPE:
            principals = trusted_principals(inputs.get("assumeRolePolicy"))
            role = str(inputs.get("name") or outputs.get("name") or r["name"])
            if not principals:
                service_roles[r["account"]] += 1
                continue
            who = ", ".join(sorted({p for p, _ in principals}))
            acct.items.append(Item("role", f"role {role}", f"assumed by {who}"))
            for principal, principal_account in sorted(set(principals)):
                trusts.append(Trust(role, r["account"], principal, principal_account))
    for account_id, count in service_roles.items():
        accounts[account_id].items.append(Item("services", f"{count} service role(s)"))
    for acct in accounts.values():
        order = {"org": -1, "vpc": 0, "tgw": 1, "bucket": 2, "key": 3, "role": 4, "services": 5}
        acct.items.sort(key=lambda i: (order.get(i.kind, 9), i.label))

    ous = sorted(set(ou_paths.values()), key=lambda p: (p.count("/"), p))
    stack_list = [(s["name"], s.get("layer")) for s in stacks]
    names = {s for s, _ in stack_list}
    references = sorted({(u, s["name"]) for s in stacks for u in s.get("references") or [] if u in names})
    return Model(plan.get("project") or "", ous, accounts, sorted(set(trusts), key=lambda t: (t.role_account, t.role, t.principal)),
                 stack_list, references, management)


# -- Mermaid -----------------------------------------------------------------------------------


def _mid(prefix: str, text: str) -> str:
    return prefix + re.sub(r"[^A-Za-z0-9_]", "_", text)


def _mlabel(text: str) -> str:
    return text.replace('"', "#quot;")


def render_mermaid(model: Model) -> str:
    """The model as a Mermaid flowchart: OUs and accounts as nested subgraphs."""
    lines = ["flowchart LR"]
    children: dict[str | None, list[str]] = defaultdict(list)
    for path in model.ous:
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        children[parent].append(path)
    by_ou: dict[str | None, list[Account]] = defaultdict(list)
    for acct in sorted(model.accounts.values(), key=lambda a: (a.name, a.id)):
        by_ou[acct.ou].append(acct)

    def emit_account(acct: Account, indent: str) -> None:
        aid = _mid("acct_", acct.id)
        lines.append(f'{indent}subgraph {aid}["{_mlabel(acct.name)} {acct.id}"]')
        if not acct.items:
            lines.append(f'{indent}  {aid}_empty["{acct.resources} resource(s)"]')
        for n, item in enumerate(acct.items):
            text = item.label + (f"<br/>{item.detail}" if item.detail else "")
            lines.append(f'{indent}  {aid}_{n}["{_mlabel(text)}"]')
        lines.append(f"{indent}end")

    def emit_ou(path: str, indent: str) -> None:
        lines.append(f'{indent}subgraph {_mid("ou_", path)}["OU {_mlabel(path.rsplit("/", 1)[-1])}"]')
        if not children.get(path) and not by_ou.get(path):
            lines.append(f'{indent}  {_mid("ou_", path)}_empty["no accounts"]')  # empty subgraphs do not render
        for child in children.get(path, []):
            emit_ou(child, indent + "  ")
        for acct in by_ou.get(path, []):
            emit_account(acct, indent + "  ")
        lines.append(f"{indent}end")

    if model.ous or by_ou.get(""):
        lines.append('  subgraph org_root["Organization root"]')
        for acct in by_ou.get("", []):
            emit_account(acct, "    ")
        for path in children.get("", []):
            emit_ou(path, "    ")
        lines.append("  end")
    for acct in by_ou.get(None, []):
        emit_account(acct, "  ")
    for trust in model.trusts:
        if trust.principal_account and trust.principal_account in model.accounts:
            role_node = next((f'{_mid("acct_", trust.role_account)}_{n}'
                              for n, item in enumerate(model.accounts[trust.role_account].items)
                              if item.kind == "role" and item.label == f"role {trust.role}"), None)
            if role_node:
                lines.append(f'  {_mid("acct_", trust.principal_account)} -. "may assume" .-> {role_node}')
    if model.stacks:
        lines.append('  subgraph stacks["Stacks (StackReferences)"]')
        for name, layer in model.stacks:
            lines.append(f'    {_mid("stack_", name)}["{_mlabel(name)}' + (f"<br/>{layer}" if layer else "") + '"]')
        for upstream, reader in model.references:
            lines.append(f"    {_mid('stack_', upstream)} --> {_mid('stack_', reader)}")
        lines.append("  end")
    return "\n".join(lines) + "\n"


# -- SVG ---------------------------------------------------------------------------------------

ACCOUNT_WIDTH = 330
LINE = 15
MAX_ITEMS = 14  # per account; the rest is summarized
ACCOUNTS_PER_ROW = 4
MAX_ROW_WIDTH = 4 * (ACCOUNT_WIDTH + 14) + 40
KIND_COLOURS = {"vpc": "#2e7d32", "tgw": "#00838f", "bucket": "#c62828", "key": "#f9a825",
                "role": "#6a1b9a", "services": "#757575", "endpoints": "#558b2f", "org": "#37474f"}
OU_FILL = ["#eef3fb", "#f6f9fe", "#fbfcff"]


@dataclass
class _Box:
    kind: str  # "ou" or "account"
    title: str
    account: Account | None = None
    children: list[_Box] = field(default_factory=list)
    w: float = 0
    h: float = 0
    x: float = 0
    y: float = 0
    depth: int = 0


def _wrap(text: str, width: float, size: float = 11) -> list[str]:
    words, lines, line = text.split(" "), [], ""
    for word in words:
        candidate = f"{line} {word}".strip()
        if line and text_width(candidate, size) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    if line:
        lines.append(line)
    return lines


def _account_lines(acct: Account) -> list[tuple[str, str, bool]]:
    """(kind, text, is_detail) lines of an account box."""
    out: list[tuple[str, str, bool]] = []
    inner = ACCOUNT_WIDTH - 34
    shown = acct.items[:MAX_ITEMS]
    for item in shown:
        for n, text in enumerate(_wrap(item.label, inner)):
            out.append((item.kind, text, n > 0))
        if item.detail:
            detail = _wrap(item.detail, inner - 8, 10)
            if len(detail) > 3:
                detail = detail[:3]
                detail[-1] += " …"
            out += [(item.kind, d, True) for d in detail]
    if len(acct.items) > len(shown):
        out.append(("services", f"+{len(acct.items) - len(shown)} more", False))
    if not acct.items:
        out.append(("services", f"{acct.resources} resource(s)", False))
    return out


def _measure(box: _Box) -> None:
    if box.kind == "account":
        box.w = ACCOUNT_WIDTH
        box.h = 40 + LINE * len(_account_lines(box.account)) + 6
        return
    for child in box.children:
        child.depth = box.depth + 1
        _measure(child)
    pad, gap, header = 12, 14, 28
    x = y = row_h = 0.0
    width = 0.0
    in_row = 0
    previous = None
    for child in box.children:
        limit = ACCOUNTS_PER_ROW if child.kind == "account" else 99
        # Accounts start their own row below sub-OUs, at most ACCOUNTS_PER_ROW to a row.
        if in_row and (x + child.w > MAX_ROW_WIDTH or in_row >= limit or child.kind != previous):
            x, y, row_h, in_row = 0.0, y + row_h + gap, 0.0, 0
        child.x, child.y = pad + x, header + y
        x += child.w + gap
        row_h = max(row_h, child.h)
        width = max(width, x - gap)
        in_row += 1
        previous = child.kind
    box.w = max(width + 2 * pad, text_width(box.title, 13) + 2 * pad, 180)
    box.h = header + (y + row_h if box.children else 14) + pad


def _draw(svg: Svg, box: _Box, ox: float, oy: float, anchors: dict[str, tuple[float, float, float, float]]) -> None:
    x, y = ox + box.x, oy + box.y
    if box.kind == "account":
        acct = box.account
        anchors[acct.id] = (x, y, box.w, box.h)
        svg.rect(x, y, box.w, box.h, fill="#ffffff", stroke="#455a64", rx=6, title=f"{acct.name} ({acct.id})")
        svg.text(x + 10, y + 17, acct.name, size=12, weight="bold")
        svg.text(x + 10, y + 31, f"account {acct.id} · {acct.resources} resources", size=10, fill="#546e7a")
        ly = y + 40
        for kind, text, detail in _account_lines(acct):
            if not detail:
                svg.rect(x + 10, ly + 3, 8, 8, fill=KIND_COLOURS.get(kind, "#9e9e9e"), stroke="none", rx=1)
            svg.text(x + (30 if detail else 24), ly + 11, text, size=10 if detail else 11,
                     fill="#546e7a" if detail else "#212121")
            ly += LINE
        return
    fill = OU_FILL[min(box.depth, len(OU_FILL) - 1)]
    svg.rect(x, y, box.w, box.h, fill=fill, stroke="#90a4ae", rx=8, dash="6 3" if box.title.startswith("OU ") else None)
    svg.text(x + 12, y + 19, box.title, size=13, weight="bold", fill="#37474f")
    for child in box.children:
        _draw(svg, child, x, y, anchors)


def render_svg(model: Model) -> str:
    """The model as a standalone SVG document."""
    by_ou: dict[str | None, list[Account]] = defaultdict(list)
    for acct in sorted(model.accounts.values(), key=lambda a: (a.name, a.id)):
        by_ou[acct.ou].append(acct)
    ou_boxes: dict[str, _Box] = {}
    root = _Box("ou", "Organization root")
    for path in model.ous:
        box = _Box("ou", f"OU {path.rsplit('/', 1)[-1]}")
        ou_boxes[path] = box
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        (ou_boxes.get(parent) or root).children.append(box)
    for path, box in ou_boxes.items():
        box.children += [_Box("account", a.name, a) for a in by_ou.get(path, [])]
    root.children = [_Box("account", a.name, a) for a in by_ou.get("", [])] + root.children
    tops = []
    if root.children:
        tops.append(root)
    outside = by_ou.get(None, [])
    if outside:
        tops.append(_Box("ou", "Accounts outside the organization drawn here" if root.children else "Accounts",
                         children=[_Box("account", a.name, a) for a in outside]))

    svg = Svg()
    margin = 24
    y = 64.0
    anchors: dict[str, tuple[float, float, float, float]] = {}
    width = 900.0
    for top in tops:
        _measure(top)
        top.x, top.y = margin, y
        _draw(svg, top, 0, 0, anchors)
        y += top.h + 24
        width = max(width, top.w + 2 * margin)

    # Trust edges between account boxes: principal account -> role's account.
    pairs: dict[tuple[str, str], list[str]] = defaultdict(list)
    for trust in model.trusts:
        if trust.principal_account in anchors and trust.role_account in anchors:
            pairs[(trust.principal_account, trust.role_account)].append(trust.role)
    for (src, dst), roles in sorted(pairs.items()):
        sx, sy, sw, sh = anchors[src]
        dx, dy, dw, dh = anchors[dst]
        title = f"{model.accounts[src].name} may assume {', '.join(sorted(set(roles)))} in {model.accounts[dst].name}"
        if src == dst:
            continue  # same-account trust is listed in the box
        x1, y1 = sx + sw, sy + 20
        x2, y2 = dx, dy + 20
        if dx < sx:  # leftwards: leave from the left, arrive on the right
            x1, x2 = sx, dx + dw
        svg.curve(x1, y1, x2, y2, stroke="#6a1b9a", title=title)

    # Stack graph: columns by depth of the longest reference chain.
    if model.stacks:
        y += 12
        svg.text(margin, y + 16, "Stacks and StackReferences (arrow: from the stack exporting to the stack reading)",
                 size=14, weight="bold", fill="#37474f")
        y += 30
        depth = {name: 0 for name, _ in model.stacks}
        for _ in range(len(depth)):
            changed = False
            for upstream, reader in model.references:
                if depth[reader] < depth[upstream] + 1 and depth[upstream] < len(depth):
                    depth[reader] = depth[upstream] + 1
                    changed = True
            if not changed:
                break
        columns: dict[int, list[tuple[str, str | None]]] = defaultdict(list)
        for name, layer in model.stacks:
            columns[depth[name]].append((name, layer))
        node_w, node_h, col_gap, row_gap = 200, 38, 90, 10
        per_column = 24  # wrap a long column (50 projects x 3 environments) into several
        positions: dict[str, tuple[float, float]] = {}
        cx = margin
        tallest = 0.0
        for col in sorted(columns):
            names = columns[col]
            for start in range(0, len(names), per_column):
                chunk = names[start:start + per_column]
                for n, (name, layer) in enumerate(chunk):
                    ny = y + n * (node_h + row_gap)
                    positions[name] = (cx, ny)
                    svg.rect(cx, ny, node_w, node_h, fill="#e3f2fd", stroke="#1565c0", rx=6, title=name)
                    svg.text(cx + 8, ny + 16, name, size=11, weight="bold")
                    svg.text(cx + 8, ny + 30, f"layer {layer}" if layer and layer != name else "", size=10,
                             fill="#546e7a")
                tallest = max(tallest, len(chunk) * (node_h + row_gap))
                cx += node_w + (col_gap if start + per_column >= len(names) else 20)
        for upstream, reader in model.references:
            ux, uy = positions[upstream]
            rx, ry = positions[reader]
            svg.curve(ux + node_w, uy + node_h / 2, rx, ry + node_h / 2, stroke="#1565c0", opacity=0.45,
                      title=f"{reader} reads {upstream}")
        width = max(width, cx + margin)
        y += tallest + 10

    # Legend and title last, so they sit on top.
    legend = [("vpc", "VPC (endpoints listed below it)"), ("tgw", "Transit Gateway"), ("bucket", "S3 bucket"),
              ("key", "KMS key"), ("role", "role others may assume"), ("services", "other")]
    lx = margin
    for kind, text in legend:
        svg.rect(lx, 40, 8, 8, fill=KIND_COLOURS[kind], stroke="none", rx=1)
        svg.text(lx + 12, 48, text, size=10, fill="#37474f")
        lx += text_width(text, 10) + 32
    svg.line(lx, 44, lx + 30, 44, stroke="#6a1b9a", arrow=True)
    svg.text(lx + 36, 48, "principals of an account may assume a role in another", size=10, fill="#37474f")
    svg.text(margin, 26, f"{model.project}: architecture from the offline preview", size=16, weight="bold")
    return svg.render(width, y + margin)


def write_architecture(plan: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write architecture.svg and architecture.mmd for the plan; returns their paths."""
    model = build_model(plan)
    out_dir.mkdir(parents=True, exist_ok=True)
    svg_path, mmd_path = out_dir / "architecture.svg", out_dir / "architecture.mmd"
    svg_path.write_text(render_svg(model))
    mmd_path.write_text(render_mermaid(model))
    return svg_path, mmd_path
