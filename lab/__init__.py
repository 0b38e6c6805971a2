"""The lab: benchmarks, chaos, load and evaluation around the product, never part of it.

Nothing under `services/` or `schemas/` imports this package (tests/test_architecture.py checks
it), the runtime image does not ship it, and `qm` gains its commands (`qm bench`, `qm chaos`,
`qm eval`) through the `quartermaster.cli` entry point only when it is installed.
"""
