"""Symptom check-ins: the patient's daily or weekly report, validated once for page and API."""
