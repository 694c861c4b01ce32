"""RFC-16, control by control: every registered control on every subject it selects.

The plugin (tenon_compliance.pytest_plugin) expands the marker below into one
test per control and subject, named ``CONTROL[subject]``. A new Deployment,
stack, module or CI job becomes a new test without editing this file.
"""

from tenon_compliance import pytest_plugin

test_rfc16 = pytest_plugin.RFC16
