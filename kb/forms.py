"""Web forms (Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from kb import taxonomy, vocabularies
from kb.i18n import current_language
from kb.services.accounts import MIN_PASSWORD, agencies
from kb.services.groups import groups_for


def _choices(pairs: list[tuple[str, str]], blank: bool = False) -> list[SelectChoice]:
    options = [SelectChoice(value=value, label=label) for value, label in pairs]
    return [SelectChoice(value="", label="—"), *options] if blank else options


# What each role is called on the pages ("Administrator", not the nav link's "Admin").
ROLE_LABELS = {"admin": _l("Administrator"), "editor": _l("Editor"),
               "contributor": _l("Contributor"), "reader": _l("Reader")}

class MetadataForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=500)])
    summary = TextAreaField(_l("Summary"), validators=[Optional()])
    type = SelectField(_l("Document type"), validators=[Optional()])
    countries = SelectMultipleField(_l("Countries"), validators=[Optional()])
    agencies = SelectMultipleField(_l("Agencies"), validators=[Optional()])
    themes = StringField(
        _l("Themes"), validators=[Optional()],
        description=_l("Separate themes with semicolons, e.g. remittances; diaspora"))
    language = SelectField(_l("Language"), validators=[Optional()])
    year = StringField(_l("Publication year"), validators=[Optional(), Length(max=4)])
    phase = SelectField(_l("Programme phase"), validators=[Optional()])
    access = SelectField(_l("Access"), validators=[DataRequired()])
    groups = SelectMultipleField(_l("Groups (for restricted documents)"), validators=[Optional()])

    # The programme's controlled vocabularies (kb.vocabularies), labelled in the
    # interface language (templates/documents/_vocabularies.html shows them).
    gcm = SelectMultipleField(_l("GCM objectives"), validators=[Optional()])
    sdg = SelectMultipleField(_l("SDG targets"), validators=[Optional()])
    area = SelectMultipleField(_l("Programme outcome areas"), validators=[Optional()])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        for name in vocabularies.NAMES:
            self[name].choices = _choices(vocabulary_choices(name))
        self.type.choices = _choices([(t.code, t.shown) for t in taxonomy.DOCUMENT_TYPES], True)
        self.countries.choices = _choices([(t.code, t.label) for t in taxonomy.countries()])
        self.agencies.choices = _choices([(a.code, f"{a.code} — {a.label}") for a in agencies()])
        self.language.choices = _choices([(t.code, t.label) for t in taxonomy.languages()], True)
        self.phase.choices = _choices([(t.code, t.shown) for t in taxonomy.PHASES], True)
        self.access.choices = _choices([(t.code, t.shown) for t in taxonomy.ACCESS_LEVELS])
        # Only the groups the user may see: a contributor learns no other group's name.
        self.groups.choices = _choices([(g.name, g.name) for g in groups_for(current_user)])

    def raw_metadata(self) -> dict[str, list[str]]:
        """The fields as the metadata service takes them (codes, lists for several values)."""
        return {
            "title": [self.title.data or ""],
            "summary": [self.summary.data or ""],
            "type": [self.type.data or ""],
            "countries": list(self.countries.data or []),
            "agencies": list(self.agencies.data or []),
            "themes": [self.themes.data or ""],
            "language": [self.language.data or ""],
            "year": [self.year.data or ""],
            "phase": [self.phase.data or ""],
            "access": [self.access.data or "public"],
            "groups": list(self.groups.data or []),
            **{name: list(self[name].data or []) for name in vocabularies.NAMES},
        }

    def fill_terms(self, doc: object) -> None:
        """Show a document's codes in the vocabulary fields."""
        for name in vocabularies.NAMES:
            self[name].data = list(doc.terms(name))  # type: ignore[attr-defined]


def vocabulary_choices(name: str) -> list[tuple[str, str]]:
    """A vocabulary's codes and labels in the interface language, in code order; an SDG
    target names its goal beside it."""
    lang = current_language()
    out = []
    for concept in vocabularies.concepts(name):
        text = concept.label(lang)
        if name == "gcm":
            text = f"{concept.code.removeprefix('gcm-')}. {text}"
        if concept.parent is not None:
            text = f"{text} — {concept.parent.get(lang) or concept.parent['en']}"
        out.append((concept.code, text))
    return out


class UploadForm(MetadataForm):
    # Not required as such: a file sent ahead (``pending``) stands for it (views check).
    file = FileField(_l("File"))
    # The public id of the file sent ahead of the form (kb.services.pending).
    pending = HiddenField(validators=[Optional(), Length(max=43)])

    # Internal unless the uploader chooses otherwise: a document becomes public on
    # purpose, never because nobody looked at the field (the API keeps Public).
    DEFAULT_ACCESS = "internal"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_submitted() and not self.access.data:
            self.access.data = self.DEFAULT_ACCESS

    def raw_metadata(self) -> dict[str, list[str]]:
        raw = super().raw_metadata()
        raw["access"] = [self.access.data or self.DEFAULT_ACCESS]
        return raw


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    token = HiddenField(validators=[DataRequired()])
    new_password = PasswordField(_l("New password"),
                                 validators=[DataRequired(), Length(min=MIN_PASSWORD)])
    confirm_password = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new_password", _l("The two new passwords differ."))])


class UserForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired()])
    role = SelectField(_l("Role"), choices=_choices(list(ROLE_LABELS.items())))
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=MIN_PASSWORD)])


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=_choices(list(ROLE_LABELS.items())))


class VersionForm(FlaskForm):
    """A new version of a document's file, with a short note on what changed."""

    file = FileField(_l("New file"))
    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=200)],
                       description=_l("e.g. final version after review"))


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token travels."""


class TranslationForm(FlaskForm):
    """Link a document as a translation of another: its number or its address."""

    original = StringField(_l("Translation of"), validators=[DataRequired(), Length(max=500)])


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    new_password = PasswordField(_l("New password"),
                                 validators=[DataRequired(), Length(min=MIN_PASSWORD)])
    confirm_password = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new_password", _l("The two new passwords differ."))])


class TokenForm(FlaskForm):
    name = StringField(_l("Name (to recognise the token by)"),
                       validators=[Optional(), Length(max=100)],
                       description=_l("For example the laptop or the script that will use it."))


class AgencyForm(FlaskForm):
    code = StringField(_l("Code (acronym)"), validators=[DataRequired(), Length(max=40)])
    label = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])


class WorkflowForm(FlaskForm):
    action = SelectField(_l("Action"), choices=_choices([(a, a) for a in
                                                     ("publish", "return", "withdraw",
                                                      "restore")]))
    comment = TextAreaField(_l("Comment for the uploader"), validators=[Optional(),
                                                                    Length(max=2000)])


class GroupForm(FlaskForm):
    name = StringField(_l("Group name"), validators=[DataRequired(), Length(max=100)])


class MemberForm(FlaskForm):
    email = StringField(_l("Email of the account to add"), validators=[DataRequired()])


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    action = SelectField(_l("Action"), validators=[Optional()])
    actor = StringField(_l("Actor email"), validators=[Optional()])
    target = StringField(_l("Target id"), validators=[Optional()])
    date_from = StringField(_l("From (YYYY-MM-DD)"), validators=[Optional()])
    date_to = StringField(_l("To (YYYY-MM-DD)"), validators=[Optional()])


class BulkTermsForm(FlaskForm):
    """Add or remove one code of a vocabulary on the documents selected on a results page
    (their ids come as repeated ``ids`` fields: the page's check boxes)."""

    code = SelectField(_l("Value"), validators=[DataRequired()])
    action = SelectField(_l("Action"), validators=[DataRequired()])
    # Where to go back to: the results page (a path on this site only, views check).
    back = HiddenField(validators=[Optional(), Length(max=4000)])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        titles = {"gcm": _l("GCM objectives"), "sdg": _l("SDG targets"),
                  "area": _l("Programme outcome areas")}
        self.code.choices = {str(titles[name]): vocabulary_choices(name)
                             for name in vocabularies.NAMES}
        self.action.choices = [("add", _l("Add to the selected documents")),
                               ("remove", _l("Remove from the selected documents"))]
