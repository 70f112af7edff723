"""Long operations: one abstraction (base.Operation: plan, execute, finalize, roll back,
recover), one runner (runner.OperationRunner: claims, step log, crash points, retries,
recovery), one module per kind of operation, and the table of kinds (registry.py)."""
