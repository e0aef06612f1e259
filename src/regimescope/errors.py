"""The one exception type for bad user input.

Anything a user can get wrong (an unknown task, a folder with no model, steps <= 0)
raises ``BadInput`` with one line that names the problem and the valid choices. The CLI
prints that line and exits with code 2, without a traceback.
"""


class BadInput(ValueError):
    """Invalid input from a user: the message is one line naming problem and valid choices."""


def choose(kind: str, name: str, choices) -> None:
    """Raise BadInput unless ``name`` is one of ``choices``.

    >>> choose("task", "arithmetic", ["arithmetic", "countdown"])
    """
    if name not in choices:
        valid = ", ".join(sorted(choices))
        raise BadInput(f"unknown {kind} {name!r}; choose from: {valid}")
