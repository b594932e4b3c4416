"""Exports for coordinators: CSV per table, a FHIR R4 Bundle, the audit trail."""
