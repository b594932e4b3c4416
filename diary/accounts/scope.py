"""The one helper that scopes patient data to what the current user may see.

A patient sees only themself; investigators and coordinators the patients of
their sites; an admin everyone. Every query for patient data goes through
`visible_patient_ids()` or `get_patient_or_404()`, or `scoped()` for a model
with a `patient_id` column. What is out of scope answers 404, as if it did not
exist.
"""
import sqlalchemy as sa
from flask import abort

from diary.accounts.models import Patient, User, staff_sites
from diary.extensions import db


def visible_patient_ids(user: User) -> sa.Select:
    """A SELECT of the patient ids `user` may see, to use in `.in_()`."""
    stmt = sa.select(Patient.id)
    if user.role == "admin":
        return stmt
    if user.role == "patient":
        return stmt.where(Patient.user_id == user.id)
    return stmt.where(
        Patient.site_id.in_(sa.select(staff_sites.c.site_id).where(staff_sites.c.user_id == user.id))
    )


def visible_site_ids(user: User) -> list[int]:
    if user.role == "admin":
        from diary.accounts.models import Site
        return list(db.session.execute(sa.select(Site.id)).scalars())
    return user.site_ids


def patient_clause(user: User, patient_id_column) -> sa.ColumnElement[bool]:
    if user.role == "admin":
        return sa.true()
    if user.role == "patient":
        own = user.patient.id if user.patient else -1
        return patient_id_column == own
    return patient_id_column.in_(visible_patient_ids(user))


def scoped(stmt: sa.Select, model, user: User) -> sa.Select:
    """Restrict `stmt` over `model` (which has `patient_id`) to what `user` may see."""
    return stmt.where(patient_clause(user, model.patient_id))


def patients_query(user: User) -> sa.Select:
    return sa.select(Patient).where(patient_clause(user, Patient.id))


def get_patient_or_404(user: User, patient_id: int) -> Patient:
    patient = db.session.execute(
        patients_query(user).where(Patient.id == patient_id)
    ).scalar_one_or_none()
    if patient is None:
        abort(404)
    return patient


def get_scoped_or_404(model, object_id: int, user: User):
    """Fetch one `model` row by id if `user` may see its patient, else 404."""
    obj = db.session.execute(
        scoped(sa.select(model).where(model.id == object_id), model, user)
    ).scalar_one_or_none()
    if obj is None:
        abort(404)
    return obj
