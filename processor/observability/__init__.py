"""Metrics (declared in one module), the HTTP endpoint, readiness."""
