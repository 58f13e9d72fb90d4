"""The mutation-testing driver (tools/mutation.py): what it mutates, which tests a mutant runs,
what it skips as never executed, and how it reports. cosmic-ray itself is not needed here."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tools import mutation


def test_targets_are_the_guardrail_code_without_generated_data():
    modules = mutation.target_modules()
    assert "policy_documents/scp_library.py" in modules
    assert f"{mutation.PACK}/network.py" in modules
    assert "components/kms_keys.py" in modules
    assert not [m for m in modules if m.endswith("__init__.py")]
    assert f"{mutation.PACK}/catalog_data.py" not in modules
    assert not [m for m in modules if m.startswith(("stacks/", "tests/", "offline_preview/"))]
    assert mutation.target_modules(only=["ml_guardrails/network.py"]) == [f"{mutation.PACK}/network.py"]


def test_mutated_lines_are_lines_of_the_original():
    original = "a = 1\nb = 2\nc = 3\n"
    assert mutation.mutated_lines(original, "a = 1\nb = 3\nc = 3\n") == {2}
    assert mutation.mutated_lines(original, "a = 1\nc = 3\n") == {2}
    assert mutation.mutated_lines(original, original) == set()


def test_a_mutant_runs_the_tests_that_cover_its_lines_the_namesake_file_first():
    coverage_map = {"pkg/network.py": {
        "3": ["tests/test_slow.py", "tests/test_network.py::test_a"],
        "4": ["tests/test_network.py::test_b", "tests/test_slow.py::test_c"],
    }}
    durations = {"tests/test_slow.py": 9.0, "tests/test_network.py": 1.0}
    assert mutation.selected_tests("pkg/network.py", {3}, coverage_map, durations) == [
        "tests/test_network.py::test_a", "tests/test_slow.py"]
    # A node id inside a file that is selected whole is not repeated.
    assert mutation.selected_tests("pkg/network.py", {3, 4}, coverage_map, durations) == [
        "tests/test_network.py::test_a", "tests/test_network.py::test_b", "tests/test_slow.py"]
    assert mutation.selected_tests("pkg/network.py", {9}, coverage_map, durations) == []
    assert mutation.selected_tests("pkg/other.py", {3}, coverage_map, durations) == []


def test_annotations_and_docstrings_are_never_executed():
    source = textwrap.dedent('''\
        """Module docstring."""
        x: int | None = None


        def f(a: str | None, *, b: int = 1) -> dict[str, int] | None:
            """Docstring."""
            return {a: b | 2}
        ''')
    spans = mutation.never_executed(source)
    assert mutation._inside((1, 0), spans)          # module docstring
    assert mutation._inside((2, 3), spans)          # `int | None` of the annotated assignment
    assert mutation._inside((5, 9), spans)          # `str | None`
    assert mutation._inside((5, 41), spans)         # the return annotation
    assert mutation._inside((6, 4), spans)          # the function's docstring
    assert not mutation._inside((7, 15), spans)     # `b | 2` runs
    assert not mutation._inside((2, 16), spans)     # the value assigned runs


def test_the_sample_is_deterministic_and_spread():
    draws = [mutation._stable("m.py", "core/AddNot", i) for i in range(400)]
    assert draws == [mutation._stable("m.py", "core/AddNot", i) for i in range(400)]
    assert all(0 <= d < 1 for d in draws)
    assert 0.15 < sum(d < 0.25 for d in draws) / len(draws) < 0.35


def test_the_report_gives_rates_per_module_and_target_and_lists_survivors():
    modules = {
        f"{mutation.PACK}/network.py": {"killed": 9, "survived": 1, "incompetent": 0, "skipped": 5, "pending": 0,
                                        "survivors": [{"line": 60, "operator": "core/AddNot", "occurrence": 2,
                                                       "not_covered": True, "diff": "-    if a:\n+    if not a:"}]},
        "components/kms_keys.py": {"killed": 0, "survived": 0, "incompetent": 1, "skipped": 0, "pending": 2,
                                   "survivors": []},
    }
    report = mutation.format_report(modules, {"date": "2026-12-01", "cores": 2})
    lines = report.splitlines()
    assert lines[0] == "date=2026-12-01 cores=2"
    assert any(l.startswith(f"{mutation.PACK}/network.py") and l.rstrip().endswith("90.0%") for l in lines)
    assert any(l.startswith("components/kms_keys.py") and "n/a" in l and "(2 not run)" in l for l in lines)
    assert any(l.startswith("total") and l.rstrip().endswith("90.0%") for l in lines)
    assert f"{mutation.PACK}/network.py:60 core/AddNot in <module>  [no test runs this line]" in lines
    assert "    -    if a:" in lines and "    +    if not a:" in lines
    assert not any(l.startswith("A sample") for l in lines)
    # Per target, how many of the mutants left after the never-executed and same-site filters
    # the sample left out (those run, not run, equivalent or incompetent, plus those).
    modules["components/kms_keys.py"]["sampled_out"] = 7
    with_sample = mutation.format_report(modules).splitlines()
    assert any(l.startswith("components ") and l.endswith("(7 of 10 sampled out)") for l in with_sample), with_sample
    assert not any(l.startswith(mutation.PACK + " ") and "sampled out" in l for l in with_sample)
    sampled = mutation.format_report(modules, {"date": "2026-12-01", "sample": 0.25}).splitlines()
    assert sampled[1].startswith("A sample: the mutants run are a deterministic sample (fraction per target: 0.25)")
    assert not any(l.startswith("A sample") for l in mutation.format_report(modules, {"sample": 1.0}).splitlines())


def test_equivalent_mutants_are_named_by_module_operator_definition_and_line(tmp_path):
    diff = "-    if a == b:\n+    if a is b:"
    key = mutation.equivalent_key("pkg/m.py", "core/ReplaceComparisonOperator_Eq_Is", "check", diff)
    assert key == "pkg/m.py core/ReplaceComparisonOperator_Eq_Is check if a == b:"
    listing = tmp_path / "equivalent.txt"
    listing.write_text(f"# a comment\n\n{key}  # both are bools\n")
    assert mutation.load_equivalents(listing) == {key}
    assert mutation.load_equivalents(tmp_path / "missing.txt") == set()


def test_every_listed_equivalent_mutant_still_exists():
    # An entry whose line or definition changed would hide nothing, or the wrong mutant.
    import ast

    for entry in mutation.load_equivalents(mutation.EQUIVALENT):
        module, operator, definition, line = entry.split(" ", 3)
        source = (mutation.ROOT / module).read_text()
        assert module in mutation.target_modules() and operator.startswith("core/"), entry
        if definition == "<module>":
            assert any(l.strip() == line for l in source.splitlines()), entry
            continue
        functions = [n for n in ast.walk(ast.parse(source))
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == definition]
        assert functions, entry
        body = "\n".join(ast.get_source_segment(source, f) or "" for f in functions)
        assert any(l.strip() == line for l in body.splitlines()), entry


def test_tests_on_the_cached_sample_runs_share_the_coverage_of_the_first_one():
    fixtures = {
        "tests/test_a.py::test_first": ["sample_runs", "tmp_path"],
        "tests/test_a.py::test_later": ["accounts"],
        "tests/test_a.py::test_unit": ["tmp_path"],
        "tests/test_b.py::test_other_file": ["run_platform"],
    }
    groups = mutation.shared_groups(fixtures)
    # Only the first test ran the program (the later one read the cached run): both are selected.
    assert mutation.expand_shared({"tests/test_a.py::test_first"}, groups) == {
        "tests/test_a.py::test_first", "tests/test_a.py::test_later"}
    # A test without the cached runs, and tests of other files, are not added.
    assert mutation.expand_shared({"tests/test_a.py::test_unit"}, groups) == {"tests/test_a.py::test_unit"}
    assert mutation.expand_shared({"tests/test_b.py::test_other_file"}, groups) == {
        "tests/test_b.py::test_other_file"}
    assert mutation.expand_shared({"tests/test_a.py"}, groups) == {"tests/test_a.py"}


def test_the_idle_estimate_spreads_the_coverage_step_and_takes_the_busiest_shard():
    # 240 CPU-s of coverage on 2 cores, then shards of 600 and 900 CPU-s: 2 + 15 minutes.
    assert mutation.idle_estimate(240.0, [600.0, 900.0], 2) == 17.0
    assert mutation.idle_estimate(0.0, [], 2) == 0.0


def test_a_mutant_runs_its_first_test_file_alone_then_the_rest():
    tests = ["tests/test_network.py::test_a", "tests/test_network.py::test_b", "tests/test_slow.py",
             "tests/test_other.py::test_c"]
    assert mutation.stages(tests) == [["tests/test_network.py::test_a", "tests/test_network.py::test_b"],
                                      ["tests/test_slow.py", "tests/test_other.py::test_c"]]
    assert mutation.stages(["tests/test_slow.py"]) == [["tests/test_slow.py"]]
    assert mutation.stages([]) == []


def test_the_coverage_step_balances_test_files_over_processes_by_their_last_time():
    seconds = {"tests/a.py": 30.0, "tests/b.py": 20.0, "tests/c.py": 10.0, "tests/d.py": 10.0}
    assert mutation.balanced_groups(["tests/a.py", "tests/b.py", "tests/c.py", "tests/d.py"], seconds, 2) == [
        ["tests/a.py", "tests/d.py"], ["tests/b.py", "tests/c.py"]]
    # A file not timed yet counts as the mean of the others; no empty group.
    assert mutation.balanced_groups(["tests/a.py", "tests/new.py"], {"tests/a.py": 5.0}, 3) == [
        ["tests/a.py"], ["tests/new.py"]]


def test_code_run_on_import_selects_every_test_file_and_function_bodies_their_tests():
    source = textwrap.dedent('''\
        LIMIT = 5
        def check(x, default=LIMIT):
            return x > default
        class Rule:
            name = "r"
            def run(self):
                return 1
        ''')
    body = mutation.function_body_lines(source)
    assert body == {3, 7}
    groups = mutation.shared_groups({"t.py::a": ["sample_runs"], "u.py::b": ["accounts"], "u.py::c": []},
                                    per_file=False)
    # One process makes the cached runs for every file in it: their tests share them.
    assert mutation.line_selectors({"t.py::a"}, True, groups) == ["t.py::a", "u.py::b"]
    assert mutation.line_selectors({"u.py::c"}, True, groups) == ["u.py::c"]
    # Module level, or a function also called on import (the empty context): every file.
    assert mutation.line_selectors({"u.py::c"}, False, groups) == [mutation.EVERY_FILE]
    assert mutation.line_selectors({"", "u.py::c"}, True, groups) == [mutation.EVERY_FILE]
    durations = {"tests/test_a.py": 2.0, "tests/test_b.py": 1.0}
    assert mutation.selected_tests("pkg/a.py", {1}, {"pkg/a.py": {"1": [mutation.EVERY_FILE]}}, durations) == [
        "tests/test_a.py", "tests/test_b.py"]


def test_shards_get_equal_estimated_cpu_and_run_the_targets_with_a_rate_target_first():
    pd, pack, comp = "policy_documents/x.py", f"{mutation.PACK}/y.py", "components/z.py"
    planned = {pd: 10, pack: 10, comp: 4, "components/w.py": 1}
    costs = {pd: 6.0}  # measured; the others take DEFAULT_COST
    assignment, loads = mutation.assign_shards(planned, costs, 2)
    # 4 x 30 for z.py on one shard; 60 + 50 + 30 on the other, documents and checks first.
    assert loads == [120.0, 140.0]
    assert assignment == [[comp], [pd, pack, "components/w.py"]]
    assert sum(loads) == 10 * 6.0 + 10 * mutation.DEFAULT_COST[mutation.PACK] + 5 * mutation.DEFAULT_COST["components"]


def test_measured_costs_are_the_mean_cpu_per_mutant_of_the_last_run(tmp_path):
    (tmp_path / "shard-0").mkdir()
    (tmp_path / "shard-0" / mutation.TIMINGS).write_text(
        '{"module": "m.py", "cpu": 2.0}\n{"module": "m.py", "cpu": 4.0}\nnot json\n')
    assert mutation.measured_costs(tmp_path) == {"m.py": 3.0}


def test_a_session_still_running_at_the_deadline_is_stopped_with_what_it_started():
    import subprocess
    import sys
    import time

    # A session that starts a child (its test command) and never ends.
    process = subprocess.Popen([sys.executable, "-c",
                                "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
                                "'import time; time.sleep(60)']); time.sleep(60)"], start_new_session=True)
    started = time.monotonic()
    cpu, finished = mutation._wait_until(process, started + 1.0)
    assert not finished and cpu == 0.0
    mutation._stop_group(process)
    assert time.monotonic() - started < 15
    assert process.returncode is not None

    def alive_in_group() -> list[int]:
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == process.pid and fields[0] != "Z":  # process group; zombies are dead
                found.append(int(stat.parent.name))
        return found

    waited = time.monotonic() + 5
    while alive_in_group() and time.monotonic() < waited:
        time.sleep(0.1)
    assert alive_in_group() == []
    done = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    cpu, finished = mutation._wait_until(done, time.monotonic() + 30)
    assert finished and cpu > 0


def test_the_map_stores_each_selector_list_once_and_gives_a_module_back_whole():
    lines = {"a.py": {"1": ["t::x", "t::y"], "2": ["t::x", "t::y"], "3": ["*"]}, "b.py": {"7": ["t::x", "t::y"]}}
    saved = mutation.pack_lines(lines)
    assert len(saved["selector_sets"]) == 2
    assert mutation.module_lines(saved, "a.py") == {"a.py": lines["a.py"]}
    assert mutation.module_lines(saved, "b.py") == {"b.py": lines["b.py"]}
    assert mutation.module_lines(saved, "c.py") == {"c.py": {}}


def test_tests_sharing_a_broader_scoped_fixture_instance_share_its_coverage():
    shared = {"t.py::a": ["module:t.py:mutated_run"], "t.py::b": ["module:t.py:mutated_run"],
              "u.py::c": ["module:u.py:mutated_run"], "u.py::d": []}
    groups = mutation.instance_groups(shared)
    assert groups["t.py::a"] == ["t.py::a", "t.py::b"]
    # The same fixture in another file is another instance; no fixture, no group.
    assert groups["u.py::c"] == ["u.py::c"] and "u.py::d" not in groups
    assert mutation.line_selectors({"t.py::a"}, True, groups) == ["t.py::a", "t.py::b"]


def test_the_contexts_plugin_names_repository_fixtures_by_scope_and_where_they_are_shared(pytester=None):
    from types import SimpleNamespace

    from tools import mutation_contexts

    def definition(scope, func, baseid=""):
        return [SimpleNamespace(scope=scope, func=func, baseid=baseid)]

    def ours():
        pass

    item = SimpleNamespace(nodeid="tests/test_x.py::TestY::test_z", _fixtureinfo=SimpleNamespace(name2fixturedefs={
        "session_thing": definition("session", ours), "module_thing": definition("module", ours),
        "class_thing": definition("class", ours), "per_test": definition("function", ours),
        "tmp_path_factory": definition("session", pytest_fixture_from_site_packages()),
    }))
    assert mutation_contexts.shared_instances(item) == [
        "class:tests/test_x.py::TestY:class_thing", "module:tests/test_x.py:module_thing", "session::session_thing"]


def pytest_fixture_from_site_packages():
    import _pytest.tmpdir

    return _pytest.tmpdir.tmp_path_factory.__wrapped__ if hasattr(_pytest.tmpdir.tmp_path_factory, "__wrapped__") \
        else _pytest.tmpdir.TempPathFactory.getbasetemp


def test_the_baseline_is_the_test_files_running_the_most_mutated_lines():
    saved = mutation.pack_lines({"a.py": {"1": ["t/x.py::a", "t/y.py::b"], "2": ["t/x.py::c"], "3": ["*"]},
                                 "b.py": {"1": ["t/z.py"], "2": ["t/x.py::d"]}})
    assert mutation.baseline_tests(saved) == ["t/x.py", "t/y.py"]


def test_a_shard_whose_tests_fail_without_a_mutant_stops_the_run(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_env.py").write_text("def test_needs_a_file():\n    assert open('missing.txt')\n")
    with pytest.raises(SystemExit, match="every mutant would count as killed"):
        mutation.check_baseline(tmp_path, ["tests/test_env.py"])
    (tmp_path / "missing.txt").write_text("here")
    mutation.check_baseline(tmp_path, ["tests/test_env.py"])


def test_a_shard_has_the_virtualenv_the_program_declares(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (work / mutation.COVERAGE_MAP).write_text("{}")
    root = tmp_path / "repo"
    (root / ".venv").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text("runtime: {name: python, options: {virtualenv: .venv}}\n")
    monkeypatch.setattr(mutation, "ROOT", root)
    shard = mutation._prepare_shard(work, 0)
    assert (shard / ".venv").resolve() == (root / ".venv").resolve()


def test_modules_are_planned_in_parallel_worker_processes(monkeypatch, tmp_path):
    # Generating a module's mutants is CPU work: `--jobs` processes share the modules, and the
    # plans come back by module whatever order they finish in.
    import os

    def plan(shard, module, sample, timeout):
        return {"planned": len(module), "sample": sample, "pid": os.getpid()}

    monkeypatch.setattr(mutation, "plan_module", plan)
    samples = {f"pkg/m{i}.py": i / 10 for i in range(6)}
    plans = mutation.plan_modules(tmp_path, samples, 1.0, jobs=2)
    assert list(plans) == sorted(samples)
    assert all(plans[m]["planned"] == len(m) and plans[m]["sample"] == samples[m] for m in samples)
    assert os.getpid() not in {p["pid"] for p in plans.values()}
    assert mutation.plan_modules(tmp_path, samples, 1.0, jobs=1)["pkg/m1.py"]["pid"] == os.getpid()


def test_a_module_costs_its_measured_mean_pulled_towards_its_targets_mean():
    pd, other, pack = "policy_documents/a.py", "policy_documents/b.py", f"{mutation.PACK}/c.py"
    table = {pd: (10.0, 5), other: (190.0, 5)}  # target mean 20 CPU-s a mutant
    costs = mutation.estimated_costs([pd, other, pack, "policy_documents/new.py"], table)
    over = mutation.OVERHEAD_SECONDS
    assert costs[pd] == pytest.approx((10.0 + mutation.SHRINK * 20.0) / (5 + mutation.SHRINK) + over)
    assert costs[other] == pytest.approx((190.0 + mutation.SHRINK * 20.0) / (5 + mutation.SHRINK) + over)
    assert costs["policy_documents/new.py"] == pytest.approx(20.0 + over)  # never measured: the target's mean
    assert costs[pack] == pytest.approx(mutation.DEFAULT_COST[mutation.PACK] + over)  # no target data
    # The last run's timings of a module replace the table's.
    rerun = mutation.estimated_costs([pd], table, {pd: (100.0, 5)})
    assert rerun[pd] > costs[pd]


def test_the_sample_shrinks_by_one_scale_until_the_busiest_shard_fits():
    a, b = "policy_documents/a.py", f"{mutation.PACK}/b.py"
    draws = {a: [0.1, 0.3, 0.5, 0.7, 0.9], b: [0.2, 0.4, 0.6, 0.8]}
    costs = {a: 10.0, b: 10.0}
    assert mutation.fit_scale(draws, costs, 50.0, jobs=2) == 1.0  # 50 and 40: everything fits
    scale = mutation.fit_scale(draws, costs, 30.0, jobs=2)
    # Below the scale: a's 0.1, 0.3, 0.5 and b's 0.2, 0.4, 0.6 (30 CPU-s each, one a shard); the
    # next draw, a's 0.7, would put 40 on a shard.
    assert 0.6 < scale <= 0.7 and scale < 0.6 + 1e-9
    kept = {m: sum(d < scale for d in ds) for m, ds in draws.items()}
    assert kept == {a: 3, b: 3}
    assert max(mutation.assign_shards(kept, costs, 2)[1]) <= 30.0
    assert mutation.fit_scale(draws, costs, 5.0, jobs=2) == 0.0  # not even one mutant fits
    assert mutation.fit_scale(draws, costs, 100.0, jobs=1) == 1.0


def test_a_listed_equivalent_is_recognised_before_it_runs():
    source = ["def f(x):", "    if x == 1:", "        return 2"]
    key = mutation.listed_equivalent_key("pkg/m.py", "core/ReplaceComparisonOperator_Eq_Is", "f", source, 2)
    # The same key the report makes of the survivor's diff, so one file entry serves both.
    assert key == mutation.equivalent_key("pkg/m.py", "core/ReplaceComparisonOperator_Eq_Is", "f",
                                          "-    if x == 1:\n+    if x is 1:")
    assert mutation.listed_equivalent_key("pkg/m.py", "core/NumberReplacer", None, source, 1) == \
        "pkg/m.py core/NumberReplacer <module> def f(x):"


def test_the_cost_table_replaces_the_modules_a_run_measured(tmp_path):
    table = tmp_path / "costs.json"
    mutation.write_cost_table({"policy_documents/a.py": (4.0, 2), "components/b.py": (60.0, 1)}, table)
    (tmp_path / "shard-1").mkdir()
    (tmp_path / "shard-1" / mutation.TIMINGS).write_text(
        '{"module": "components/b.py", "cpu": 10.0}\n{"module": "components/b.py", "cpu": 30.0}\n')
    mutation.write_cost_table(mutation.measured_totals(tmp_path), table)
    assert mutation.load_cost_table(table) == {"policy_documents/a.py": (4.0, 2), "components/b.py": (40.0, 2)}
    assert mutation.load_cost_table(tmp_path / "missing.json") == {}


def test_the_committed_cost_table_measures_modules_of_every_target():
    table = mutation.load_cost_table()
    modules = set(mutation.target_modules())
    assert set(table) <= modules, set(table) - modules  # a renamed module's entry would be dead
    for target in mutation.TARGETS:
        assert sum(n for m, (_, n) in table.items() if m.startswith(target)) >= 10 or target == "components"
        assert any(m.startswith(target) for m in table), target


def test_only_an_equivalent_its_entry_names_alone_is_left_out_of_the_run():
    entry = "pkg/m.py core/NumberReplacer f y = x[0][1]"
    keys = {"j1": entry, "j2": entry, "j3": "pkg/m.py core/NumberReplacer f z = 2", "j4": "pkg/m.py core/AddNot f z = 2"}
    # x[0][1] has two number mutants: the entry cannot say which one was judged, so both run.
    assert mutation.unambiguous_equivalents(keys, {entry, "pkg/m.py core/NumberReplacer f z = 2"}) == {"j3"}
    assert mutation.unambiguous_equivalents(keys, set()) == set()
