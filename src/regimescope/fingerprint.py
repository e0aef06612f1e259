"""Fingerprints of the code that produces a number, which key the run store's folders.

A folder is reused only while the code that made it is unchanged. "That code" is the
import closure of one module, walked statically (``ast``, relative imports included)
through the sub-packages whose code can change a number: ``studies/`` (the registry
``studies/__init__.py`` excepted), ``instruments/``, ``sampler/``, ``tasks/``,
``regimes/`` and ``organisms/``. So:

- a study's folder (``study_fingerprint`` of its module) re-keys when its analysis, the
  instruments, the sampler, a task (its generator, verifier or version) or a training
  loop it calls changes, and not when another study is edited or added;
- a training run (``module_fingerprint`` of ``regimes.pretrain``, ``regimes.rl``, ...)
  re-keys when an objective, a loop, a task or the organism code changes, so a fixed
  objective never reuses checkpoints trained under the old one.

Each file counts by its syntax tree without docstrings, so comments, docstrings and layout
(a measured wall time written into a study's docstring, say) re-key nothing. A file is
read at every call and parsed once per content, so a long-lived process (a notebook, a
Ray worker) sees an edit at once (a demo asks for fingerprints a few hundred times: about
0.2 s of parsing each, uncached).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent  # src/regimescope
MEASURING = ("studies", "instruments", "sampler", "tasks", "regimes", "organisms")
REGISTRY = PACKAGE / "studies" / "__init__.py"


def module_file(name: str) -> Path | None:
    """The source file of ``regimescope.*`` module ``name`` if it can change a number."""
    parts = name.split(".")
    if parts[0] != "regimescope" or len(parts) < 2 or parts[1] not in MEASURING:
        return None
    stem = PACKAGE.joinpath(*parts[1:])
    path = stem.with_suffix(".py") if stem.with_suffix(".py").is_file() else stem / "__init__.py"
    return path if path.is_file() and path != REGISTRY else None


def module_name(path: Path) -> str:
    """``regimescope.a.b`` for ``PACKAGE/a/b.py`` (and for ``PACKAGE/a/b/__init__.py``)."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(("regimescope", *(parts[:-1] if parts[-1] == "__init__" else parts)))


def imported_names(path: Path) -> set[str]:
    """Every module name ``path`` imports, ``from a import b`` giving both a and a.b;
    relative imports are resolved against ``path``'s own package."""
    return set(parsed(path)[0])


def names_in(tree: ast.Module, path: Path) -> frozenset[str]:
    """``imported_names`` of the parsed ``tree`` of ``path``."""
    names: set[str] = set()
    package = None
    if path.is_relative_to(PACKAGE):
        package = module_name(path).split(".")
        package = package if path.name == "__init__.py" else package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            elif package is not None:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                continue
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return frozenset(names)


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


def module_fingerprint(module: str) -> str:
    """sha256 (12 hex digits) over the closure of ``module`` (a regimescope module or a
    plugin anywhere on the path)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ValueError(f"cannot find the source of module {module!r}")
    return files_digest(closure(Path(spec.origin).resolve()))


study_fingerprint = module_fingerprint  # a study is keyed by the closure of its module


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
    return parsed(path)[1]


def parsed(path: Path) -> tuple[frozenset[str], str]:
    """(``imported_names``, ``code_text``) of ``path``, parsed once per content of the file."""
    return parse_source(path, path.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1024)
def parse_source(path: Path, source: str) -> tuple[frozenset[str], str]:
    """``parsed`` of ``path`` holding ``source`` (the cache key is the text itself)."""
    tree = ast.parse(source)
    names = names_in(tree, path)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, DOCUMENTED) and body and is_docstring(body[0]):
            node.body = body[1:] or [ast.Pass()]
    return names, ast.dump(tree)


DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )
