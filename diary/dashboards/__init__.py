"""Staff dashboards (adherence, patient timeline, audit history, check-in corrections) and
the patient's own history, with server-rendered SVG charts."""
