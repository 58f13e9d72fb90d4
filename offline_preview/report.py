"""`guardrails.md`: what the policy pack checked in the offline preview and what it found."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from offline_preview.analysis import Violation
from offline_preview.preview import PolicyInfo, PreviewResult


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def render_guardrails(result: PreviewResult) -> str:
    """The report as Markdown; deterministic for the same preview (no timings)."""
    lines = [f"# Guardrails: offline preview of `{result.project}`", ""]
    analyzed = sum(s.analyzed for s in result.stacks)
    stacks_analyzed = sum(1 for s in result.stacks if s.analyzed)
    if result.policy_pack is None:
        lines += [f"Policy analysis did not run: {result.policy_note or 'no policy pack'}.", ""]
    else:
        lines += [
            f"Policy pack `{result.policy_pack}`: {len(result.policies) or 'its'} policies checked "
            f"{analyzed} resources in {stacks_analyzed} stack(s).",
            "",
        ]
    by_policy: dict[str, list[Violation]] = defaultdict(list)
    for violation in result.violations:
        by_policy[violation.policy].append(violation)
    policies = {p.name: p for p in result.policies}
    for name in by_policy:
        if name not in policies:  # a policy the analyzer did not list up front
            first = by_policy[name][0]
            policies[name] = PolicyInfo(name, first.description, first.enforcement_level)
    mandatory = len(result.mandatory)
    lines += [f"**{len(result.violations)} violation(s), {mandatory} mandatory.**", ""]

    if policies:
        lines += ["## Policies", "",
                  "| policy | enforcement | resources checked | violations | stacks with violations |",
                  "|---|---|---|---|---|"]
        for name in sorted(policies):
            policy = policies[name]
            found = by_policy.get(name, [])
            checked = stacks_analyzed if policy.kind == "stack" else analyzed
            unit = "stacks" if policy.kind == "stack" else ""
            stacks = sorted({v.stack for v in found})
            lines.append(f"| `{_cell(name)}` | {_cell(policy.enforcement_level or '-')} | {checked} {unit}".rstrip()
                         + f" | {len(found)} | {_cell(', '.join(stacks)) or '-'} |")
        lines.append("")

    lines += ["## Stacks", "", "| stack | layer | resources | analyzed | violations | mandatory | status |",
              "|---|---|---|---|---|---|---|"]
    for stack in result.stacks:
        status = "ok" if stack.ok else "failed"
        lines.append(f"| `{stack.stack}` | {stack.layer or '-'} | {len(stack.resources)} | {stack.analyzed} | "
                     f"{len(stack.violations)} | {len(stack.mandatory)} | {status} |")
    lines.append("")

    if by_policy:
        lines += ["## Violations", ""]
        for name in sorted(by_policy):
            policy = policies[name]
            lines += [f"### `{name}` ({policy.enforcement_level or 'unknown'})", ""]
            if policy.description:
                lines += [_cell(policy.description), ""]
            lines += ["| stack | resource | message |", "|---|---|---|"]
            for v in sorted(by_policy[name], key=Violation.sort_key):
                lines.append(f"| `{v.stack}` | {'`' + _cell(v.urn) + '`' if v.urn else '(stack)'} | {_cell(v.finding)} |")
            lines.append("")

    unseen = [(s.stack, urn) for s in result.stacks if s.run for urn in s.run.unseen]
    if unseen:
        lines += ["## Not seen", "",
                  "Remote (multi-language) components: their plugin registers their children, which the "
                  "offline preview does not run, so no policy checked those children.", ""]
        lines += [f"- `{stack}`: `{_cell(urn)}`" for stack, urn in unseen]
        lines.append("")

    failed = result.failed
    if failed:
        lines += ["## Stacks that failed", ""]
        for stack in failed:
            lines += [f"- `{stack.stack}`: {_cell(stack.error or stack.policy_error or '')}"]
        lines.append("")
    return "\n".join(lines)


def write_guardrails(result: PreviewResult, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_guardrails(result))
    return path
