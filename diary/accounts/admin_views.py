"""Admin pages: sites (hospital teams) and staff invitations."""
import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from diary import clock
from diary.accounts import services, staff_services
from diary.accounts.decorators import role_required
from diary.accounts.models import STAFF_ROLES, AccessCode, Site, User
from diary.accounts.staff_forms import InviteStaffForm, SiteForm, SiteLanguageForm
from diary.accounts.staff_views import apply_field_errors
from diary.errors import DomainError
from diary.extensions import db

bp = Blueprint("accounts_admin", __name__, url_prefix="/admin")


def _all_sites() -> list[Site]:
    return list(db.session.execute(sa.select(Site).order_by(Site.name)).scalars())


@bp.route("/sites", methods=["GET", "POST"])
@role_required("admin")
def sites():
    form = SiteForm()
    general_error, status = None, 200
    if form.validate_on_submit():
        try:
            site = services.create_site(
                name=form.name.data, timezone=(form.timezone.data or "").strip(),
                phone=form.phone.data,
                alert_emails=staff_services.parse_email_list(form.alert_emails.data),
                escalation_emails=staff_services.parse_email_list(form.escalation_emails.data),
                language=form.language.data or "", actor=current_user, now=clock.now_utc())
        except DomainError as exc:
            db.session.rollback()
            if not apply_field_errors(form, exc, {"alert_email": "alert_emails",
                                                  "escalation_email": "escalation_emails"}):
                general_error = exc.message
            status = exc.status
        else:
            db.session.commit()
            flash(_("Site %(name)s created.", name=site.name), "success")
            return redirect(url_for("accounts_admin.sites"))
    elif request.method == "POST":
        status = 422
    return _sites_page(form, general_error=general_error), status


def _sites_page(form, general_error=None, language_error=None):
    return render_template("accounts/admin_sites.html", form=form, sites=_all_sites(),
                           language_form=SiteLanguageForm(formdata=None),
                           general_error=general_error, language_error=language_error)


@bp.post("/sites/<int:site_id>/language")
@role_required("admin")
def site_language(site_id: int):
    """Change the language of a site's staff e-mails (audited)."""
    site = db.get_or_404(Site, site_id)
    form = SiteLanguageForm()  # its CSRF token is checked by CSRFProtect before this view
    try:
        changed = services.set_site_language(site, form.language.data or "",
                                             actor=current_user, now=clock.now_utc())
    except DomainError as exc:
        db.session.rollback()
        return _sites_page(SiteForm(formdata=None), language_error=exc.message), exc.status
    db.session.commit()
    if changed:
        flash(_("Language of the e-mails to the team of %(name)s: %(language)s.",
                name=site.name, language=dict(form.language.choices)[site.language]), "success")
    return redirect(url_for("accounts_admin.sites"))


@bp.route("/staff", methods=["GET", "POST"])
@role_required("admin")
def staff():
    form = InviteStaffForm()
    all_sites = _all_sites()
    form.site_ids.choices = [(s.id, s.name) for s in all_sites]
    general_error, status = None, 200
    if form.validate_on_submit():
        chosen = [s for s in all_sites if s.id in set(form.site_ids.data or [])]
        if len(chosen) != len(set(form.site_ids.data or [])):
            form.site_ids.errors = [_("Choose sites from the list.")]
            status = 422
        else:
            try:
                user, reinvited = staff_services.invite_staff(
                    email=form.email.data, role=form.role.data, sites=chosen,
                    actor=current_user, now=clock.now_utc())
            except DomainError as exc:
                db.session.rollback()
                if not apply_field_errors(form, exc, {"site": "site_ids"}):
                    general_error = exc.message
                status = exc.status
            else:
                db.session.commit()
                if reinvited:
                    flash(_("A new invitation was sent to %(email)s; the earlier link no longer "
                            "works.", email=user.email), "success")
                else:
                    flash(_("Invitation sent to %(email)s.", email=user.email), "success")
                return redirect(url_for("accounts_admin.staff"))
    elif request.method == "POST":
        status = 422
        if form.site_ids.errors:
            form.site_ids.errors = [_("Choose sites from the list.")]
    return render_template("accounts/admin_staff.html", form=form, sites=all_sites,
                           staff=_staff_rows(), general_error=general_error), status


def _staff_rows() -> list[dict]:
    now = clock.now_utc()
    users = db.session.execute(
        sa.select(User).where(User.role.in_(STAFF_ROLES))
        .options(so.selectinload(User.sites)).order_by(User.email)
    ).scalars().all()
    pending = dict(db.session.execute(
        sa.select(AccessCode.user_id, sa.func.max(AccessCode.expires_at))
        .where(AccessCode.purpose == "invitation", AccessCode.used_at.is_(None),
               AccessCode.revoked_at.is_(None), AccessCode.expires_at > now)
        .group_by(AccessCode.user_id)
    ).all())
    return [{"user": u, "role": staff_services.role_label(u.role),
             "invitation_expires": pending.get(u.id)} for u in users]
