"""``python3 -m tenon_probe``: serve the probes until SIGTERM."""

from tenon_probe.cli import main

raise SystemExit(main())
