"""The report: the contract between measurement, analysis and every reader of a scan.

- format: the format's name and version, and the file names of reports and journals;
- vocabulary: the closed vocabularies (verdicts, layers, connectivity, evidence, failures);
- observations: what the probes record, as typed JSON-ready data;
- write: the journal (a line per result, the moment it is known) and the atomic final report;
- read: reading and checking reports and journals from anyone (size-capped, validated);
- atomic: replacing a file so that a reader sees the old one or the new one, never half;
- scrub: keeping the volunteer's own addresses out of anything recorded.

Nothing here touches the network; every layer above may import it.
"""
