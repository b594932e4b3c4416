"""Reminders: patient preferences, the pure planner, the sweep that enqueues, Web Push."""
