"""Every distribution that grader/ and web/ import is declared in pyproject.toml."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions, requires

from conftest import ROOT


def _imported_top_level_names() -> set[str]:
    names = set()
    for path in [*ROOT.glob("grader/**/*.py"), *ROOT.glob("web/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"grader", "web", "__future__"}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_distribution_is_declared():
    # extras count: the semantic matcher's model package is optional, and said to be missing
    declared = {
        _normal(re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0])
        for requirement in requires("flashgrade") or []
        if "extra ==" not in requirement or 'extra == "semantic"' in requirement
    }
    distributions = packages_distributions()
    undeclared = {
        name
        for name in _imported_top_level_names()
        if not {_normal(d) for d in distributions.get(name, [name])} & declared
    }
    assert undeclared == set()
