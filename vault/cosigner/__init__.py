"""The cosigner: a partner organization's C2SP tlog-witness, without any HTTP.

- `store`: the cosigner's data directory: which logs it cosigns (origin and log verifier
  keys) and, per log, the latest checkpoint it cosigned, in SQLite (WAL, synchronous=FULL).
- `witness`: ``add-checkpoint``: parse the request, check the log's signature and the
  consistency proof against the stored state, update the state, then cosign.

The HTTP skin is ``api.cosigner``; ``amanat cosigner`` (``vault.cli.cosigner_cmd``) runs it.
"""
