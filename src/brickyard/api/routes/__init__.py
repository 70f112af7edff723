"""Endpoints, one module per resource; api/routing.py dispatches to them."""
