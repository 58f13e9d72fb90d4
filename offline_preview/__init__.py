"""Offline preview: run a Pulumi Python program stack by stack under Pulumi's mock monitor,
check it with the real policy pack, and write a plan, a guardrail report and diagrams.

No Pulumi CLI, backend, credentials or network is needed. Run `python -m offline_preview --help`.
Modules: `engine` (one stack under the mock monitor), `mocks` (realistic AWS answers),
`preview` (every stack in dependency order, with policy analysis), `plan`, `report`,
`architecture` (outputs), `secure_config` (`secure:` values of the passphrase provider),
`cli` (the command, installed as `offline-preview`).
"""
