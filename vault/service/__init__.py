"""The vault server's logic, without HTTP: uploads, roster, authentication, mailboxes, audit.

``api`` (FastAPI) is a thin skin over ``VaultService``; the command line reaches the same
functions. See vault/service/service.py for the rules it enforces.

Modules: ``service`` (VaultService, Limits, errors), ``uploads`` (upload state machine and
sealed-file checks), ``auth`` (challenges and tokens), ``mailbox`` (mailbox ids),
``rosterview`` (the verified roster as the server uses it), ``setup`` (data directory, log
key, ``--dev``). This package imports nothing on its own, so the HTTP client can use
``auth.challenge_message`` and ``mailbox`` without loading the server.
"""

