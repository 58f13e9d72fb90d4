"""Access proofs: the scenario catalog (`scenarios.yaml`) evaluated against the offline
preview's plan by a maintained IAM engine, run as a separate development-time process.

`python -m access_proofs` (`make prove`) prints the table, writes `access-proofs.md` and
`access-proofs.json` next to the plan, and exits non-zero on any mismatch.
"""
