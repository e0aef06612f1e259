"""Studies: one module per published claim, each ending in a pre-registered verdict.

``STUDIES`` maps a study's name to its ``Study`` record, in claim order, followed by the
studies of the modules named in $REGIMESCOPE_STUDY_MODULES (comma-separated importable
modules, each with a module-level ``STUDY``): your own study runs with ``regimescope study``,
``demo`` and ``report`` like the built-in ones.
"""
# ruff: noqa: I001  (base must be imported before the study modules, which import it)

import importlib
import os

from regimescope.errors import BadInput
from regimescope.studies.base import SCALES, Study, StudyContext, run_study, study_config
from regimescope.studies.verdict import VERDICTS, Decision, Effect, Verdict

from regimescope.studies import (
    capability_origin,
    format_collapse,
    instruction_tuning,
    learning_mechanics,
    paired_analysis,
    rl_catalyst,
    rl_objectives,
    rl_weights,
    same_score,
    training_order,
    two_phase,
)

STUDIES: dict[str, Study] = {
    study.name: study
    for study in (
        instruction_tuning.STUDY,
        rl_catalyst.STUDY,
        rl_weights.STUDY,
        rl_objectives.STUDY,
        capability_origin.STUDY,
        two_phase.STUDY,
        format_collapse.STUDY,
        paired_analysis.STUDY,
        same_score.STUDY,
        learning_mechanics.STUDY,
        training_order.STUDY,
    )
}
PLUGINS_ENV = "REGIMESCOPE_STUDY_MODULES"


def plugin_studies(spec: str) -> list[Study]:
    """The ``STUDY`` of each module named in ``spec`` (comma-separated)."""
    found = []
    for module_name in filter(None, (part.strip() for part in spec.split(","))):
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            problem = f"${PLUGINS_ENV} names {module_name!r}, which fails to import: {error}"
            raise BadInput(problem) from None
        if not isinstance(getattr(module, "STUDY", None), Study):
            raise BadInput(f"${PLUGINS_ENV} names {module_name!r}, which has no Study `STUDY`")
        found.append(module.STUDY)
    return found


STUDIES |= {study.name: study for study in plugin_studies(os.environ.get(PLUGINS_ENV, ""))}

__all__ = [
    "SCALES",
    "STUDIES",
    "VERDICTS",
    "Decision",
    "Effect",
    "Study",
    "StudyContext",
    "Verdict",
    "run_study",
    "study_config",
]
