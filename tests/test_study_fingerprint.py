"""Keys that cover what measures: a study's folder and a training run re-key when any code
that produces their numbers changes, and only then."""

from pathlib import Path

import pytest

from regimescope import fingerprint
from regimescope.studies import STUDIES
from regimescope.studies.base import code_fingerprint

SOURCE = Path(fingerprint.__file__).resolve().parent  # src/regimescope


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A miniature regimescope: a study package (relative imports), shared statistics, an
    instrument, the sampler, a task, a training loop, an organism and the report."""
    root = tmp_path / "regimescope"
    files = {
        "studies/__init__.py": "from regimescope.studies import toy, other\n",
        "studies/stats.py": "def mean(x):\n    return sum(x) / len(x)\n",
        "studies/toy/__init__.py": (
            '"""Study: a toy."""\nfrom .analysis import effect\n'
            "from regimescope.regimes import rl\nTHRESHOLD = 0.05  # a rule\n"
        ),
        "studies/toy/analysis.py": (
            "from regimescope.studies.stats import mean\nfrom regimescope.instruments import cov\n"
        ),
        "studies/toy/outputs.py": "from ..stats import mean\n",
        "studies/other/__init__.py": "from regimescope.studies import stats\n",
        "instruments/cov.py": "from regimescope.sampler import decode\n",
        "instruments/unused.py": "X = 1\n",
        "sampler/__init__.py": "",
        "sampler/decode.py": "from . import tokens\n",
        "sampler/tokens.py": "X = 1\n",
        "regimes/__init__.py": "",
        "regimes/rl.py": (
            "from regimescope.regimes.objectives import grpo\nfrom regimescope.tasks import cd\n"
            "from regimescope.organisms import presets\nfrom regimescope.store import rundir\n"
        ),
        "regimes/objectives.py": "def grpo():\n    return 1\n",
        "tasks/cd.py": "VERSION = 3\n",
        "organisms/presets.py": "WIDTH = 64\n",
        "store/rundir.py": "X = 1\n",
        "report/html.py": "X = 1\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    monkeypatch.setattr(fingerprint, "PACKAGE", root)
    monkeypatch.setattr(fingerprint, "REGISTRY", root / "studies" / "__init__.py")
    return root


def key(root, start="studies/toy/__init__.py") -> str:
    return fingerprint.files_digest(fingerprint.closure(root / start))


def test_the_closure_follows_relative_imports_into_every_measuring_package(package):
    found = {
        str(p.relative_to(package))
        for p in fingerprint.closure(package / "studies/toy/__init__.py")
    }
    assert found == {
        "studies/toy/__init__.py",
        "studies/toy/analysis.py",
        "studies/stats.py",
        "instruments/cov.py",
        "sampler/__init__.py",
        "sampler/decode.py",
        "sampler/tokens.py",  # reached by a relative import
        "regimes/__init__.py",
        "regimes/rl.py",
        "regimes/objectives.py",
        "tasks/cd.py",
        "organisms/presets.py",
    }


@pytest.mark.parametrize(
    ("edited", "changes"),
    [
        ("studies/toy/analysis.py", True),
        ("studies/stats.py", True),
        ("instruments/cov.py", True),
        ("sampler/tokens.py", True),
        ("tasks/cd.py", True),  # a task's code or version
        ("regimes/objectives.py", True),  # an objective the study trains with
        ("organisms/presets.py", True),
        ("studies/toy/outputs.py", False),  # not imported by the study's module
        ("studies/other/__init__.py", False),  # another study
        ("studies/__init__.py", False),  # the registry: adding a study changes nothing
        ("instruments/unused.py", False),
        ("store/rundir.py", False),  # bookkeeping, not measuring
        ("report/html.py", False),
    ],
)
def test_an_edit_re_keys_exactly_the_code_that_uses_it(package, edited, changes):
    before = key(package)
    with (package / edited).open("a") as file:
        file.write("\nEDITED = 1\n")
    assert (key(package) != before) == changes


def test_a_training_run_re_keys_when_its_objective_changes(package):
    before = key(package, "regimes/rl.py")
    (package / "regimes/objectives.py").write_text("def grpo():\n    return 2\n")
    assert key(package, "regimes/rl.py") != before


@pytest.mark.parametrize(
    ("old", "new", "changes"),
    [
        ('"""Study: a toy."""', '"""Measured: 37 min. Study: a toy."""', False),
        ("THRESHOLD = 0.05  # a rule", "THRESHOLD = 0.05  # a comment", False),
        ("\nfrom .analysis", "\n\n\nfrom .analysis", False),
        ("THRESHOLD = 0.05", "THRESHOLD = 0.06", True),  # code, not prose
    ],
)
def test_docstrings_comments_and_layout_do_not_re_key(package, old, new, changes):
    path = package / "studies/toy/__init__.py"
    before = key(package)
    path.write_text(path.read_text().replace(old, new, 1))
    assert (key(package) != before) == changes


def test_a_string_that_is_not_a_docstring_still_counts(package):
    before = key(package)
    with (package / "studies/stats.py").open("a") as file:
        file.write('\nRULE = "a rule written before the data"\n')
    assert key(package) != before


def test_an_edit_is_seen_by_a_long_lived_process(tmp_path, monkeypatch):
    """No cache freezes the key for a process's life (a notebook, a worker)."""
    module = tmp_path / "my_study.py"
    module.write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = fingerprint.module_fingerprint("my_study")
    module.write_text("X = 2\n")
    assert fingerprint.module_fingerprint("my_study") != before


def test_every_registered_study_has_its_own_key():
    keys = {name: code_fingerprint(study) for name, study in STUDIES.items()}
    assert len(set(keys.values())) == len(keys) and all(len(k) == 12 for k in keys.values())


def test_the_real_training_loops_are_keyed_by_their_code():
    closure = fingerprint.closure(SOURCE / "regimes" / "rl.py")
    names = {str(p.relative_to(SOURCE)) for p in closure}
    assert {"regimes/rl.py", "regimes/objectives.py", "sampler/decode.py"} <= names
    assert any(n.startswith("tasks/") for n in names)


def test_an_edit_of_the_same_size_in_the_same_instant_is_seen(tmp_path):
    from regimescope.fingerprint import code_text, imported_names

    path = tmp_path / "plugin.py"
    path.write_text("import a\nx = 1\n")
    before = code_text(path), imported_names(path)
    path.write_text("import b\nx = 2\n")  # same size, likely the same mtime tick
    assert code_text(path) != before[0] and imported_names(path) == {"b"} != before[1]
    assert code_text(path) == code_text(path)  # cached, and still the same answer
