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


def _imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def _package(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ]", requirement, maxsplit=1)[0].lower().replace("-", "_")


def test_bench_only_packages_are_in_the_bench_extra_and_nothing_else_needs_them() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    bench = {_package(r) for r in extras["bench"]}
    assert {"obstore", "uvicorn"} <= bench
    assert not bench & {_package(r) for r in extras["dev"]}
    assert not bench & {_package(r) for r in PYPROJECT["project"]["dependencies"]}
    users = {
        str(path.relative_to(ROOT)): sorted(_imported(path) & bench)
        for folder in ("src", "tests", "testbed")
        for path in (ROOT / folder).rglob("*.py")
    }
    assert {path: names for path, names in users.items() if names} == {}
    assert "bench" in recipe("$(VENV)/.installed-bench")  # make bench installs the extra
