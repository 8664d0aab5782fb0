"""Exit codes of every kzprobe command (documented in README.md)."""

OK = 0  # the command did its job (a scan completed, whatever it found)
FAILED = 1  # unexpected error; `lab run`: a scenario did not match its expectation; `collect`: a vantage was left
BAD_INPUT = 2  # bad arguments, target file, configuration or report file
INTERRUPTED = 3  # the scan was interrupted; the report is written with "complete": false
LOCKED = 4  # another scan is writing into the same output directory
CANNOT_WRITE = 5  # the output could not be written (disk full, permissions)
