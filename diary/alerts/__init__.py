"""Alerts: pure rules (rules.py), raising with deduplication (services.py), staff pages."""
