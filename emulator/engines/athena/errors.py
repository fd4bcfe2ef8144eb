"""Athena's query errors: a state, an error type and the StateChangeReason text."""

from __future__ import annotations


class QueryFailed(Exception):
    """A query that ends FAILED (or CANCELLED): ``reason`` is what GetQueryExecution says."""

    def __init__(self, error_type: str, message: str, category: int = 2, state: str = "FAILED"):
        self.error_type = error_type
        self.category = category  # 1 system, 2 user, 3 other (AthenaError.ErrorCategory)
        self.state = state
        self.reason = f"{error_type}: {message}" if error_type else message
        super().__init__(self.reason)
