"""HTTP contract tests for the Heketi-compatible REST API."""
