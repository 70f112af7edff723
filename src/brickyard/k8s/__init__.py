"""Kubernetes helpers that need no API server: ``brickyard k8s convert-pvs``."""
