"""Languages: every extracted message has a Vietnamese translation; pages follow the user's language."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from aiohttp.test_utils import TestClient
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from callcenter.i18n import catalog_path, translate, translations
from tests.auth_helpers import DEFAULT_PASSWORD, login, make_user

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{[a-z_]+[^}]*\}|%\([a-z_]+\)[sd]")


def extracted_messages() -> dict[str, str]:
    """msgid -> where it was found, exactly as ``pybabel extract -F babel.cfg`` finds them."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle, str(ROOT / "babel.cfg"))
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=DEFAULT_KEYWORDS
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def test_extraction_finds_code_and_template_strings() -> None:
    found = extracted_messages()
    assert found["Log in"].startswith("agent_ui/templates/")
    assert found["Wrong username or password."].startswith("callcenter/web/auth.py")
    assert "Password must not be empty." in found  # marked with N_() in callcenter/auth


def test_every_message_has_a_vietnamese_translation() -> None:
    vietnamese = translations("vi").messages
    missing = [
        f"{where}: {msgid!r}"
        for msgid, where in sorted(extracted_messages().items(), key=lambda kv: kv[1])
        if not vietnamese.get(msgid, "").strip()
    ]
    assert not missing, (
        f"{len(missing)} messages lack a Vietnamese translation in "
        f"{catalog_path('vi').relative_to(ROOT)}:\n" + "\n".join(missing)
    )


#: Literal text allowed in templates: the brand, the language switch (each language's own
#: name), units, and markup a macro prints. Everything else goes through {{ _("...") }}.
LITERAL_TEXT_ALLOWED = {"☎ callcenter", "English", "Tiếng Việt", "s", 'aria-invalid="true"'}
JINJA_CODE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)


class _TextNodes(HTMLParser):
    """Text between tags (outside <script>/<style>) that contains a letter."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.in_code = 0
        self.found: list[tuple[int, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.in_code += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self.in_code -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self.in_code and re.search(r"[^\W\d_]", data):
            self.found.append((self.getpos()[0], data.strip()))


def test_templates_have_no_untranslated_literal_text() -> None:
    """Words typed straight into a template would never be translated: use _() instead."""
    literal = []
    for path in sorted((ROOT / "agent_ui" / "templates").rglob("*.html")):
        source = path.read_text(encoding="utf-8")
        # Drop Jinja code but keep line numbers.
        parser = _TextNodes()
        parser.feed(JINJA_CODE.sub(lambda m: "\n" * m.group(0).count("\n"), source))
        literal += [
            f"{path.relative_to(ROOT)}:{line}: {text!r}"
            for line, text in parser.found
            if text not in LITERAL_TEXT_ALLOWED
        ]
    assert not literal, "text outside {{ _(...) }} in templates:\n" + "\n".join(literal)


def test_translations_keep_their_placeholders() -> None:
    with catalog_path("vi").open("rb") as handle:
        catalog = read_po(handle)
    broken = [
        message.id
        for message in catalog
        if message.id
        and message.string
        and sorted(PLACEHOLDER.findall(str(message.id)))
        != sorted(PLACEHOLDER.findall(str(message.string)))
    ]
    assert not broken, f"placeholders differ between msgid and msgstr: {broken}"
    duplicates = [m.id for m in catalog if m.id and m.fuzzy]
    assert not duplicates, f"fuzzy entries are ignored at run time, fix them: {duplicates}"


def test_translate_fills_placeholders_in_both_languages() -> None:
    message = "Too many failed logins. Try again in {minutes} minutes."
    assert translate("vi", message, minutes=15) == (
        "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau 15 phút."
    )
    assert translate("en", message, minutes=15) == (
        "Too many failed logins. Try again in 15 minutes."
    )
    assert translate("fr", "Log in") == "Đăng nhập"  # unknown language: Vietnamese


async def test_pages_are_vietnamese_by_default_and_switch_in_one_click(client: TestClient) -> None:
    html = await (await client.get("/")).text()
    assert '<html lang="vi">' in html and "Tổng đài chăm sóc khách hàng" in html
    response = await client.get("/language/en", params={"next": "/login"}, allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (302, "/login")
    html = await (await client.get("/login")).text()
    assert '<html lang="en">' in html and ">Log in<" in html and "Tiếng Việt" in html
    await client.get("/language/vi")
    assert "Đăng nhập" in await (await client.get("/login")).text()
    assert (await client.get("/language/fr")).status == 404


async def test_a_users_language_applies_after_login(client: TestClient) -> None:
    await make_user(client, "john", "admin", language="en")
    await login(client, "john", DEFAULT_PASSWORD)
    html = await (await client.get("/admin/audit")).text()
    assert "<h1>Audit log</h1>" in html and "Log out" in html
    await client.get("/language/vi")  # the switch wins over the account's language
    assert "<h1>Nhật ký hệ thống</h1>" in await (await client.get("/admin/audit")).text()


async def test_error_messages_follow_the_language(client: TestClient) -> None:
    await client.get("/language/en")
    response = await client.post("/logout", data={"csrf_token": "forged"})
    assert response.status == 403
    assert "security token of this form is not valid" in await response.text()
