"""Run every control over a repository and print the run as JSON.

``python run_controls.py ROOT`` is how a mutated probe service is tested: the
caller puts ``ROOT/src`` first on PYTHONPATH, so the ``tenon_probe`` this
process imports (and the runtime controls start) is the mutated copy's, which
is also the source those controls compare it with.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mutation_harness import run_all

if __name__ == "__main__":
    sys.stdout.write(run_all(Path(sys.argv[1])).to_json())
