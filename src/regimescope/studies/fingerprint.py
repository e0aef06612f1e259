"""The fingerprint of the code a study measures and decides with, which keys its folder.

A study's folder is reused only while that code is unchanged. "That code" is the import
closure of the study's module, walked statically (``ast``) through the measuring and
deciding modules: ``studies/`` (the registry ``studies/__init__.py`` excepted),
``instruments/``, ``sampling.py``, ``sampling_tokens.py`` and ``prefix_attention.py``.
So editing study 6's figures, or adding study 7, leaves the verdicts of studies 1-5 valid,
while editing ``stats.py`` or the sampler re-measures every study that uses them.
Each file counts by its syntax tree without docstrings, so comments, docstrings and layout
(a measured wall time written into a study's docstring, say) do not re-key its folder.
Training code is not in it: training runs are keyed by their own configs.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent  # src/regimescope
MEASURING = ("studies", "instruments")  # sub-packages whose modules measure or decide
MEASURING_FILES = ("sampling.py", "sampling_tokens.py", "prefix_attention.py")
REGISTRY = PACKAGE / "studies" / "__init__.py"


def module_file(name: str) -> Path | None:
    """The source file of ``regimescope.*`` module ``name`` if it measures or decides."""
    parts = name.split(".")
    if parts[0] != "regimescope" or len(parts) < 2:
        return None
    stem = PACKAGE.joinpath(*parts[1:])
    path = stem.with_suffix(".py") if stem.with_suffix(".py").is_file() else stem / "__init__.py"
    measuring = parts[1] in MEASURING or path.name in MEASURING_FILES
    return path if measuring and path.is_file() and path != REGISTRY else None


def imported_names(path: Path) -> set[str]:
    """Every module name ``path`` imports, ``from a import b`` giving both a and a.b."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def closure(start: Path) -> list[Path]:
    """``start`` and every measuring module it reaches through imports, sorted."""
    seen, todo = {start}, [start]
    while todo:
        for name in imported_names(todo.pop()):
            found = module_file(name)
            if found is not None and found not in seen:
                seen.add(found)
                todo.append(found)
    return sorted(seen)


@functools.cache
def study_fingerprint(module: str) -> str:
    """sha256 (12 hex digits) over the file names and bytes of the closure of the study
    defined in ``module`` (a built-in study or a plugin anywhere on the path)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ValueError(f"cannot find the source of study module {module!r}")
    return files_digest(closure(Path(spec.origin).resolve()))


def files_digest(paths: list[Path]) -> str:
    """sha256 (12 hex digits) over each file's name (relative to the package) and code."""
    digest = hashlib.sha256()
    for path in paths:
        label = path.relative_to(PACKAGE) if path.is_relative_to(PACKAGE) else Path(path.name)
        digest.update(str(label).encode() + b"\0" + code_text(path).encode() + b"\0")
    return digest.hexdigest()[:12]


def code_text(path: Path) -> str:
    """The syntax tree of ``path`` as text, docstrings removed; comments and layout never
    reach the tree. Tied to the Python version's ``ast.dump``, so a new Python re-keys."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, DOCUMENTED) and body and is_docstring(body[0]):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )
