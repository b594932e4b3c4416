from diary.audit.services import record, verify

__all__ = ["record", "verify"]
