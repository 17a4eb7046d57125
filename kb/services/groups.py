"""Groups of users that restricted documents are shared with (admins manage them)."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from kb import audit, policy
from kb.errors import NotFound, ValidationError
from kb.extensions import db
from kb.models import Group, User


def groups() -> list[Group]:
    """Every group (for admins' pages and the operator's command line)."""
    return list(db.session.scalars(select(Group).order_by(Group.name)))


def groups_for(user: object) -> list[Group]:
    """The groups whose names the user may see and choose for a restricted document."""
    if policy.sees_every_group(user):
        return groups()
    mine = policy.member_group_ids(user)
    return [g for g in groups() if g.group_id in mine]


def choosable(user: object) -> dict[str, int] | None:
    """``groups_for`` as metadata validation takes it (case-folded name to id); None for
    every group. A group the user may not see is as unknown to them as a missing one."""
    if policy.sees_every_group(user):
        return None
    return {g.name.casefold(): g.group_id for g in groups_for(user)}


def create_group(name: str, actor: object) -> Group:
    name = " ".join(name.split())
    if not name or len(name) > 100:
        raise ValidationError(_("A group needs a name of at most 100 characters."),
                              fields={"name": "invalid"})
    if any(g.name.casefold() == name.casefold() for g in groups()):
        raise ValidationError(_("A group named %(name)r exists already.", name=name),
                              fields={"name": "taken"})
    group = Group(name=name)
    db.session.add(group)
    db.session.flush()
    audit.record("group-create", actor=actor, target_type="group", target_id=group.group_id,
                 detail=name, commit=False)
    db.session.commit()
    return group


def _group(group_id: int) -> Group:
    group = db.session.get(Group, group_id)
    if group is None:
        raise NotFound(_("No such group."))
    return group


def add_member(group_id: int, email: str, actor: object) -> None:
    group = _group(group_id)
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise ValidationError(_("No account for %(email)s.", email=email),
                              fields={"email": "unknown"})
    if user not in group.members:
        group.members.append(user)
        audit.record("group-member-add", actor=actor, target_type="group",
                     target_id=group.group_id, detail=f"{user.email} -> {group.name}",
                     commit=False)
    db.session.commit()


def remove_member(group_id: int, user_id: int, actor: object) -> None:
    group = _group(group_id)
    user = db.session.get(User, user_id)
    if user is not None and user in group.members:
        group.members.remove(user)
        audit.record("group-member-remove", actor=actor, target_type="group",
                     target_id=group.group_id, detail=f"{user.email} -/-> {group.name}",
                     commit=False)
    db.session.commit()
