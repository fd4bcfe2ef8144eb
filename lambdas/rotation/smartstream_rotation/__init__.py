"""Secrets Manager rotation function of the SmartStream database credentials (PostgreSQL on RDS)."""
