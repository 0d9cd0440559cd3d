"""Benchmarks that print ratios against their anchors (`python -m bench`, or `make bench`).

A throughput figure alone says little about the code: it moves with the machine. Each bench
module therefore measures an anchor in the same run on the same machine (OpenSSL's own
ChaCha20-Poly1305, the reference `age` tool, ...) and reports amanat as a ratio to it, next
to the goal that ratio must meet. Each module exposes ``main()``; ``bench/__main__.py`` runs
them all.
"""
