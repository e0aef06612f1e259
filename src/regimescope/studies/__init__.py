"""Studies: one module per published claim, each ending in a pre-registered verdict.

``STUDIES`` maps a study's name to its ``Study`` record, in claim order.
"""

from regimescope.studies.base import SCALES, Study, StudyContext, run_study, study_config
from regimescope.studies.verdict import VERDICTS, Decision, Effect, Verdict

STUDIES: dict[str, Study] = {}

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
