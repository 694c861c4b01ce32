"""Signature evidence: Sigstore bundles verified offline against a trust root.

- ``policy``: compliance/signing-policy.yaml and the sigstore policy it becomes;
- ``verify``: keyless bundles (DSSE in-toto statement or message signature);
- ``keyed``: bundles signed with a pinned public key;
- ``cli``: ``tenon-compliance verify-signature``.
"""
