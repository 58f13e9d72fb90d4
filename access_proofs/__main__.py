"""`python -m access_proofs [--plan build/preview/plan.json] [--scenarios FILE] [--out DIR]`.

Exit codes: 0 every scenario as expected; 1 a mismatch; 2 bad input (a scenario naming what
the plan does not have, a malformed catalog, no plan, no engine)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from access_proofs.catalog import CATALOG_FILE, CatalogError, load_catalog
from access_proofs.engine import EngineError
from access_proofs.plan_index import PlanError
from access_proofs.prove import prove
from access_proofs.report import as_json, markdown, table


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
    try:
        run = prove(json.loads(args.plan.read_text()), load_catalog(args.scenarios))
    except (CatalogError, PlanError, EngineError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = args.out or args.plan.parent
    out.mkdir(parents=True, exist_ok=True)
    (out / "access-proofs.md").write_text(markdown(run))
    (out / "access-proofs.json").write_text(as_json(run))
    print(table(run))
    print(f"wrote {out / 'access-proofs.md'}, {out / 'access-proofs.json'}")
    return 0 if run.ok else 1


if __name__ == "__main__":
    sys.exit(main())
