"""The report: reads the run store only and renders figures, tables and HTML."""

from regimescope.report.collect import StudyRecord, collect_studies, verdict_summary
from regimescope.report.write import write_report

__all__ = ["StudyRecord", "collect_studies", "verdict_summary", "write_report"]
