"""How the offline preview scales with the number of ML projects (prints figures; not a test).

Runs the full preview (every stack) as `make preview` does, in a fresh interpreter each time so
that start-up counts, twice per configuration: without policy analysis and with it, one right
after the other (the machine's load changes between minutes, so compare within a configuration):

1. the sample configuration (stacks/),
2. generated configurations with 1, 10 and 50 ML projects (three environments each): the
   sample platform definition with its projects replaced, one Pulumi.<project>-<env>.yaml per
   project environment and one Pulumi.<project>-delivery.yaml per project, the platform-wide
   stack files copied from the sample.

    .venv/bin/python benchmarks/preview_scale.py [--projects 1,10,50] [--jobs N] [--no-policy]

Printed per configuration: wall seconds without and with policies, their ratio (the policy
analysis' share), the CPU seconds of the whole process tree (what a busy shared machine does not
inflate), resources per second, and per stack kind (layer) the stacks' count and seconds.

Target: 50 projects in under 30 s wall on a 2-core machine, policy analysis adding at most a
third to the no-policy time, cost linear in projects.
"""

from __future__ import annotations

import argparse
import copy
import ipaddress
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "stacks"
ENVIRONMENTS = ("dev", "preprod", "prod")
# Stack kinds with one stack per project (environment): reported by their largest stack.
PER_PROJECT_LAYERS = ("project", "delivery")


def generate_platform(sample: dict, projects: int) -> dict:
    """The sample platform with `projects` ML projects: the sample's own first, then generated ones."""
    platform = copy.deepcopy(sample)
    kept = platform["projects"][:projects]
    template = platform["projects"][0]
    used = {ipaddress.ip_network(env["cidr"]) for p in kept for env in p["environments"].values()}
    free = (net for net in ipaddress.ip_network("10.65.0.0/16").supernet(new_prefix=12).subnets(new_prefix=22)
            if net.network_address >= ipaddress.ip_address("10.65.0.0")
            and not any(net.overlaps(u) for u in used))
    domain = template["owner"].split("@", 1)[1]
    for n in range(len(kept), projects):
        name = f"ml-{n:03d}"
        project = copy.deepcopy(template)
        project["name"] = name
        project["owner"] = f"{name}@{domain}"
        project["cost_center"] = f"CC-{3000 + n}"
        project["environments"] = {
            env: {**template["environments"].get(env, {}), "email": f"aws-{name}-{env}@{domain}",
                  "cidr": str(next(free))}
            for env in ENVIRONMENTS
        }
        kept.append(project)
    platform["projects"] = kept
    # Data-lake read grants: the sample's for the projects kept, and fraud-detection's grants for
    # one generated project in six (more would pass the 20 KB S3 bucket-policy limit, which the
    # platform's validation rejects, as it should).
    names = {p["name"] for p in kept}
    data = platform.get("data_lake") or {}
    consumers = [c for c in data.get("consumers", []) if c["project"] in names]
    model = [c for c in data.get("consumers", []) if c["project"] == template["name"]]
    for n, project in enumerate(kept[len(sample["projects"]):]):
        if n % 6 == 0:
            consumers += [{**copy.deepcopy(c), "project": project["name"]} for c in model]
    if data:
        data["consumers"] = consumers
    # Studio user profiles belong to projects: keep those of the projects kept.
    profiles = ((platform.get("workspace") or {}).get("studio") or {}).get("user_profiles")
    if profiles:
        for name in [n for n in profiles if n not in names]:
            del profiles[name]
    # Pipelines: the sample's for the projects kept, the first sample project's for generated ones.
    delivery = (platform.get("delivery") or {}).get("projects")
    if delivery is not None:
        model_delivery = delivery.get(template["name"])
        platform["delivery"]["projects"] = {
            p["name"]: copy.deepcopy(delivery.get(p["name"], model_delivery)) for p in kept
            if p["name"] in delivery or model_delivery is not None}
    # Model sharing names projects: keep the entries of the projects kept.
    sharing = (platform.get("model_sharing") or {}).get("projects")
    if sharing:
        for name in [n for n in sharing if n not in names]:
            del sharing[name]
    # The trail's S3 data events: one name prefix instead of a list of (over 250) buckets.
    trail = (platform.get("security") or {}).get("trail")
    if trail is not None and projects > len(sample["projects"]):
        trail["data_event_buckets"] = [f"{platform['name_prefix']}-*"]
    return platform


def generate_config_dir(target: Path, projects: int) -> Path:
    """A configuration directory like stacks/ with `projects` ML projects."""
    target.mkdir(parents=True, exist_ok=True)
    sample = yaml.safe_load((SAMPLE / "platform.yaml").read_text())
    platform = generate_platform(sample, projects)
    (target / "platform.yaml").write_text(yaml.safe_dump(platform, sort_keys=False))
    per_project: dict[str, dict] = {}
    for path in sorted(SAMPLE.glob("Pulumi.*.yaml")):
        config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
        layer = config.get("ml-platform:layer")
        if layer in PER_PROJECT_LAYERS:
            per_project.setdefault(layer, config)
        else:
            shutil.copy(path, target / path.name)
    for project in platform["projects"]:
        for env in project["environments"]:
            config = {**per_project["project"], "ml-platform:project": project["name"], "ml-platform:environment": env}
            (target / f"Pulumi.{project['name']}-{env}.yaml").write_text(yaml.safe_dump({"config": config}))
        if "delivery" in per_project:
            config = {**per_project["delivery"], "ml-platform:project": project["name"]}
            (target / f"Pulumi.{project['name']}-delivery.yaml").write_text(yaml.safe_dump({"config": config}))
    return target


_SUMMARY = re.compile(r"^(\d+) stacks, (\d+) resources \((\d+) checked by policies\), (\d+) violations "
                      r"\((\d+) mandatory\), (\d+) failed, ([\d.]+) s")
# A stack's line as the CLI prints it: name, resources, ..., seconds (run plus analysis).
_STACK_LINE = re.compile(r"^  (\S+)\s+(\d+) resources .*?([\d.]+) s(?:  POLICY ANALYSIS FAILED)?$")
TARGET_S = 30.0
POLICY_SHARE = 1 / 3


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def preview(config_dir: Path, out: Path, jobs: int | None, policy: bool) -> dict:
    """Run `python -m offline_preview` on `config_dir`; wall and CPU time and the summary's figures."""
    command = [sys.executable, "-m", "offline_preview", "--config-dir", str(config_dir), "--out", str(out)]
    if jobs:
        command += ["--jobs", str(jobs)]
    if not policy:
        command.append("--no-policy")
    cpu = _children_cpu()
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu  # the preview, its workers and policy packs (all waited for)
    summary = next((m for m in map(_SUMMARY.match, result.stdout.splitlines()) if m), None)
    if summary is None:
        raise SystemExit(f"the preview printed no summary (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    stacks, resources, checked, violations, mandatory, failed, seconds = summary.groups()
    plan = json.loads((out / "plan.json").read_text())
    # Resources per platform stack, and the largest per-project stack of each kind: what must
    # not grow with projects.
    sizes = {s["name"]: len(s["resources"]) for s in plan["stacks"] if s.get("layer") not in PER_PROJECT_LAYERS}
    for layer in PER_PROJECT_LAYERS:
        sizes[f"largest {layer} stack"] = max(
            (len(s["resources"]) for s in plan["stacks"] if s.get("layer") == layer), default=0)
    # SCPs attached per target (FullAWSAccess included), from the organization stack's outputs.
    organization = next((s for s in plan["stacks"] if s["name"] == "organization"), {})
    slots = (organization.get("outputs") or {}).get("serviceControlPolicySlots") or {}
    # Seconds per stack kind (its layer), from the stack lines.
    layers = {s["name"]: s.get("layer") or "other" for s in plan["stacks"]}
    kinds: dict[str, dict[str, float]] = {}
    for match in filter(None, map(_STACK_LINE.match, result.stdout.splitlines())):
        name, count, stack_seconds = match.group(1), int(match.group(2)), float(match.group(3))
        kind = kinds.setdefault(layers.get(name, "other"), {"stacks": 0, "resources": 0, "seconds": 0.0})
        kind["stacks"] += 1
        kind["resources"] += count
        kind["seconds"] += stack_seconds
    return {"sizes": sizes, "slots": slots, "kinds": kinds, "layers": layers, "stacks": int(stacks),
            "resources": int(resources),
            "checked": int(checked), "violations": int(violations), "mandatory": int(mandatory),
            "failed": int(failed), "preview_s": float(seconds), "wall_s": wall, "cpu_s": cpu,
            "exit": result.returncode,
            "failures": [line for line in result.stdout.splitlines() if line.startswith("FAILED")]}


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _cell(value: float | None, width: int, digits: int = 1) -> str:
    return f"{value:>{width}.{digits}f}" if value is not None else f"{'-':>{width}}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", default="1,10,50", help="comma-separated project counts (default 1,10,50)")
    parser.add_argument("--jobs", type=int, default=None, help="passed to the preview (default: its own)")
    parser.add_argument("--no-policy", action="store_true", help="only the run without policy analysis")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    policy = not args.no_policy
    rows = []
    print(f"machine: {os.cpu_count()} CPUs, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"at the start; jobs {args.jobs or 'default'}")
    with tempfile.TemporaryDirectory(prefix="preview-scale-") as tmp:
        tmp_path = Path(tmp)
        cases = [("sample", SAMPLE)] + [
            (f"{n} projects", generate_config_dir(tmp_path / f"p{n}", n))
            for n in (int(x) for x in args.projects.split(",") if x.strip())
        ]
        print(f"{'configuration':<14}{'stacks':>7}{'resources':>10}{'checked':>9}{'violations':>11}{'failed':>7}"
              f"{'no-policy s':>12}{'policy s':>9}{'ratio':>7}{'cpu s':>13}{'res/s':>12}{'s/project':>10}")
        previous = None  # (projects, no-policy wall s) of the configuration before
        for label, config_dir in cases:
            out = tmp_path / "out" / label.replace(" ", "-")
            bare = preview(config_dir, out / "no-policy", args.jobs, False)
            full = preview(config_dir, out / "policy", args.jobs, True) if policy else None
            row = {"configuration": label, **(full or bare), "no_policy": bare}
            row["no_policy_wall_s"] = bare["wall_s"]
            row["policy_wall_s"] = full["wall_s"] if full else None
            row["ratio"] = _ratio(row["policy_wall_s"], bare["wall_s"])
            rows.append(row)
            cpu = f"{bare['cpu_s']:.0f}/{full['cpu_s']:.0f}" if full else f"{bare['cpu_s']:.0f}"
            rates = "/".join(f"{r['resources'] / r['wall_s']:.0f}" for r in (bare, full) if r and r["wall_s"])
            # Linear in projects: the no-policy seconds each project added since the configuration before.
            projects = row["projects"] = len({s.rsplit("-", 1)[0] for s, k in row["layers"].items() if k == "project"})
            marginal = ((bare["wall_s"] - previous[1]) / (projects - previous[0])
                        if previous and projects > previous[0] else None)
            previous = (projects, bare["wall_s"])
            print(f"{label:<14}{row['stacks']:>7}{row['resources']:>10}{row['checked']:>9}{row['violations']:>11}"
                  f"{row['failed']:>7}{bare['wall_s']:>12.1f}{_cell(row['policy_wall_s'], 9)}"
                  f"{_cell(row['ratio'], 7, 2)}{cpu:>13}{rates:>12}{_cell(marginal, 10, 2)}", flush=True)
            for failure in row["failures"][:3]:
                print(f"    {failure[:200]}")
    print("(cpu s: user+system seconds of the preview's whole process tree, without/with policies;"
          " res/s: resources per wall second without/with policies; s/project: no-policy wall seconds each"
          " project added since the configuration above)")
    kinds = list(dict.fromkeys(k for row in rows for k in row["kinds"]))
    print("\nseconds per stack kind: stacks x mean seconds per stack without/with policies (run, and analysis;"
          " stacks run side by side, so they add up to more than the wall time)")
    print(f"{'configuration':<14}" + "".join(f"{k[:22]:>24}" for k in kinds))
    for row in rows:
        cells = []
        for k in kinds:
            runs = [r["kinds"][k] for r in (row["no_policy"], row if row["policy_wall_s"] is not None else None)
                    if r and k in r["kinds"]]
            cells.append(f"{runs[0]['stacks']:.0f} x " + "/".join(f"{r['seconds'] / r['stacks']:.2f}" for r in runs)
                         if runs else "-")
        print(f"{row['configuration']:<14}" + "".join(f"{c:>24}" for c in cells))
    names = list(dict.fromkeys(name for row in rows for name in row["sizes"]))
    print("\nresources per stack (platform stacks must not grow with projects but for grant lists and accounts)")
    print(f"{'configuration':<14}" + "".join(f"{n[:22]:>24}" for n in names))
    for row in rows:
        print(f"{row['configuration']:<14}" + "".join(f"{row['sizes'].get(n, '-'):>24}" for n in names))
    targets = list(dict.fromkeys(t for row in rows for t in row["slots"]))
    print("\nSCPs attached per target, FullAWSAccess included (used/limit; every target keeps a free slot)")
    print(f"{'configuration':<14}" + "".join(f"{t[:18]:>20}" for t in targets))
    for row in rows:
        cells = [f"{row['slots'][t]['used']}/{row['slots'][t]['limit']}" if t in row["slots"] else "-" for t in targets]
        print(f"{row['configuration']:<14}" + "".join(f"{c:>20}" for c in cells))
    tight = [(row["configuration"], t) for row in rows for t, v in row["slots"].items() if v["free"] < 1]
    print("every target keeps at least one free SCP slot" if not tight else f"NO FREE SLOT: {tight}")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.json:
        print(json.dumps(rows, indent=2))
    fifty = next((r for r in rows if r["configuration"] == "50 projects"), None)
    if fifty is not None:
        fast = fifty["wall_s"] < TARGET_S and not fifty["failed"]
        share = fifty["ratio"] is None or fifty["ratio"] <= 1 + POLICY_SHARE
        print(f"50 projects: {fifty['wall_s']:.1f} s wall ({'meets' if fast else 'MISSES'} the {TARGET_S:.0f} s target)"
              + (f", policies x{fifty['ratio']:.2f} the no-policy time ({'within' if share else 'OVER'} "
                 f"x{1 + POLICY_SHARE:.2f})" if fifty["ratio"] is not None else ""))


if __name__ == "__main__":
    main()
