"""The IAM evaluation engine: `@cloud-copilot/iam-simulate` (AGPL-3.0-or-later) on Node.js, run
as a separate development-time process (`engine/simulate.mjs`). It is installed from the pinned
`engine/package-lock.json` by `npm ci` (the Makefile's set-up) and never imported into, or
shipped with, the deployed program."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ENGINE_DIR = Path(__file__).with_name("engine")


class EngineError(RuntimeError):
    """The engine is not installed, or its process failed."""


def run_simulations(simulations: Sequence[dict[str, Any]], engine_dir: Path | None = None,
                    timeout: float = 120) -> tuple[str, list[dict[str, Any]]]:
    """Run every simulation in one Node.js process; returns (engine name@version, results)."""
    directory = Path(engine_dir or ENGINE_DIR)
    if not (directory / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
        raise EngineError(f"the IAM engine is not installed: run `npm ci` in {directory} (make prove does)")
    node = shutil.which("node")
    if node is None:
        raise EngineError("node (Node.js 20 or later) is not on PATH")
    proc = subprocess.run([node, str(directory / "simulate.mjs")], input=json.dumps({"simulations": list(simulations)}),
                          capture_output=True, text=True, cwd=directory, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise EngineError(f"the IAM engine failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    data = json.loads(proc.stdout)
    return data["engine"], data["results"]
