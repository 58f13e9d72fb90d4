"""How the offline preview scales with the number of ML projects (prints figures; not a test).

Runs the full preview (every stack, policy analysis included) as `make preview` does, in a
fresh interpreter each time so that start-up counts:

1. the sample configuration (stacks/),
2. generated configurations with 1, 10 and 50 ML projects (three environments each): the
   sample platform definition with its projects replaced, one Pulumi.<project>-<env>.yaml per
   project environment and one Pulumi.<project>-delivery.yaml per project, the platform-wide
   stack files copied from the sample.

    .venv/bin/python benchmarks/preview_scale.py [--projects 1,10,50] [--jobs N] [--no-policy]

Target: 50 projects in under 60 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import copy
import ipaddress
import json
import re
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


def preview(config_dir: Path, out: Path, jobs: int | None, policy: bool) -> dict:
    """Run `python -m offline_preview` on `config_dir`; wall time and the summary's figures."""
    command = [sys.executable, "-m", "offline_preview", "--config-dir", str(config_dir), "--out", str(out)]
    if jobs:
        command += ["--jobs", str(jobs)]
    if not policy:
        command.append("--no-policy")
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
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
    return {"sizes": sizes, "slots": slots, "stacks": int(stacks), "resources": int(resources), "checked": int(checked),
            "violations": int(violations), "mandatory": int(mandatory), "failed": int(failed),
            "preview_s": float(seconds), "wall_s": wall, "exit": result.returncode,
            "failures": [line for line in result.stdout.splitlines() if line.startswith("FAILED")]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", default="1,10,50", help="comma-separated project counts (default 1,10,50)")
    parser.add_argument("--jobs", type=int, default=None, help="passed to the preview (default: its own)")
    parser.add_argument("--no-policy", action="store_true", help="skip policy analysis")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    policy = not args.no_policy
    rows = []
    with tempfile.TemporaryDirectory(prefix="preview-scale-") as tmp:
        tmp_path = Path(tmp)
        cases = [("sample", SAMPLE)] + [
            (f"{n} projects", generate_config_dir(tmp_path / f"p{n}", n))
            for n in (int(x) for x in args.projects.split(",") if x.strip())
        ]
        print(f"{'configuration':<14}{'stacks':>7}{'resources':>10}{'checked':>9}{'violations':>11}"
              f"{'failed':>7}{'preview s':>10}{'wall s':>8}{'res/s':>8}")
        for label, config_dir in cases:
            row = {"configuration": label, **preview(config_dir, tmp_path / "out" / label.replace(" ", "-"),
                                                       args.jobs, policy)}
            rows.append(row)
            rate = row["resources"] / row["wall_s"] if row["wall_s"] else 0
            print(f"{label:<14}{row['stacks']:>7}{row['resources']:>10}{row['checked']:>9}{row['violations']:>11}"
                  f"{row['failed']:>7}{row['preview_s']:>10.1f}{row['wall_s']:>8.1f}{rate:>8.0f}", flush=True)
            for failure in row["failures"][:3]:
                print(f"    {failure[:200]}")
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
    if args.json:
        print(json.dumps(rows, indent=2))
    fifty = next((r for r in rows if r["configuration"] == "50 projects"), None)
    if fifty is not None:
        verdict = "meets" if fifty["wall_s"] < 60 and not fifty["failed"] else "MISSES"
        print(f"50 projects: {fifty['wall_s']:.1f} s wall, {verdict} the 60 s target")


if __name__ == "__main__":
    main()
