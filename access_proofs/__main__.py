"""`python -m access_proofs [--plan build/preview/plan.json] [--scenarios FILE] [--out DIR]`.

Exit codes: 0 every scenario as expected; 1 a mismatch, or a guardrail with an SCP or
resource-policy side without an allowed and a denied scenario (access_proofs.coverage); 2 bad input (a scenario naming what
the plan does not have, a malformed catalog, no plan, no engine)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from access_proofs.catalog import CATALOG_FILE, CatalogError, load_catalog
from access_proofs.coverage import gaps
from access_proofs.engine import EngineError
from access_proofs.plan_index import PlanError
from access_proofs.prove import prove
from access_proofs.report import as_json, gap_lines, markdown, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m access_proofs",
                                     description="Evaluate the access-proof scenarios against an offline-preview plan.")
    parser.add_argument("--plan", type=Path, default=Path("build/preview/plan.json"))
    parser.add_argument("--scenarios", type=Path, default=CATALOG_FILE)
    parser.add_argument("--out", type=Path, default=None, help="output directory (default: the plan's)")
    args = parser.parse_args(argv)
    if not args.plan.is_file():
        print(f"error: no plan at {args.plan}: run `make preview` first", file=sys.stderr)
        return 2
    plan = json.loads(args.plan.read_text())
    try:
        run = prove(plan, load_catalog(args.scenarios))
    except (CatalogError, PlanError, EngineError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    missing = gaps(plan, run)
    out = args.out or args.plan.parent
    out.mkdir(parents=True, exist_ok=True)
    (out / "access-proofs.md").write_text(markdown(run, missing))
    (out / "access-proofs.json").write_text(as_json(run, missing))
    print(table(run))
    print("\n".join(gap_lines(missing)) or "every guardrail with an SCP or resource-policy side has an allowed and a denied scenario")
    print(f"wrote {out / 'access-proofs.md'}, {out / 'access-proofs.json'}")
    return 0 if run.ok and not missing else 1


if __name__ == "__main__":
    sys.exit(main())
