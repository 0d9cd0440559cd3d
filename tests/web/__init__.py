"""Shared vectors between the Python implementation and the web page (web/test/)."""
