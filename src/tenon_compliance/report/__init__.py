"""Reports of a run: the JUnit XML that auditors read and CI publishes."""
