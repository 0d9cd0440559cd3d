"""amanat's core library: age v1 sealing, the testimony bundle, the transparency log, the
store, the HTTP client and the command line (``vault.cli``).

Importing it stops Python from writing compiled-bytecode caches (``__pycache__/*.pyc``) for
every module imported after it, whatever the environment (``PYTHONDONTWRITEBYTECODE`` or
not). On a witness's device such a file is a trace (DESIGN.md "What must be true" 3): its
times say when amanat last ran, to the second, and which modules it used (``scrub`` says an
attachment was sent). The modules Python compiles before this line runs (this file, on a
first run) are compiled when the venv is made (``make``, ``python -m compileall -q vault
keys api``), so a run writes no file at all.
"""

import sys

sys.dont_write_bytecode = True
