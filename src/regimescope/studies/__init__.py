"""Studies: one module per published claim, each ending in a pre-registered verdict.

``STUDIES`` maps a study's name to its ``Study`` record, in claim order.
"""

from regimescope.studies.base import SCALES, Study, StudyContext, run_study, study_config
from regimescope.studies.verdict import VERDICTS, Decision, Effect, Verdict

from regimescope.studies import (  # noqa: E402  (after base: the modules import it)
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
        two_phase.STUDY,
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
