"""Read an HTML form's fields as a browser would submit them (no browser needed)."""

from __future__ import annotations

import html.parser
import typing as t


class _FormReader(html.parser.HTMLParser):
    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.skip = 0  # depth inside <template>
        self.fields: list[tuple[str, str]] = []
        self.select: str | None = None
        self.select_options: list[tuple[str, bool]] = []
        self.select_multiple = False
        self.textarea: str | None = None
        self.text = ""
        self.option: dict[str, t.Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v if v is not None else "" for k, v in attrs}
        if tag == "template":
            self.skip += 1
        if self.skip:
            return
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        if tag == "input" and "name" in a and "disabled" not in a:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((a["name"], a.get("value", "on")))
            elif kind not in ("submit", "button", "file"):
                self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select" and "name" in a:
            self.select, self.select_options = a["name"], []
            self.select_multiple = "multiple" in a
        elif tag == "option" and self.select is not None:
            self.option = {"value": a.get("value"), "selected": "selected" in a, "text": ""}
        elif tag == "textarea" and "name" in a:
            self.textarea, self.text = a["name"], ""

    def handle_data(self, data: str) -> None:
        if self.option is not None:
            self.option["text"] += data
        if self.textarea is not None:
            self.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "template":
            self.skip -= 1
            return
        if self.skip or not self.inside:
            return
        if tag == "option" and self.option is not None:
            value = self.option["value"]
            self.select_options.append((self.option["text"] if value is None else value,
                                        self.option["selected"]))
            self.option = None
        elif tag == "select" and self.select is not None:
            chosen = [v for v, selected in self.select_options if selected]
            if not chosen and not self.select_multiple and self.select_options:
                chosen = [self.select_options[0][0]]
            self.fields.extend((self.select, v) for v in chosen)
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            self.fields.append((self.textarea, self.text.removeprefix("\n")))
            self.textarea = None
        elif tag == "form":
            self.inside = False


def form_fields(page: str, form_id: str) -> list[tuple[str, str]]:
    """The (name, value) pairs form ``form_id`` of ``page`` submits as it stands."""
    reader = _FormReader(form_id)
    reader.feed(page)
    return reader.fields
