"""The developer loop's own configuration: the Makefile's targets and the tool settings in
pyproject.toml point at what exists and clean up what the tools leave."""

from __future__ import annotations

import ast
import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def recipe(target: str) -> str:
    """The recipe lines of ``target`` in the Makefile (without the rule line)."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{re.escape(target)}:[^\n]*\n((?:\t[^\n]*\n)+)", text, re.MULTILINE)
    assert match, f"no {target} target in the Makefile"
    return match.group(1)


def test_import_linter_contracts_name_files_that_exist() -> None:
    contracts = PYPROJECT["tool"]["importlinter"]["contracts"]
    named = [f for c in contracts for f in re.findall(r"[\w./-]+\.md\b", c["name"])]
    assert named, "the layers contract names the page that draws the layers"
    missing = [f for f in named if not (ROOT / f).is_file()]
    assert not missing, f"import-linter contract names point at missing files: {missing}"


def test_make_clean_removes_every_tool_cache(tmp_path: Path) -> None:
    """The recipe, run in a folder holding what the tools leave, removes all of it and
    keeps the demo deployment."""
    (tmp_path / "Makefile").write_text((ROOT / "Makefile").read_text())
    made = [
        ".venv",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".import_linter_cache",
        "src/pkg/__pycache__",
        "tests/__pycache__",
        "build",
        "dist",
    ]
    for folder in made:
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "x").write_text("x")
    (tmp_path / "domicile-data").mkdir()
    subprocess.run(["make", "-s", "clean"], cwd=tmp_path, check=True, capture_output=True)
    assert [f for f in made if (tmp_path / f).exists()] == []
    assert (tmp_path / "domicile-data").is_dir() and (tmp_path / "src/pkg").is_dir()


def _imported(path: Path, wanted: set[str]) -> set[str]:
    """Which of ``wanted`` the module at ``path`` imports (parsed only if it names one)."""
    text = path.read_text()
    if not any(name in text for name in wanted):
        return set()
    tree = ast.parse(text, filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names & wanted


def _package(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ]", requirement, maxsplit=1)[0].lower().replace("-", "_")


def test_bench_only_packages_are_in_the_bench_extra_and_nothing_else_needs_them() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    bench = {_package(r) for r in extras["bench"]}
    assert {"obstore", "uvicorn"} <= bench
    assert not bench & {_package(r) for r in extras["dev"]}
    assert not bench & {_package(r) for r in PYPROJECT["project"]["dependencies"]}
    users = {
        str(path.relative_to(ROOT)): sorted(_imported(path, bench))
        for folder in ("src", "tests", "testbed")
        for path in (ROOT / folder).rglob("*.py")
    }
    assert {path: names for path, names in users.items() if names} == {}
    assert "bench" in recipe("$(VENV)/.installed-bench")  # make bench installs the extra


def _marked(node: ast.FunctionDef, marker: str) -> bool:
    return any(marker in ast.unparse(d) for d in node.decorator_list)


def test_every_test_that_renders_with_chromium_is_marked() -> None:
    unmarked = []
    for path in (ROOT / "tests").rglob("test_*.py"):
        text = path.read_text()
        if "screenshot(" not in text:
            continue
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
                continue
            calls = {
                n.func.id
                for n in ast.walk(node)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
            }
            if "screenshot" in calls and not _marked(node, "chromium"):
                unmarked.append(f"{path.relative_to(ROOT)}::{node.name}")
    assert unmarked == [], "mark these @pytest.mark.chromium (make check leaves them out)"


def test_make_check_is_lint_and_the_quick_tests() -> None:
    text = (ROOT / "Makefile").read_text()
    assert re.search(r"^check: lint$", text, re.MULTILINE)
    check = recipe("check")
    assert "--hypothesis-profile=quick" in check and "-n 2" in check
    selection = re.search(r"^CHECK_TESTS := (.*)$", text, re.MULTILINE)
    assert selection is not None
    assert selection.group(1) == (
        "not servers and not postgres and not chromium and not agejs and not slow"
    )
    assert "-u DOMICILE_TEST_CATALOG_URL" in check  # no PostgreSQL
    markers = " ".join(PYPROJECT["tool"]["pytest"]["ini_options"]["markers"])
    for marker in ("servers:", "postgres:", "chromium:", "slow:"):
        assert marker in markers
