"""The architecture, checked from the source: services never import each other, only the
planner's solver module touches OR-Tools, and the product never imports the lab."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("parser", "planner", "gate")  # the deployed services; cli and common serve them
# The operator CLI reads what the services decide with their own pure rules (the gate's risk
# and quorum rules, the parser's review-history fold, the planner's plan diff): one rule, one
# implementation; never a handler, an app or a model backend. It reads their settings classes
# too (qm config, qm status): one way in for configuration, so it sees what they would run with;
# and it manages the parser's pinned model files (qm model).
CLI_MAY_USE = {
    "services.gate.rules",
    "services.parser.review",
    "services.planner.diff",
    "services.parser.modelstore",
    "services.gate.settings",
    "services.parser.settings",
    "services.planner.settings",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # The full name of each thing imported: `from services.parser import modelstore`
            # imports services.parser.modelstore, not all of services.parser.
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _modules(*parts: str) -> list[Path]:
    return sorted((ROOT.joinpath(*parts)).rglob("*.py"))


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service: str) -> None:
    others = [f"services.{s}" for s in (*SERVICES, "cli") if s != service]
    wrong = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in _modules("services", service)
        for name in _imports(path)
        if any(_under(name, other) for other in others)
    }
    assert not wrong, wrong


def test_common_and_schemas_import_no_service() -> None:
    wrong = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in [*_modules("services", "common"), *_modules("schemas")]
        for name in _imports(path)
        if any(_under(name, f"services.{s}") for s in (*SERVICES, "cli"))
    }
    assert not wrong, wrong


def test_the_cli_uses_only_the_services_pure_rules() -> None:
    wrong = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in _modules("services", "cli")
        for name in _imports(path)
        if any(_under(name, f"services.{s}") for s in SERVICES)
        and not any(_under(name, allowed) for allowed in CLI_MAY_USE)
    }
    assert not wrong, wrong


def test_only_the_solver_module_imports_or_tools() -> None:
    users = {
        str(path.relative_to(ROOT))
        for path in [*_modules("services"), *_modules("schemas")]
        if any(_under(name, "ortools") for name in _imports(path))
    }
    assert users == {"services/planner/solver.py"}


def test_the_product_never_imports_the_lab() -> None:
    wrong = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in [*_modules("services"), *_modules("schemas")]
        for name in _imports(path)
        if _under(name, "lab")
    }
    assert not wrong, wrong


def test_the_checks_see_imports_at_all() -> None:
    """Guard against a check that passes because it reads nothing."""
    solver = _imports(ROOT / "services" / "planner" / "solver.py")
    assert any(_under(name, "ortools") for name in solver)
    assert any(_under(name, "lab") for p in _modules("lab", "cli") for name in _imports(p))


def _environment_reads(path: Path) -> set[str]:
    """Names read from the environment directly: os.environ[...], os.environ.get(...),
    os.getenv(...), with a literal name."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        target: ast.expr | None = None
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            target = node.slice
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in (
            "os.environ.get",
            "os.getenv",
            "os.environ.setdefault",
        ):
            target = node.args[0] if node.args else None
        if isinstance(target, ast.Constant) and isinstance(target.value, str):
            found.add(target.value)
    return found


def test_no_product_module_reads_a_project_variable_around_the_settings() -> None:
    """One way in for configuration: every QM_* / KAFKA_* variable through the settings."""
    wrong = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in _modules("services")
        if path.name != "settings.py"
        for name in _environment_reads(path)
        if name.startswith(("QM_", "KAFKA_"))
    }
    assert not wrong, wrong
    # The check sees reads at all: the lab reads the bench's own variables directly.
    assert any(
        name.startswith("QM_") for path in _modules("lab") for name in _environment_reads(path)
    )
