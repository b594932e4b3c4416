"""Imports every feature's models, so that Alembic and create_all see all tables."""
from diary.accounts.models import AccessCode, Patient, Site, User, staff_sites  # noqa: F401
from diary.audit.models import AuditEvent, AuditHead  # noqa: F401
