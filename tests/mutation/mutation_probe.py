"""Mutants of the probe service itself (src/tenon_probe), for the runtime controls.

The runtime PROBE-* controls start the service this process imports and
refuse to test a service whose source differs from the repository's. A
mutated service is therefore run in a subprocess whose PYTHONPATH starts
with the mutated copy's ``src``: the controls start the mutated service and
compare it with the mutated source, as the main job would on that commit.
"""

from __future__ import annotations

from mutation_model import Edit, Kill, Mutant

SERVER = "src/tenon_probe/server.py"
READINESS = "src/tenon_probe/readiness.py"
SERVICE = "src/tenon_probe/service.py"
# The runtime controls report at the service's route table.
ROUTES = Kill("", file=SERVER, anchor="\nROUTES: ", at="ROUTES")


def at_routes(control: str) -> Kill:
    """A kill of control reported at the route table of server.py."""
    return Kill(control, file=ROUTES.file, anchor=ROUTES.anchor, at=ROUTES.at)


PROBE_MUTANTS = (
    Mutant(
        id="probe-liveness-follows-readiness",
        description="/healthz answered from the readiness gate (a database outage "
        "would restart every pod)",
        edits=(
            Edit(
                SERVER,
                "        ok = probe is Probe.LIVENESS or self.server.ready()\n",
                "        ok = self.server.ready()\n",
            ),
        ),
        # The invalid-configuration control also asks /healthz (it must stay 200).
        kills=(
            at_routes("PROBE-LIVENESS-INDEPENDENT"),
            at_routes("PROBE-INVALID-CONFIG-UNREADY"),
        ),
    ),
    Mutant(
        id="probe-readiness-ignores-failures",
        description="a failed dependency check is logged but no longer makes the "
        "service unready",
        edits=(
            Edit(
                READINESS,
                "                _log_failure(name, error)\n"
                "                ready = False\n",
                "                _log_failure(name, error)\n",
            ),
        ),
        kills=(
            at_routes("PROBE-READINESS-FOLLOWS-DEPENDENCIES"),
            at_routes("PROBE-INVALID-CONFIG-UNREADY"),
        ),
    ),
    Mutant(
        id="probe-invalid-config-only-logged",
        description="an invalid configuration is logged and the service becomes ready",
        edits=(
            Edit(
                SERVICE,
                "        raise DependencyError(CONFIGURATION, str(problem))\n",
                '        log.warning("configuration problem: %s", problem)\n',
            ),
        ),
        kills=(at_routes("PROBE-INVALID-CONFIG-UNREADY"),),
    ),
    Mutant(
        id="probe-stock-server-headers",
        description="the probe answers carry the stock Server and Date headers",
        edits=(
            Edit(
                SERVER,
                "    def send_response(self, code: int, message: str | None = None)"
                " -> None:\n"
                '        """The status line without the Server and Date headers."""\n'
                "        self.log_request(code)\n"
                "        self.send_response_only(code, message)\n\n",
                "",
            ),
        ),
        kills=(at_routes("PROBE-NO-METRICS"),),
    ),
)
