"""A study's folder key covers exactly the code it measures and decides with."""

from __future__ import annotations

import shutil

import pytest

from regimescope.studies import STUDIES, fingerprint
from regimescope.studies.base import code_fingerprint

SOURCE = fingerprint.PACKAGE


def names(paths) -> set[str]:
    return {str(p.relative_to(fingerprint.PACKAGE)) for p in paths}


def test_the_closure_of_a_study_holds_its_modules_and_the_shared_measuring_code():
    found = names(fingerprint.closure(SOURCE / "studies" / "rl_catalyst.py"))
    assert {
        "studies/rl_catalyst.py",
        "studies/rl_catalyst_parts.py",
        "studies/stats.py",
        "studies/verdict.py",
        "instruments/passk_run.py",
        "sampling.py",
        "sampling_tokens.py",
    } <= found
    assert "studies/__init__.py" not in found  # the registry: adding a study changes nothing
    assert not any(n.startswith(("studies/two_phase", "regimes/", "tasks/")) for n in found)


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A copy of the measuring code, which the fingerprint then reads instead of the source."""
    root = tmp_path / "regimescope"
    for folder in ("studies", "instruments"):
        shutil.copytree(SOURCE / folder, root / folder)
    for name in fingerprint.MEASURING_FILES:
        shutil.copy(SOURCE / name, root / name)
    monkeypatch.setattr(fingerprint, "PACKAGE", root)
    monkeypatch.setattr(fingerprint, "REGISTRY", root / "studies" / "__init__.py")
    return root


def digest(root) -> str:
    return fingerprint.files_digest(fingerprint.closure(root / "studies" / "rl_catalyst.py"))


@pytest.mark.parametrize(
    ("edited", "changes"),
    [
        ("studies/rl_catalyst_figures.py", True),
        ("studies/stats.py", True),
        ("instruments/coverage.py", True),
        ("sampling_tokens.py", True),
        ("studies/two_phase_figures.py", False),
        ("studies/__init__.py", False),
        ("instruments/planning.py", False),
    ],
)
def test_an_edit_changes_the_key_only_of_the_studies_that_use_it(package, edited, changes):
    before = digest(package)
    with (package / edited).open("a") as file:
        file.write("\nEDITED = 1\n")
    assert (digest(package) != before) == changes


@pytest.mark.parametrize(
    ("old", "new", "changes"),
    [
        ('"""Study 2: RL', '"""Measured: 37 min. Study 2: RL', False),  # the module docstring
        ("\nfrom dataclasses", "\n# a comment\nfrom dataclasses", False),
        ("\nfrom dataclasses", "\n\n\nfrom dataclasses", False),
        ("OVERTAKE_MARGIN = 0.0", "OVERTAKE_MARGIN = 0.01", True),  # code, not prose
    ],
)
def test_docstrings_comments_and_layout_do_not_re_key_a_study(package, old, new, changes):
    path = package / "studies" / "rl_catalyst.py"
    text = path.read_text()
    assert old in text
    before = digest(package)
    path.write_text(text.replace(old, new, 1))
    assert (digest(package) != before) == changes


def test_a_string_that_is_not_a_docstring_still_counts(package):
    path = package / "studies" / "stats.py"
    before = digest(package)
    path.write_text(path.read_text() + '\nRULE = "a rule written before the data"\n')
    assert digest(package) != before


def test_every_registered_study_has_its_own_key():
    keys = {name: code_fingerprint(study) for name, study in STUDIES.items()}
    assert len(set(keys.values())) == len(keys) and all(len(k) == 12 for k in keys.values())
