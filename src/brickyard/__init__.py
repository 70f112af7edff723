"""Brickyard: a volume manager for GlusterFS, wire-compatible with Heketi."""

__version__ = "0.1.0"
# The version string Heketi clients and scripts see (heketi --version, /hello is fixed text).
HEKETI_COMPAT_VERSION = "10.4.1"
