"""Loads the compliance suite's pytest plugin for every run in this repository."""

pytest_plugins = ["tenon_compliance.pytest_plugin"]
