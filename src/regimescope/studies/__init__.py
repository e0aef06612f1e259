"""Studies: one module per published claim, each ending in a pre-registered verdict.

``STUDIES`` maps a study's name to its ``Study`` record, in claim order.
"""
# ruff: noqa: I001  (base must be imported before the study modules, which import it)

from regimescope.studies.base import SCALES, Study, StudyContext, run_study, study_config
from regimescope.studies.verdict import VERDICTS, Decision, Effect, Verdict

from regimescope.studies import (
    capability_origin,
    format_collapse,
    instruction_tuning,
    rl_catalyst,
    rl_objectives,
    rl_weights,
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
    )
}

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
