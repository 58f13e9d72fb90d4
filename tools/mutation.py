"""Mutation testing of the guardrail code with cosmic-ray (`make mutation`).

cosmic-ray mutates a file on disk, runs a test command and restores the file. That suits this
repository: the CrossGuard pack runs in a subprocess the tests start (through the engine's gRPC
protocol), and a mutant written to disk is what that subprocess imports.

What this driver adds around cosmic-ray, so a run fits in 30 minutes on 2 cores:

1. **Coverage map** (`coverage` step): the test files run under coverage.py in `--jobs` pytest
   processes (so each makes the cached sample runs once); each test is its own coverage
   context (its node id), in the test process and in the subprocesses it starts (the policy
   pack). The map says which tests run each line; code run on import, every test file.
2. **Plan**: one cosmic-ray session per module (cosmic-ray's `init`, in `--jobs` worker
   processes), then the sessions are filtered
   the way cosmic-ray's own `cr-filter-*` tools do, by marking work items skipped: mutants inside
   annotations and docstrings (never executed, so equivalent), all but one replacement per
   operator site for binary operators and all but two for comparisons (the alternatives at one
   site are killed or survive together), then a deterministic sample (`--sample`).
3. **Run**: the modules are sharded over `--jobs` copies of the work tree (cosmic-ray's local
   distributor mutates in place, so each worker needs its own tree) by estimated CPU time;
   each mutant's test command (`python -m tools.mutation test MODULE`) finds the mutated lines
   against the pristine copy and runs only the tests that cover them, stopping at the first
   failure. Each shard runs the targets in TARGETS order and stops at the time budget
   (`--minutes`); what it did not reach is reported as not run.
4. **Report**: kill rate per module and in total, and every surviving mutant with its diff.

Usage: ``python -m tools.mutation [--jobs 2] [--sample FRACTION] [--only PATTERN ...]``;
``python -m tools.mutation report`` prints the last run's report again; ``python -m tools.mutation
recheck`` runs the last run's survivors again against the current tests (after killing some).
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import difflib
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "mutation"
COVERAGE_MAP = "coverage-map.json"
#: Per-mutant timings (JSON lines) written by each shard's test command.
TIMINGS = "timings.jsonl"
#: Surviving mutants judged equivalent (no test can tell them apart), each with the reason.
EQUIVALENT = ROOT / "tools" / "mutation_equivalent.txt"
PRISTINE = "pristine"
PACK = "policypacks/ml-guardrails/ml_guardrails"
#: What `make mutation` mutates: the policy documents, the policy pack and the components.
TARGETS = ("policy_documents", PACK, "components")
#: Generated data and package markers: nothing to mutate that a test could pin differently.
EXCLUDED = ("*/__init__.py", f"{PACK}/catalog_data.py", f"{PACK}/generated.py")
#: Replacements kept per operator site, by operator family (the rest at that site are skipped).
PER_SITE = {"core/ReplaceBinaryOperator": 1, "core/ReplaceComparisonOperator": 2}
#: Fraction of the remaining mutants run per target, so the whole set fits 30 minutes on 2 cores
#: with a margin: the modules with a kill-rate target get more. By the last full run (about 5
#: CPU-seconds a killed mutant of the documents or the pack, 30 to 90 a survivor) 0.25 / 0.12
#: / 0.06 (466 mutants) needed more than 40 minutes; 0.20 / 0.09 plans 120 and 178. A component's
#: mutant runs the sample program (about 10 CPU-seconds for the sample stacks, then the tests
#: on them; one killed took 39 CPU-seconds): 0.01 plans 13 of them.
SAMPLE = {"policy_documents": 0.20, PACK: 0.09, "components": 0.01}
TIMEOUT_SECONDS = 180.0
#: The whole run's time budget; the report is written in the last REPORT_SECONDS.
BUDGET_MINUTES = 30.0
REPORT_SECONDS = 30.0
#: CPU seconds a mutant takes per target, until a run has measured them (timings.jsonl): a
#: component's tests run the whole sample program, a pack or policy module's mostly not.
DEFAULT_COST = {"policy_documents": 6.0, PACK: 5.0, "components": 30.0}
#: CPU seconds per module measured by a whole run (`python -m tools.mutation costs` writes it
#: from that run's timings): the estimate of a fresh clone, which has no timings of its own.
COST_TABLE = ROOT / "tools" / "mutation_costs.json"
#: A module's cost is its measured mean pulled towards its target's mean as if SHRINK more
#: mutants of the target's mean had been measured: a survivor runs every test covering its line
#: (80 to 160 CPU-seconds where a killed mutant takes 1 to 5), so a module measured on a few
#: mutants has a noisy mean.
SHRINK = 3
#: CPU seconds a mutant costs outside its tests (cosmic-ray writes the mutant and starts the
#: test command, which reads the coverage map): shard CPU minus its mutants' test CPU was 0.3 s a
#: mutant of the documents and the pack, 2.8 s of the components, in the runs of the cost table.
OVERHEAD_SECONDS = 1.0
#: Share of the time left after the coverage map, the plan and the baseline that the estimated
#: CPU of the busiest shard may take: the rest absorbs more survivors than the means predict.
MARGIN = 0.8
#: The output of the work items skipped because EQUIVALENT lists them (counted as equivalent).
LISTED_EQUIVALENT = "equivalent (listed)"
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "__pycache__", ".pytest_cache", "mutants",
                                     "*.pyc", ".coverage*")


def target_modules(root: Path = ROOT, only: list[str] | None = None) -> list[str]:
    """The repository-relative paths of the modules to mutate, sorted."""
    found = []
    for target in TARGETS:
        for path in sorted((root / target).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if any(fnmatch.fnmatch(rel, pattern) for pattern in EXCLUDED):
                continue
            if only and not any(fnmatch.fnmatch(rel, pattern) or pattern in rel for pattern in only):
                continue
            found.append(rel)
    return found


def measured_totals(work: Path) -> dict[str, tuple[float, int]]:
    """{module: (CPU seconds, mutants)} of the last run (its shards' timings)."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for path in work.glob(f"shard-*/{TIMINGS}"):
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            totals[entry["module"]][0] += entry["cpu"]
            totals[entry["module"]][1] += 1
    return {module: (round(cpu, 2), int(n)) for module, (cpu, n) in totals.items() if n}


def measured_costs(work: Path) -> dict[str, float]:
    """Mean CPU seconds per mutant of each module in the last run (its shards' timings)."""
    return {module: cpu / n for module, (cpu, n) in measured_totals(work).items()}


def load_cost_table(path: Path = COST_TABLE) -> dict[str, tuple[float, int]]:
    """{module: (CPU seconds, mutants)} of the committed cost table (empty when missing)."""
    if not path.exists():
        return {}
    return {module: (float(e["cpu"]), int(e["mutants"])) for module, e in json.loads(path.read_text())["modules"].items()}


def write_cost_table(totals: dict[str, tuple[float, int]], path: Path = COST_TABLE, about: str = "") -> None:
    """The cost table with `totals` (a run's measured_totals) replacing its modules' entries."""
    merged = {**load_cost_table(path), **totals}
    path.write_text(json.dumps({
        "about": about or "CPU seconds of each module's mutants' tests in a measured run (tools/mutation.py "
                          "timings.jsonl), written by `python -m tools.mutation costs`",
        "modules": {m: {"mutants": n, "cpu": round(cpu, 2)} for m, (cpu, n) in sorted(merged.items())}},
        indent=1) + "\n")


def _target(module: str) -> str:
    return next(t for t in TARGETS if module.startswith(t))


def estimated_costs(modules: list[str], table: dict[str, tuple[float, int]],
                    last_run: dict[str, tuple[float, int]] | None = None) -> dict[str, float]:
    """CPU seconds a mutant of each module is expected to take: the last run's measurement of
    the module where there is one, else the cost table's; the mean pulled towards the target's
    mean (SHRINK); a module never measured takes its target's mean, a target never measured
    DEFAULT_COST; plus OVERHEAD_SECONDS."""
    data = {**table, **(last_run or {})}
    pooled: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for module, (cpu, n) in data.items():
        if any(module.startswith(t) for t in TARGETS):
            pooled[_target(module)][0] += cpu
            pooled[_target(module)][1] += n
    costs = {}
    for module in modules:
        cpu, n = pooled[_target(module)]
        target_mean = cpu / n if n else DEFAULT_COST[_target(module)]
        cpu, n = data.get(module, (0.0, 0))
        costs[module] = (cpu + SHRINK * target_mean) / (n + SHRINK) + OVERHEAD_SECONDS
    return costs


def fit_scale(draws: dict[str, list[float]], costs: dict[str, float], capacity: float, jobs: int) -> float:
    """The largest scale s in (0, 1] such that running, of each module, the planned mutants whose
    draw (in [0, 1), relative to the module's sample fraction) is below s puts at most `capacity`
    estimated CPU seconds on the busiest of `jobs` shards; 0.0 if not even the first fits. The
    same s for every module keeps the sample deterministic and the targets' fractions in ratio."""
    def busiest(scale: float) -> float:
        kept = {m: sum(d < scale for d in ds) for m, ds in draws.items()}
        return max(assign_shards(kept, costs, jobs)[1])

    if busiest(1.0) <= capacity:
        return 1.0
    # Each distinct draw is where a mutant enters: the answer is just above one of them.
    cuts = sorted({d for ds in draws.values() for d in ds})
    low, high = 0, len(cuts)  # busiest(cuts[i] just above) fits for i < low, not for i >= high
    while low < high:
        middle = (low + high) // 2
        if busiest(_just_above(cuts[middle])) <= capacity:
            low = middle + 1
        else:
            high = middle
    return _just_above(cuts[low - 1]) if low else 0.0


def unambiguous_equivalents(keys: dict[str, str], equivalents: set[str]) -> set[str]:
    """The job ids (of `keys`: job id -> listed_equivalent_key) that EQUIVALENT names alone. An
    entry names no occurrence: where one line has several mutants of its operator (`x[0][1]`,
    0 -> 1 and 1 -> 2), only the one judged is equivalent, so they all run and the report
    tells the survivor by its entry as before."""
    by_key: dict[str, list[str]] = defaultdict(list)
    for job_id, key in keys.items():
        if key in equivalents:
            by_key[key].append(job_id)
    return {jobs[0] for jobs in by_key.values() if len(jobs) == 1}


def _just_above(draw: float) -> float:
    import math

    return math.nextafter(draw, 2.0)


def listed_equivalent_key(module: str, operator: str, definition: str | None, source_lines: list[str],
                          line: int) -> str:
    """equivalent_key of a work item before it runs: the original line is the mutated line."""
    text = source_lines[line - 1].strip() if 0 < line <= len(source_lines) else ""
    return f"{module} {operator} {definition or '<module>'} {text}"


def assign_shards(planned: dict[str, int], costs: dict[str, float], jobs: int) -> tuple[list[list[str]], list[float]]:
    """Modules onto `jobs` shards by estimated CPU (planned mutants x cost per mutant: measured,
    else DEFAULT_COST), costliest first onto the lightest shard; each shard then runs the
    targets in TARGETS order (the ones with a kill-rate target first), so a run cut short by
    its time budget loses components' mutants, not the guardrails' documents and checks."""
    def cost(module: str) -> float:
        target = next(t for t in TARGETS if module.startswith(t))
        return planned[module] * costs.get(module, DEFAULT_COST[target])

    def tier(module: str) -> int:
        return next(i for i, t in enumerate(TARGETS) if module.startswith(t))

    loads = [0.0] * jobs
    assignment: list[list[str]] = [[] for _ in range(jobs)]
    for module in sorted(planned, key=lambda m: (-cost(m), m)):
        index = loads.index(min(loads))
        loads[index] += cost(module)
        assignment[index].append(module)
    return [sorted(a, key=lambda m: (tier(m), -cost(m), m)) for a in assignment], loads


def _stable(*parts: object) -> float:
    """A number in [0, 1) that depends only on `parts` (the same plan on every machine)."""
    digest = hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()
    return int(digest[:12], 16) / float(1 << 48)


# -- coverage map ------------------------------------------------------------------------------

PLUGIN = "tools.mutation_contexts"


def _coverage_rc(work: Path, group: int) -> Path:
    rc = work / "coverage" / f"group-{group}.rc"
    sources = ", ".join(str(ROOT / t) for t in TARGETS)
    # No static context: each test's node id is the context (tools/mutation_contexts.py), in
    # this process and in the subprocesses the test starts; code run outside any test (module
    # imports) has the empty context.
    rc.write_text(
        "[run]\n"
        f"data_file = {work / 'coverage' / '.coverage'}\n"
        "parallel = true\n"
        f"source = {sources}\n"
        "patch = subprocess\n"
        "sigterm = true\n")
    return rc


def _cover_group(work: Path, group: int, test_files: list[str]) -> tuple[int, float, int]:
    rc = _coverage_rc(work, group)
    env = {**os.environ, "COVERAGE_RCFILE": str(rc), "MUTATION_FIXTURES": str(rc.with_suffix(".tests.json"))}
    with rc.with_suffix(".log").open("w") as log:
        code, wall, cpu = run_measured([sys.executable, "-m", "coverage", "run", f"--rcfile={rc}", "-m", "pytest",
                                        "-q", "-p", "no:xdist", "-p", "no:cacheprovider", "-p", PLUGIN, *test_files],
                                       cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    _COVERAGE_CPU[f"group-{group}"] = cpu
    return group, wall, code


#: CPU seconds of each coverage process (for the idle-time estimate).
_COVERAGE_CPU: dict[str, float] = {}
#: A selector meaning every test file: for code that runs when its module is imported.
EVERY_FILE = "*"


def balanced_groups(test_files: list[str], seconds: dict[str, float], jobs: int) -> list[list[str]]:
    """`test_files` in `jobs` groups of about equal time (slowest first onto the lightest
    group; a file not timed yet counts as the mean), each group in name order."""
    known = [seconds[f] for f in test_files if f in seconds]
    default = sum(known) / len(known) if known else 1.0
    groups: list[list[str]] = [[] for _ in range(max(1, jobs))]
    loads = [0.0] * len(groups)
    for test_file in sorted(test_files, key=lambda f: (-seconds.get(f, default), f)):
        index = loads.index(min(loads))
        loads[index] += seconds.get(test_file, default)
        groups[index].append(test_file)
    return [sorted(g) for g in groups if g]


def function_body_lines(source: str) -> set[int]:
    """Lines inside function bodies: what runs when the function is called, not on import.
    Everything else (module and class level, decorators, default values) runs on import."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            body = node.body if isinstance(node.body, list) else [node.body]
            for statement in body:
                lines.update(range(statement.lineno, (statement.end_lineno or statement.lineno) + 1))
    return lines


def line_selectors(contexts: set[str], in_function: bool, groups: dict[str, list[str]]) -> list[str]:
    """The selectors of one covered line: the node ids of the tests that ran it (with those
    sharing their cached sample runs); every test file for code that runs on import, because
    a module is imported once per process and its values are then used by any test."""
    if not in_function or "" in contexts:
        return [EVERY_FILE]
    return sorted(expand_shared(contexts, groups))


def _previous_seconds(work: Path) -> dict[str, float]:
    path = work / COVERAGE_MAP
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text()).get("durations", {})
    except ValueError:
        return {}


def build_coverage_map(work: Path, jobs: int) -> dict[str, dict[str, list[str]]]:
    """{module: {line: [test selector, ...]}}; a selector is a node id, a whole test file, or
    EVERY_FILE. The test files run in `jobs` pytest processes (not one per file), so each
    process makes the cached sample runs once."""
    import coverage

    previous = _previous_seconds(work)
    # Of the files as the tests run them: one edited during the run leaves the map stale.
    stamp = fingerprint()
    cov_dir = work / "coverage"
    shutil.rmtree(cov_dir, ignore_errors=True)
    cov_dir.mkdir(parents=True)
    test_files = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("test_*.py"))
    file_groups = balanced_groups(test_files, previous, jobs)
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for group, _seconds, code in pool.map(lambda g: _cover_group(work, g, file_groups[g]),
                                              range(len(file_groups))):
            if code != 0:
                raise SystemExit(f"the tests fail without any mutant (coverage group {group}, see "
                                 f"{_coverage_rc(work, group).with_suffix('.log')}); fix them first")
    combiner = coverage.Coverage(data_file=str(cov_dir / ".coverage"))
    combiner.combine(data_paths=[str(cov_dir)], keep=False)
    data = combiner.get_data()
    groups: dict[str, list[str]] = {}
    durations: dict[str, float] = dict.fromkeys(test_files, 0.0)
    for found in sorted(cov_dir.glob("*.tests.json")):
        saved = json.loads(found.read_text())
        # The sample runs are cached per process: shared by every test of the group on them.
        groups.update(shared_groups(saved["fixtures"], per_file=False))
        for node, nodes in instance_groups(saved.get("shared", {})).items():
            groups[node] = sorted(set(groups.get(node, [node])) | set(nodes))
        for node, seconds in saved["durations"].items():
            test_file = node.split("::", 1)[0]
            if test_file in durations:
                durations[test_file] += seconds
    result: dict[str, dict[str, list[str]]] = {}
    for measured in data.measured_files():
        path = Path(measured).resolve()
        rel = path.relative_to(ROOT).as_posix()
        in_function = function_body_lines(path.read_text())
        result[rel] = {str(line): line_selectors(set(contexts), line in in_function, groups)
                       for line, contexts in sorted(data.contexts_by_lineno(measured).items())}
    (work / COVERAGE_MAP).write_text(json.dumps({"fingerprint": stamp, "durations": durations,
                                                 "cpu": dict(_COVERAGE_CPU), **pack_lines(result)}))
    return result


def pack_lines(lines: dict[str, dict[str, list[str]]]) -> dict:
    """The map's lines with each distinct selector list stored once: every line the sample runs
    execute has the same long list, which each mutant's test command would otherwise parse."""
    sets: dict[tuple[str, ...], int] = {}
    packed = {module: {line: sets.setdefault(tuple(selectors), len(sets)) for line, selectors in by_line.items()}
              for module, by_line in lines.items()}
    return {"lines": packed, "selector_sets": [list(s) for s in sets]}


def module_lines(saved: dict, module: str) -> dict[str, dict[str, list[str]]]:
    """{module: {line: selectors}} of one module, from a map written by build_coverage_map."""
    sets = saved["selector_sets"]
    return {module: {line: sets[index] for line, index in saved["lines"].get(module, {}).items()}}


#: conftest fixtures that hand out the session's cached sample runs: the program runs in the
#: first test of a file that asks for a stack, and every later one asserts on that run.
SHARED_FIXTURES = frozenset({"sample_runs", "accounts", "run_platform"})


def shared_groups(fixtures: dict[str, list[str]], per_file: bool = True) -> dict[str, list[str]]:
    """{node id: the node ids that share the cached sample runs with it}: those of its file
    (one process per file) or, with `per_file=False`, every one in `fixtures` (one process)."""
    by_file: dict[str, list[str]] = defaultdict(list)
    for node, names in fixtures.items():
        if SHARED_FIXTURES.intersection(names):
            by_file[node.split("::", 1)[0] if per_file else ""].append(node)
    return {node: nodes for nodes in by_file.values() for node in nodes}


def instance_groups(shared: dict[str, list[str]]) -> dict[str, list[str]]:
    """{node id: every node id sharing one of its broader-scoped fixture instances with it}
    (`shared`: node id -> the instances it uses, as tools/mutation_contexts.py names them).
    A module-scoped fixture that runs a modified platform, say, runs in the first test of its
    file only, yet the file's later tests assert on that run."""
    members: dict[str, set[str]] = defaultdict(set)
    for node, instances in shared.items():
        for instance in instances:
            members[instance].add(node)
    return {node: sorted(set().union(*(members[i] for i in instances)))
            for node, instances in shared.items() if instances}


def expand_shared(selectors: set[str], groups: dict[str, list[str]]) -> set[str]:
    """`selectors` plus, for a test on the cached sample runs, every test of its file on them
    (they read what the first one's run executed, which coverage saw only once)."""
    expanded = set(selectors)
    for selector in selectors:
        expanded.update(groups.get(selector, ()))
    return expanded


def fingerprint() -> str:
    """A hash of every Python file and data file the map depends on (tests and mutated code)."""
    digest = hashlib.sha256()
    for folder in ("tests", "stacks", "offline_preview", "guardrail_catalog", *TARGETS):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(ROOT).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _cached_map(work: Path) -> bool:
    path = work / COVERAGE_MAP
    if not path.exists():
        return False
    return json.loads(path.read_text()).get("fingerprint") == fingerprint()


# -- the test command of one mutant ------------------------------------------------------------

def mutated_lines(original: str, mutated: str) -> set[int]:
    """The 1-based lines of `original` that the mutant changed."""
    lines: set[int] = set()
    matcher = difflib.SequenceMatcher(a=original.splitlines(), b=mutated.splitlines(), autojunk=False)
    for tag, a0, a1, _b0, _b1 in matcher.get_opcodes():
        if tag != "equal":
            lines.update(range(a0 + 1, max(a1, a0 + 1) + 1))
    return lines


def selected_tests(module: str, lines: set[int], coverage_map: dict,
                   durations: dict[str, float] | None = None) -> list[str]:
    """The tests that run any of `lines` of `module`, likeliest killers first.

    A test file whose name shares the module's name comes first, then the rest by how long the
    file takes (pytest stops at the first failure, so a killed mutant costs little)."""
    selectors: set[str] = set()
    for line in lines:
        selectors.update(coverage_map.get(module, {}).get(str(line), ()))
    durations = durations or {}
    if EVERY_FILE in selectors:
        selectors = (selectors - {EVERY_FILE}) | set(durations)
    files = {s for s in selectors if "::" not in s}
    chosen = files | {s for s in selectors if "::" in s and s.split("::", 1)[0] not in files}
    stem = Path(module).stem.removeprefix("scp_")

    def order(selector: str) -> tuple:
        test_file = selector.split("::", 1)[0]
        return (stem not in Path(test_file).stem, durations.get(test_file, 0.0), selector)

    return sorted(chosen, key=order)


def stages(tests: list[str]) -> list[list[str]]:
    """The selected tests in two pytest runs: the first test file's, then the rest.

    Most mutants are killed by the first file (the module's namesake, else the quickest), and
    pytest imports every selected file before it runs one test: collecting one file first makes
    a killed mutant cheap; a survivor pays one more pytest start."""
    if not tests:
        return []
    first = tests[0].split("::", 1)[0]
    head = [t for t in tests if t.split("::", 1)[0] == first]
    rest = [t for t in tests if t.split("::", 1)[0] != first]
    return [head, rest] if rest else [head]


def run_mutant_tests(module: str) -> int:
    """cosmic-ray's test command: exit 0 (the mutant survived) or not (killed)."""
    here = Path.cwd()
    original = (here / PRISTINE / module).read_text()
    mutated = (here / module).read_text()
    lines = mutated_lines(original, mutated)
    saved = json.loads((here / COVERAGE_MAP).read_text())
    tests = selected_tests(module, lines, module_lines(saved, module), saved["durations"])
    if not tests:
        print(f"not covered: {module} lines {sorted(lines)}")
        return 0
    code, wall, cpu = 0, 0.0, 0.0
    for stage in stages(tests):
        command = [sys.executable, "-m", "pytest", "-x", "-q", "--no-header", "-p", "no:xdist",
                   "-p", "no:cacheprovider", *stage]
        code, stage_wall, stage_cpu = run_measured(command, cwd=here)
        wall, cpu = wall + stage_wall, cpu + stage_cpu
        if code != 0:
            break
    # Per-mutant timings: CPU seconds are what an idle core would need (the wall time is not,
    # on shared cores), so the report can estimate the idle figure from them.
    with (here / TIMINGS).open("a") as out:
        out.write(json.dumps({"module": module, "lines": sorted(lines), "tests": len(tests), "code": code,
                              "wall": round(wall, 2), "cpu": round(cpu, 2)}) + "\n")
    return code


def run_measured(command: list[str], **popen) -> tuple[int, float, float]:
    """Run `command`; (exit code, wall seconds, CPU seconds of it and every process it waited for)."""
    started = time.monotonic()
    process = subprocess.Popen(command, **popen)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, time.monotonic() - started, usage.ru_utime + usage.ru_stime


# -- plan --------------------------------------------------------------------------------------

def never_executed(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) positions of annotations and docstrings: mutants there are equivalent."""
    tree = ast.parse(source)
    spans = []

    def span(node: ast.AST) -> None:
        spans.append(((node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset)))

    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.returns is not None:
                span(node.returns)
            for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs,
                        node.args.vararg, node.args.kwarg]:
                if arg is not None and arg.annotation is not None:
                    span(arg.annotation)
        elif isinstance(node, ast.AnnAssign):
            span(node.annotation)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                span(body[0])
    return spans


def _inside(position: tuple[int, int], spans) -> bool:
    return any(start <= tuple(position) < end for start, end in spans)


def _family(operator: str) -> str | None:
    for family in PER_SITE:
        if operator.startswith(family + "_"):
            return family
    return None


def session_config(module: str, timeout: float) -> str:
    command = f"{sys.executable} -m tools.mutation test {module}"
    return ("[cosmic-ray]\n"
            f"module-path = {json.dumps(module)}\n"
            f"timeout = {timeout}\n"
            "excluded-modules = []\n"
            f"test-command = {json.dumps(command)}\n"
            "[cosmic-ray.distributor]\n"
            "name = \"local\"\n")


def _init_session(shard: Path, module: str, timeout: float) -> Path:
    """The module's cosmic-ray session in `shard`, made with cosmic-ray's own `init` (the
    function behind `cosmic-ray init`, called in this process: a command per module paid
    cosmic-ray's import, about 0.6 CPU-seconds, 55 times). Module paths are relative to the
    shard, as the command would record them from there."""
    import cosmic_ray.commands
    import cosmic_ray.modules
    from cosmic_ray.config import load_config
    from cosmic_ray.work_db import WorkDB, use_db

    shard = shard.resolve()
    name = module.replace("/", "_").removesuffix(".py")
    config = shard / "sessions" / f"{name}.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(session_config(module, timeout))
    db_path = shard / "sessions" / f"{name}.sqlite"
    db_path.unlink(missing_ok=True)
    cfg = load_config(str(config))
    here = Path.cwd()
    os.chdir(shard)
    try:
        modules = cosmic_ray.modules.find_modules([Path(cfg["module-path"])])
        with use_db(str(db_path), WorkDB.Mode.create) as db:
            cosmic_ray.commands.init(modules, db, cfg.operators_config)
    finally:
        os.chdir(here)
    return db_path


def plan_modules(shard: Path, samples: dict[str, float], timeout: float, jobs: int) -> dict[str, dict[str, int]]:
    """plan_module for each module of `samples` (module -> sample fraction), in `jobs` processes
    (generating the mutants is CPU work: about 2.5 CPU-seconds for the pack's identity.py)."""
    import multiprocessing

    modules = sorted(samples)
    if jobs <= 1 or len(modules) <= 1:
        return {m: plan_module(shard, m, samples[m], timeout) for m in modules}
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {m: pool.submit(_plan_in_worker, shard, m, samples[m], timeout) for m in modules}
        return {m: futures[m].result() for m in modules}


def _plan_in_worker(shard: Path, module: str, sample: float, timeout: float) -> dict[str, int | float]:
    return {**plan_module(shard, module, sample, timeout)}


def plan_module(shard: Path, module: str, sample: float, timeout: float) -> dict[str, int]:
    """Create the module's cosmic-ray session in `shard` and skip what is not to be run."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    db_path = _init_session(shard, module, timeout)
    source = (shard / module).read_text()
    spans = never_executed(source)
    source_lines = source.splitlines()
    equivalents = load_equivalents(EQUIVALENT)
    counts = {"generated": 0, "never executed": 0, LISTED_EQUIVALENT: 0, "same site": 0, "sampled out": 0,
              "planned": 0}
    with use_db(str(db_path), WorkDB.Mode.open) as db:
        items = list(db.pending_work_items)
        skipped: dict[str, list[str]] = defaultdict(list)
        per_site: dict[tuple, list] = defaultdict(list)
        listed = unambiguous_equivalents(
            {item.job_id: listed_equivalent_key(module, item.mutations[0].operator_name,
                                                item.mutations[0].definition_name, source_lines,
                                                item.mutations[0].start_pos[0]) for item in items}, equivalents)
        for item in items:
            counts["generated"] += 1
            mutation = item.mutations[0]
            if _inside(mutation.start_pos, spans):
                skipped["never executed"].append(item.job_id)
                continue
            # Judged equivalent already (the reason is in the file): running it buys nothing,
            # and as a survivor it would run every test covering its line.
            if item.job_id in listed:
                skipped[LISTED_EQUIVALENT].append(item.job_id)
                continue
            family = _family(mutation.operator_name)
            if family is not None:
                per_site[(family, tuple(mutation.start_pos))].append(item)
                continue
            if _stable(module, mutation.operator_name, mutation.occurrence) >= sample:
                skipped["sampled out"].append(item.job_id)
        for (family, position), group in per_site.items():
            group.sort(key=lambda i: _stable(module, i.mutations[0].operator_name, position))
            for item in group[PER_SITE[family]:]:
                skipped["same site"].append(item.job_id)
            for item in group[:PER_SITE[family]]:
                if _stable(module, item.mutations[0].operator_name, item.mutations[0].occurrence) >= sample:
                    skipped["sampled out"].append(item.job_id)
        for reason, job_ids in skipped.items():
            counts[reason] = len(job_ids)
            if job_ids:
                db.set_multiple_results(job_ids, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=reason))
        counts["planned"] = counts["generated"] - sum(len(v) for v in skipped.values())
        dropped = set().union(*skipped.values()) if skipped else set()
        # Where each planned mutant falls in the sample (0 first, below 1): the budget fit
        # (fit_scale) keeps those below one scale, the same for every module.
        draws = {item.job_id: _stable(module, item.mutations[0].operator_name, item.mutations[0].occurrence) / max(sample, 1e-12)
                 for item in items if item.job_id not in dropped}
    return {**counts, "draws": draws}


def sample_out(shard: Path, module: str, job_ids: list[str]) -> None:
    """Mark planned mutants of the module's session sampled out (to fit the time budget)."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    if not job_ids:
        return
    name = module.replace("/", "_").removesuffix(".py")
    with use_db(str(shard / "sessions" / f"{name}.sqlite"), WorkDB.Mode.open) as db:
        db.set_multiple_results(job_ids, WorkResult(worker_outcome=WorkerOutcome.SKIPPED,
                                                    output="sampled out (time budget)"))


# -- report ------------------------------------------------------------------------------------

def collect(work: Path, equivalents: set[str] | None = None) -> dict[str, dict]:
    """Per module: counts and survivors, from every shard's sessions. A survivor listed in
    `equivalents` (see EQUIVALENT) counts as equivalent, not as survived."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    equivalents = load_equivalents(EQUIVALENT) if equivalents is None else equivalents
    modules: dict[str, dict] = {}
    for db_path in sorted(work.glob("shard-*/sessions/*.sqlite")):
        with use_db(str(db_path), WorkDB.Mode.open) as db:
            results = dict(db.results)
            for item in db.work_items:
                mutation = item.mutations[0]
                entry = modules.setdefault(Path(mutation.module_path).as_posix(), {
                    "killed": 0, "survived": 0, "equivalent": 0, "incompetent": 0, "skipped": 0, "pending": 0,
                    "survivors": []})
                result = results.get(item.job_id)
                if result is None:
                    entry["pending"] += 1
                elif result.worker_outcome == WorkerOutcome.SKIPPED and result.output == LISTED_EQUIVALENT:
                    entry["equivalent"] += 1
                elif result.worker_outcome in (WorkerOutcome.SKIPPED, WorkerOutcome.NO_TEST):
                    entry["skipped"] += 1
                    if (result.output or "").startswith("sampled out"):
                        entry["sampled_out"] = entry.get("sampled_out", 0) + 1
                elif result.worker_outcome != WorkerOutcome.NORMAL or result.test_outcome == TestOutcome.INCOMPETENT:
                    entry["incompetent"] += 1
                elif result.test_outcome == TestOutcome.KILLED:
                    entry["killed"] += 1
                else:
                    not_covered = "not covered:" in (result.output or "")
                    diff = "\n".join(l for l in (result.diff or "").splitlines()
                                     if l[:1] in "+-" and l[:3] not in ("+++", "---"))
                    definition = getattr(mutation, "definition_name", None) or "<module>"
                    survivor = {"line": mutation.start_pos[0], "operator": mutation.operator_name,
                                "occurrence": mutation.occurrence, "not_covered": not_covered, "diff": diff,
                                "definition": definition}
                    if equivalent_key(entry_module(mutation), mutation.operator_name, definition, diff) in equivalents:
                        entry["equivalent"] += 1
                    else:
                        entry["survived"] += 1
                        entry["survivors"].append(survivor)
    return modules


def entry_module(mutation) -> str:
    return Path(mutation.module_path).as_posix()


def equivalent_key(module: str, operator: str, definition: str, diff: str) -> str:
    """How EQUIVALENT names a mutant: module, operator, the enclosing definition and the
    original line, so the entry survives edits elsewhere in the file."""
    original = next((l[1:].strip() for l in diff.splitlines() if l.startswith("-") and l[1:].strip()), "")
    return f"{module} {operator} {definition} {original}"


def load_equivalents(path: Path) -> set[str]:
    """Entries of the equivalent-mutants file: `<module> <operator> <definition> <original line>  # why`."""
    if not path.exists():
        return set()
    found = set()
    for line in path.read_text().splitlines():
        entry = line.split("  # ", 1)[0].strip()
        if entry and not entry.startswith("#"):
            found.add(entry)
    return found


def _rate(killed: int, survived: int) -> str:
    run = killed + survived
    return f"{100.0 * killed / run:5.1f}%" if run else "   n/a"


def format_report(modules: dict[str, dict], meta: dict | None = None) -> str:
    lines = []
    if meta:
        lines.append(" ".join(f"{k}={v}" for k, v in meta.items()))
        if meta.get("sample") not in (None, 1, 1.0):
            lines.append(f"A sample: the mutants run are a deterministic sample (fraction per target: {meta['sample']}) "
                         "of those left after the never-executed and same-site filters; `--sample 1` runs them all.")
    lines.append("Kill rate = killed / (killed + survived); equivalent mutants (tools/mutation_equivalent.txt) "
                 "and skipped ones (never executed, same site, sampled out) are not counted.")
    lines.append(f"{'module':62} {'killed':>6} {'surv.':>6} {'equiv':>6} {'incomp':>6} {'skip':>5} {'rate':>6}")
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for module in sorted(modules):
        e = modules[module]
        lines.append(f"{module:62} {e['killed']:6} {e['survived']:6} {e.get('equivalent', 0):6} {e['incompetent']:6} "
                     f"{e['skipped']:5} {_rate(e['killed'], e['survived']):>6}"
                     + (f"  ({e['pending']} not run)" if e["pending"] else ""))
        group = next(t for t in TARGETS if module.startswith(t))
        groups[group][0] += e["killed"]
        groups[group][1] += e["survived"]
    pending = sum(e["pending"] for e in modules.values())
    if pending:
        budget = f" (time budget: {meta['budget_minutes']:g} minutes)" if meta and "budget_minutes" in meta else ""
        lines.append(f"Not run: {pending} planned mutants{budget}; the rates above are of those that ran.")
    lines.append("")
    sampled_out: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # target -> [sampled out, planned + those]
    for module, e in modules.items():
        group = next(t for t in TARGETS if module.startswith(t))
        run = e["killed"] + e["survived"] + e.get("equivalent", 0) + e["incompetent"] + e["pending"]
        sampled_out[group][0] += e.get("sampled_out", 0)
        sampled_out[group][1] += run + e.get("sampled_out", 0)
    for group, (killed, survived) in groups.items():
        out, eligible = sampled_out[group]
        note = f"  ({out} of {eligible} sampled out)" if out else ""
        lines.append(f"{group:62} {killed:6} {survived:6} {'':6} {'':6} {'':5} {_rate(killed, survived):>6}{note}")
    total = [sum(v[0] for v in groups.values()), sum(v[1] for v in groups.values())]
    lines.append(f"{'total':62} {total[0]:6} {total[1]:6} {'':6} {'':6} {'':5} {_rate(*total):>6}")
    lines.append("\nSurviving mutants (module:line operator; '-' original, '+' mutant):")
    for module in sorted(modules):
        for s in sorted(modules[module]["survivors"], key=lambda s: (s["line"], s["operator"])):
            note = "  [no test runs this line]" if s["not_covered"] else ""
            lines.append(f"{module}:{s['line']} {s['operator']} in {s.get('definition', '<module>')}{note}")
            lines.extend("    " + l.strip() for l in s["diff"].splitlines())
    return "\n".join(lines)


# -- recheck -----------------------------------------------------------------------------------

def _recheck_one(tree: Path, module: str, survivor: dict, selection: list[str], timeout: float) -> str:
    """`killed`, `survived` or `moved` (the mutant is no longer where the run found it)."""
    import cosmic_ray.plugins
    from cosmic_ray.mutating import use_mutation

    operator = cosmic_ray.plugins.get_operator(survivor["operator"])()
    expected = next((l[1:].strip() for l in survivor["diff"].splitlines() if l.startswith("-") and l[1:].strip()), None)
    with use_mutation(tree / module, operator, survivor["occurrence"]) as (original, mutated):
        if mutated is None:
            return "moved"
        changed = {original.splitlines()[n - 1].strip() for n in mutated_lines(original, mutated)
                   if n <= len(original.splitlines())}
        if expected is not None and expected not in changed:
            return "moved"
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "--no-header", "-p", "no:xdist",
                                   "-p", "no:cacheprovider", *selection], cwd=tree, env=env,
                                  capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "killed"
        return "survived" if done.returncode == 0 else "killed"


def recheck(work: Path, jobs: int, timeout: float, only: list[str] | None = None) -> str:
    """Run the last run's survivors again against the current tests and code.

    Each survivor runs the test files its tests were in, plus the test files changed since the
    coverage map was made that ran its module then, plus new test files; a survivor whose line
    moved is reported as such, not guessed."""
    modules = {m: e for m, e in collect(work).items()
               if not only or any(fnmatch.fnmatch(m, p) or p in m for p in only)}
    saved = json.loads((work / COVERAGE_MAP).read_text())
    made = (work / COVERAGE_MAP).stat().st_mtime
    changed = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("test_*.py")
                     if p.stat().st_mtime > made)
    trees = []
    for i in range(jobs):
        tree = work / f"recheck-{i}"
        shutil.rmtree(tree, ignore_errors=True)
        shutil.copytree(ROOT, tree, ignore=COPY_IGNORE, symlinks=True)
        (tree / ".venv").unlink(missing_ok=True)
        trees.append(tree)
    mapped = set(saved["durations"])
    jobs_list = []
    for module in sorted(modules):
        # Changed files that ran the module before, and test files the map does not know.
        by_line = module_lines(saved, module)
        touching = {s.split("::", 1)[0] for selectors in by_line[module].values() for s in selectors}
        if EVERY_FILE in touching:
            touching = mapped
        extra = {f for f in changed if f in touching or f not in mapped}
        for survivor in modules[module]["survivors"]:
            old = selected_tests(module, {survivor["line"]}, by_line, saved["durations"])
            files = sorted({s.split("::", 1)[0] for s in old} | extra)
            jobs_list.append((module, survivor, files))
    outcomes: dict[str, dict[str, int]] = defaultdict(lambda: {"killed": 0, "survived": 0, "moved": 0})
    lines = []

    def work_on(index: int) -> list[tuple[str, dict, str]]:
        return [(m, s, _recheck_one(trees[index], m, s, f, timeout))
                for n, (m, s, f) in enumerate(jobs_list) if n % jobs == index]

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for results in pool.map(work_on, range(jobs)):
            for module, survivor, outcome in results:
                outcomes[module][outcome] += 1
                if outcome != "killed":
                    lines.append(f"{module}:{survivor['line']} {survivor['operator']} in "
                                 f"{survivor.get('definition', '<module>')}: {outcome}")
    report = ["Survivors of the last run, against the current tests:",
              f"{'module':62} {'killed':>6} {'surv.':>6} {'moved':>6} {'rate now':>9}"]
    for module in sorted(outcomes):
        o, e = outcomes[module], modules[module]
        report.append(f"{module:62} {o['killed']:6} {o['survived']:6} {o['moved']:6} "
                      f"{_rate(e['killed'] + o['killed'], o['survived'] + o['moved']):>9}")
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for module, e in modules.items():
        o = outcomes.get(module, {"killed": 0, "survived": 0, "moved": 0})
        group = next(t for t in TARGETS if module.startswith(t))
        groups[group][0] += e["killed"] + o["killed"]
        groups[group][1] += o["survived"] + o["moved"]
    report.append("")
    for group, (killed, left) in groups.items():
        report.append(f"{group:62} {killed:6} {left:6} {'':6} {_rate(killed, left):>9}")
    report.append("\nStill surviving (or moved: rerun `make mutation`):")
    report.extend(sorted(lines))
    return "\n".join(report)


# -- main --------------------------------------------------------------------------------------

def _prepare_shard(work: Path, index: int) -> Path:
    shard = work / f"shard-{index}"
    shutil.rmtree(shard, ignore_errors=True)
    shutil.copytree(ROOT, shard, ignore=COPY_IGNORE, symlinks=True)
    # The program's Pulumi.yaml names `.venv` as its virtualenv: the shard's is this one, so
    # the offline preview finds it (and, being the running one, adds nothing to the path).
    (shard / ".venv").unlink(missing_ok=True)
    (shard / ".venv").symlink_to((ROOT / ".venv").resolve(), target_is_directory=True)
    shutil.copytree(ROOT, shard / PRISTINE, ignore=COPY_IGNORE, symlinks=True)
    shutil.copy(work / COVERAGE_MAP, shard / COVERAGE_MAP)
    return shard


def baseline_tests(coverage_map: dict, count: int = 2) -> list[str]:
    """The test files that run the most lines of the mutated code (by the map)."""
    lines_per_file: dict[str, int] = defaultdict(int)
    for module in coverage_map["lines"]:
        for selectors in module_lines(coverage_map, module)[module].values():
            for test_file in {s.split("::", 1)[0] for s in selectors if s != EVERY_FILE}:
                lines_per_file[test_file] += 1
    return sorted(sorted(lines_per_file, key=lambda f: (-lines_per_file[f], f))[:count])


def check_baseline(shard: Path, tests: list[str]) -> None:
    """The shard's tests pass with no mutant, else every mutant would count as killed (a test
    failing for the shard's own reasons: a missing file, tool or virtualenv)."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "--no-header", "-p", "no:xdist",
                           "-p", "no:cacheprovider", *tests], cwd=shard, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the tests fail in {shard} without any mutant ({' '.join(tests)}), so every mutant would "
                         f"count as killed; fix the shard first:\n{done.stdout[-3000:]}")


def _run_shard(shard: Path, modules: list[str], log: Path, deadline: float) -> float:
    """Run the shard's sessions one after the other until `deadline` (time.monotonic()); the CPU
    seconds they took. At the deadline the running session is stopped: its remaining mutants,
    and those of the sessions not started, stay pending and the report says so."""
    cpu_total = 0.0
    with log.open("w") as out:
        for module in modules:
            name = module.replace("/", "_").removesuffix(".py")
            if time.monotonic() >= deadline:
                out.write(f"== {module}: not started, the time budget is spent\n")
                continue
            out.write(f"== {module}\n")
            out.flush()
            process = subprocess.Popen([sys.executable, "-m", "cosmic_ray.cli", "exec", f"sessions/{name}.toml",
                                        f"sessions/{name}.sqlite"], cwd=shard, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
            cpu, finished = _wait_until(process, deadline)
            cpu_total += cpu
            if not finished:
                out.write(f"== {module}: stopped, the time budget is spent\n")
                out.flush()
                _stop_group(process)
    return cpu_total


def _wait_until(process: subprocess.Popen, deadline: float) -> tuple[float, bool]:
    """Wait for `process` until `deadline`: (CPU seconds of it and every process it waited for,
    as run_measured; whether it finished)."""
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime, True
        if time.monotonic() >= deadline:
            return 0.0, False
        time.sleep(0.5)


def _stop_group(process: subprocess.Popen) -> None:
    """Stop a session and the test command it runs (its own process group)."""
    import signal

    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        waited = time.monotonic() + grace
        while time.monotonic() < waited:
            pid, status, _ = os.wait4(process.pid, os.WNOHANG)
            if pid:
                process.returncode = os.waitstatus_to_exitcode(status)
                return
            time.sleep(0.2)


class LoadSampler:
    """The 1-minute load average every `every` seconds while the run lasts (cores are shared)."""

    def __init__(self, every: float = 30.0) -> None:
        import threading
        self.samples = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(every,), daemon=True)
        self._thread.start()

    def _loop(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> dict[str, float]:
        self._stop.set()
        return {"load_mean": round(sum(self.samples) / len(self.samples), 1), "load_max": round(max(self.samples), 1)}


def idle_estimate(coverage_cpu: float, shard_cpu: list[float], jobs: int) -> float:
    """Minutes the run would take on `jobs` idle cores: the coverage step's CPU spread over the
    cores, then the busiest shard's CPU (each shard is one process chain, one core). An estimate:
    it leaves out I/O waits and counts cache effects of the shared cores as they were."""
    return round((coverage_cpu / jobs + max(shard_cpu, default=0.0)) / 60, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", default="run", choices=("run", "report", "test", "recheck", "costs"))
    parser.add_argument("module", nargs="?", help="for `test`: the module cosmic-ray mutated")
    parser.add_argument("--jobs", type=int, default=2, help="shards run in parallel (default 2)")
    parser.add_argument("--sample", type=float, default=float(os.environ["MUTATION_SAMPLE"])
                        if os.environ.get("MUTATION_SAMPLE") else None,
                        help="fraction of the remaining mutants run, chosen deterministically, for every "
                             f"module (default per target: {SAMPLE})")
    parser.add_argument("--only", nargs="*", default=None, help="modules to mutate (glob or substring)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_SECONDS)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--minutes", type=float, default=BUDGET_MINUTES,
                        help=f"time budget of the whole run (default {BUDGET_MINUTES:g}); at its end the "
                             "mutants not run yet are reported as not run")
    parser.add_argument("--fit", action=argparse.BooleanOptionalAction, default=True,
                        help="shrink the sample (the same share of every module) so the estimated CPU "
                             "fits the time left (default); --no-fit runs the whole sample")
    args = parser.parse_args(argv)

    if args.command == "test":
        return run_mutant_tests(args.module)
    if args.command == "recheck":
        text = recheck(args.work, args.jobs, args.timeout, args.only)
        (args.work / "recheck.txt").write_text(text + "\n")
        print(text)
        return 0
    if args.command == "costs":
        totals = measured_totals(args.work)
        write_cost_table(totals)
        print(f"{COST_TABLE.relative_to(ROOT)}: {len(totals)} modules measured, "
              f"{sum(n for _, n in totals.values())} mutants")
        return 0
    if args.command == "report":
        meta = json.loads((args.work / "meta.json").read_text()) if (args.work / "meta.json").exists() else None
        print(format_report(collect(args.work), meta))
        return 0

    started = time.monotonic()
    deadline = started + args.minutes * 60 - REPORT_SECONDS
    load = LoadSampler()
    args.work.mkdir(parents=True, exist_ok=True)
    last_run = measured_totals(args.work)
    for old in args.work.glob("shard-*"):
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    modules = target_modules(only=args.only)
    if _cached_map(args.work):
        print("coverage map: tests and code unchanged since the last run, reusing it", flush=True)
    else:
        print(f"coverage map: running the tests under coverage in {args.jobs} processes "
              f"({len(modules)} modules to mutate)", flush=True)
        build_coverage_map(args.work, args.jobs)
        print(f"  done in {time.monotonic() - started:.0f} s", flush=True)

    shards = [_prepare_shard(args.work, i) for i in range(args.jobs)]
    planned: dict[str, int] = {}
    samples = {module: args.sample if args.sample is not None else
               next(rate for target, rate in SAMPLE.items() if module.startswith(target)) for module in modules}
    plan_started = time.monotonic()
    plans = plan_modules(shards[0], samples, args.timeout, args.jobs)
    draws = {module: plans[module].pop("draws") for module in modules}
    for module in modules:
        print(f"  {module}: {plans[module]}", flush=True)
    print(f"  planned in {time.monotonic() - plan_started:.0f} s", flush=True)
    baseline = baseline_tests(json.loads((args.work / COVERAGE_MAP).read_text()))
    print(f"baseline: {' '.join(baseline)} in each shard, with no mutant", flush=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        list(pool.map(lambda shard: check_baseline(shard, baseline), shards))
    costs = estimated_costs(modules, load_cost_table(), last_run)
    capacity = max(0.0, deadline - time.monotonic()) * MARGIN
    scale = fit_scale({m: list(d.values()) for m, d in draws.items()}, costs, capacity, args.jobs) if args.fit else 1.0
    fitted_out = 0
    for module in modules:
        out = sorted(job for job, draw in draws[module].items() if draw >= scale)
        sample_out(shards[0], module, out)
        fitted_out += len(out)
        planned[module] = len(draws[module]) - len(out)
    print(f"time budget: {capacity:.0f} CPU-s per shard ({MARGIN:.0%} of the time left); the sample kept "
          f"{scale:.2f} of itself, {fitted_out} of {sum(len(d) for d in draws.values())} mutants sampled out "
          f"to fit", flush=True)
    assignment, loads = assign_shards(planned, costs, args.jobs)
    for index, shard_modules in enumerate(assignment):
        for module in shard_modules if index else ():
            for suffix in (".toml", ".sqlite"):
                name = module.replace("/", "_").removesuffix(".py") + suffix
                (shards[index] / "sessions").mkdir(exist_ok=True)
                shutil.move(shards[0] / "sessions" / name, shards[index] / "sessions" / name)
    left = max(0.0, deadline - time.monotonic())
    print(f"running {sum(planned.values())} mutants on {args.jobs} shards (estimated CPU-s "
          f"{[round(l) for l in loads]}, {left / 60:.1f} minutes left of the budget); logs in "
          f"{args.work}/shard-*.log", flush=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        shard_cpu = list(pool.map(lambda i: _run_shard(shards[i], assignment[i], args.work / f"shard-{i}.log",
                                                       deadline), range(args.jobs)))
    coverage_cpu = sum(json.loads((args.work / COVERAGE_MAP).read_text()).get("cpu", {}).values()) \
        if _COVERAGE_CPU else 0.0
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cores": os.cpu_count(),
            "jobs": args.jobs, "only": " ".join(args.only or []) or "all", "sample": args.sample or SAMPLE,
            "budget_minutes": args.minutes, "fit_scale": round(scale, 3), "fitted_out": fitted_out,
            "estimated_cpu": [round(l) for l in loads], "shard_cpu": [round(c) for c in shard_cpu],
            "mutants": sum(planned.values()), "minutes": round((time.monotonic() - started) / 60, 1), **load.stop(),
            "coverage_map": "built" if _COVERAGE_CPU else "reused",
            "cpu_minutes": round((coverage_cpu + sum(shard_cpu)) / 60, 1),
            "idle_estimate_minutes": idle_estimate(coverage_cpu, shard_cpu, args.jobs)}
    (args.work / "meta.json").write_text(json.dumps(meta))
    report = format_report(collect(args.work), meta)
    (args.work / "report.txt").write_text(report + "\n")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
