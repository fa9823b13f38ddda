"""Tools for the project's own files (not part of the integration)."""
