"""The runtime's RFC-16 surface: the liveness and readiness probes of TENON.

``python3 -m tenon_probe`` serves two routes (see ``server.ROUTES``):

- ``/healthz`` (liveness): 200 while the process serves; it touches nothing
  outside the process (RFC-16 PRB-1).
- ``/readyz`` (readiness): 200 only when PostgreSQL answers ``SELECT 1`` and the
  object storage bucket answers HeadBucket, 503 otherwise (PRB-2, FAIL-2); an
  invalid configuration keeps it at 503 (FAIL-4).

Bodies are a fixed status word; details go to the process log (INV-5.1, INV-5.2).
"""
