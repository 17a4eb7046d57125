"""The interface in French, Spanish and Russian (issue 17): the account, admin, review,
audit and API-documentation pages, their flash and validation messages, the JSON API's
``error`` text and the emails, chosen by Accept-Language, by the ``kb_lang`` cookie or,
for an email, by the recipient's ``User.locale``.

Each assertion names words only the translation contains, so a missing or uncompiled
catalogue fails it; English stays the default.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kb.extensions import db
from kb.models import Job, User
from kb.services import mail
from tests.conftest import csrf_from, login

LANGS = ("fr", "es", "ru")

# Page -> (role of the account that opens it or None, {lang: text only the translation has})
PAGES = {
    "/login": (None, {"fr": "<h1>Se connecter</h1>", "es": "<h1>Iniciar sesión</h1>",
                      "ru": "<h1>Войти</h1>"}),
    "/forgot-password": (None, {"fr": "Retour à la connexion", "es": "Volver a iniciar sesión",
                                "ru": "Вернуться ко входу"}),
    "/reset-password?token=bad": (None, {"fr": "Demander un nouveau lien",
                                         "es": "Solicitar un nuevo enlace",
                                         "ru": "Запросить новую ссылку"}),
    "/profile": ("contributor", {"fr": "Se déconnecter partout",
                                 "es": "Cerrar sesión en todas partes",
                                 "ru": "Выйти на всех устройствах"}),
    "/my/documents": ("contributor", {"fr": "Vous n'avez encore rien déposé.",
                                      "es": "Todavía no ha subido nada.",
                                      "ru": "Вы пока ничего не загрузили."}),
    "/review": ("editor", {"fr": "Problèmes d'extraction", "es": "Problemas de extracción",
                           "ru": "Ошибки извлечения текста"}),
    "/admin/users": ("admin", {"fr": "Ajouter un compte", "es": "Añadir una cuenta",
                               "ru": "Добавить учётную запись"}),
    "/admin/agencies": ("admin", {"fr": "Ajouter un organisme ou le renommer",
                                  "es": "Añadir un organismo o cambiarle el nombre",
                                  "ru": "Добавить учреждение или переименовать"}),
    "/admin/trash": ("admin", {"fr": "La corbeille est vide.", "es": "La papelera está vacía.",
                               "ru": "Корзина пуста."}),
    "/admin/groups": ("admin", {"fr": "Créer un groupe", "es": "Crear un grupo",
                                "ru": "Создать группу"}),
    "/admin/audit": ("admin", {"fr": "Exporter en CSV", "es": "Exportar como CSV",
                               "ru": "Экспортировать в CSV"}),
    "/api/docs": (None, {"fr": "La description lisible par machine",
                         "es": "La descripción legible por máquina",
                         "ru": "Машиночитаемое описание"}),
}
ENGLISH = {"/login": "<h1>Sign in</h1>", "/admin/users": "Add an account",
           "/api/docs": "The machine-readable description", "/review": "Extraction problems"}


def _text(res) -> str:
    return str(res.get_data(as_text=True))


@pytest.mark.parametrize("how", ["header", "cookie"])
def test_pages_speak_the_language_asked_for(client, make_user, how):
    accounts = {role: make_user(role) for role, _texts in PAGES.values() if role is not None}
    for path, (role, expected) in PAGES.items():
        client.delete_cookie("kb_lang")
        if role is not None:
            client = client.application.test_client()
            login(client, accounts[role])
        for lang in LANGS:
            if how == "cookie":
                client.set_cookie("kb_lang", lang)
                res = client.get(path)
            else:
                client.delete_cookie("kb_lang")
                res = client.get(path, headers={"Accept-Language": f"{lang},en;q=0.5"})
            assert res.status_code in (200, 400), (path, lang, res.status_code)
            assert expected[lang] in _text(res), (path, lang)
        client.delete_cookie("kb_lang")
        if path in ENGLISH:
            assert ENGLISH[path] in _text(client.get(path)), path


def test_english_stays_the_default(client):
    page = _text(client.get("/login"))
    assert "<h1>Sign in</h1>" in page and "Se connecter" not in page
    page = _text(client.get("/login", headers={"Accept-Language": "de, ja"}))
    assert "<h1>Sign in</h1>" in page


def test_a_wrong_password_is_told_in_french(client, make_user):
    account = make_user("reader")
    headers = {"Accept-Language": "fr"}
    page = client.get("/login", headers=headers)
    res = client.post("/login", headers=headers, data={
        "email": account.email, "password": "not the password",
        "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert res.status_code == 401
    assert "Adresse électronique ou mot de passe incorrect." in _text(res)


def test_a_bad_new_account_is_refused_in_spanish_and_russian(client, make_user):
    admin = make_user("admin")
    login(client, admin)
    for lang, expected in (("es", "Ya existe una cuenta para"),
                           ("ru", "Учётная запись для")):
        client.set_cookie("kb_lang", lang)
        page = client.get("/admin/users")
        res = client.post("/admin/users", data={
            "email": admin.email, "role": "reader", "password": "a long enough passphrase 7",
            "csrf_token": csrf_from(page.get_data(as_text=True))})
        assert res.status_code == 400
        assert expected in _text(res), lang
    client.set_cookie("kb_lang", "fr")
    page = client.get("/admin/users")
    res = client.post("/admin/users", data={
        "email": "new@example.org", "role": "reader", "password": "password123",
        "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert res.status_code == 400
    assert "Ce mot de passe est trop courant ou trop facile à deviner" in _text(res)


def test_a_flash_after_a_redirect_is_translated(client, make_user):
    admin = make_user("admin")
    login(client, admin)
    client.set_cookie("kb_lang", "ru")
    page = client.get("/admin/groups")
    res = client.post("/admin/groups", data={
        "name": "Moldova team", "csrf_token": csrf_from(page.get_data(as_text=True))},
        follow_redirects=True)
    assert "Группа Moldova team создана." in _text(res)
    assert "1 участник" not in _text(res) and "0 участников" in _text(res)


def test_the_json_api_says_errors_people_read_in_french(client, make_user):
    """The ``error`` text of the API is for people (``error_code`` and field names are for
    programs): missing documents, refused access and bad metadata are translated."""
    account = make_user("contributor")
    fr = {"Accept-Language": "fr"}
    res = client.get("/api/v1/documents/999", headers=fr)
    assert res.status_code == 404 and res.json["error"] == "Ce document n’existe pas."
    res = client.get("/api/v1/documents/999")
    assert res.json["error"] == "No such document."
    res = client.patch("/api/v1/documents/999", headers=fr, json={"title": "x"})
    assert res.status_code == 401
    assert res.json["error"].startswith("Connectez-vous ou envoyez un jeton d'API")
    res = client.get("/api/v1/search?per_page=lots", headers={**fr, **account.headers})
    assert res.status_code == 400 and "doit être un nombre entier" in res.json["error"]
    res = client.get("/api/v1/documents/1", headers={**fr, "Authorization": "Bearer nope"})
    assert res.status_code == 401
    assert res.json["error"] == "Le jeton d'API n'est pas valide ou a été révoqué."


@pytest.mark.parametrize(("lang", "deep", "size", "year"), [
    ("fr", "La page 999 est trop loin", "per_page doit être compris entre 1 et 100",
     "year_from doit être une année comprise entre 0 et 9999"),
    ("es", "La página 999 está demasiado lejos", "per_page debe estar entre 1 y 100",
     "year_from debe ser un año entre 0 y 9999"),
    ("ru", "Страница 999 слишком далеко", "per_page должен быть от 1 до 100",
     "year_from должен быть годом от 0 до 9999"),
])
def test_a_search_past_its_bounds_is_told_in_the_readers_language(client, lang, deep, size,
                                                                  year):
    """The bounds of a search (page depth, page size, years) are refused in the language of
    the page and of the API, not in English."""
    headers = {"Accept-Language": lang}
    page = client.get("/search?q=migration&page=999&per_page=100", headers=headers)
    assert page.status_code == 400 and deep in _text(page)
    assert "too deep" not in _text(page)
    res = client.get("/api/v1/search?q=migration&per_page=500", headers=headers)
    assert res.status_code == 400 and res.json["error"].startswith(size)
    res = client.get("/api/v1/search?q=migration&year_from=12345", headers=headers)
    assert res.status_code == 400 and res.json["error"].startswith(year)


def test_the_reset_email_speaks_the_recipients_language(app, client, make_user):
    """Rendered in the language the account chose (User.locale), not the asker's; without
    a choice, in English."""
    app.config.update(SMTP_URL="smtp://127.0.0.1:2525", SITE_URL="https://kb.example.org")
    russian, nobody = make_user("reader"), make_user("reader")
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == russian.email))
        user.locale = "ru"
        db.session.commit()
    for account in (russian, nobody):
        page = client.get("/forgot-password", headers={"Accept-Language": "es"})
        assert "Enviar el enlace" in _text(page)
        res = client.post("/forgot-password", headers={"Accept-Language": "es"}, data={
            "email": account.email, "csrf_token": csrf_from(page.get_data(as_text=True))},
            follow_redirects=True)
        assert "Si alguna cuenta usa esa dirección" in _text(res)
    with app.app_context():
        messages = {m.to: m for m in (mail.Message.from_payload(j.payload) for j in
                                      db.session.scalars(select(Job).where(Job.kind == "email")))}
    ru, en = messages[russian.email], messages[nobody.email]
    assert ru.subject == "Выбор нового пароля"
    assert "Кто-то (вероятно, вы) запросил выбор нового пароля" in ru.body
    assert re.search(r"в течение \d+ час", ru.body)
    assert "База знаний «Миграция и развитие»" in ru.body
    assert en.subject == "Choose a new password"
    assert "Someone, probably you, asked to choose a new password" in en.body
