"""The report: reads the run store only and renders figures, tables and HTML."""
