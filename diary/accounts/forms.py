from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length


class LoginForm(FlaskForm):
    login = StringField(_l("Study code or e-mail"), validators=[DataRequired(), Length(max=254)],
                        render_kw={"autocomplete": "username", "autocapitalize": "none",
                                   "spellcheck": "false"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})


class SetPasswordForm(FlaskForm):
    code = StringField(_l("Your one-time code"), validators=[DataRequired(), Length(max=64)],
                       render_kw={"autocomplete": "one-time-code", "autocapitalize": "characters",
                                  "spellcheck": "false"})
    password = PasswordField(_l("Choose a password (at least 10 characters)"),
                             validators=[DataRequired(), Length(max=200)],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Type the password again"),
                            validators=[DataRequired(),
                                        EqualTo("password", message=_l("The two passwords differ."))],
                            render_kw={"autocomplete": "new-password"})
