"""Routers, one module per resource. Importing the package registers the id convertor."""

from .. import convertors as convertors
