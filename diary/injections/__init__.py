"""The cure plan (scheduled doses) and the injection diary (dose records)."""
