"""One scan: the targets measured concurrently (run), the job around it (job: output lock,
journal, resume, the final report), its settings from defaults, a configuration file and the
command line (settings), measuring processes for long lists (processes), the control scan's
source (control_source) and the scan's own bounds (limits).

Sits above probes and analysis: it measures through probes/, then hands the results to
analysis/ and the report to report/write.
"""
