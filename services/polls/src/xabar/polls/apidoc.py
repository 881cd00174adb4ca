"""The OpenAPI document of the polls service: the runtime's builder, plus form bodies."""

from typing import Any

from pydantic import BaseModel

from xabar.runtime.openapi import OpenAPI

FORM = "application/x-www-form-urlencoded"
HTML = "text/html"


class PollsOpenAPI(OpenAPI):
    """``OpenAPI`` that can also declare an HTML form as a second request body of an operation
    (the vote route takes JSON or a form, and answers a form's errors with HTML pages)."""

    def __init__(self, title: str, version: str, description: str = "") -> None:
        super().__init__(title, version, description)
        self._forms: dict[tuple[str, str], type[BaseModel]] = {}

    def form_body(self, method: str, path: str, model: type[BaseModel]) -> None:
        self._forms[(method.lower(), path)] = model
        self._cached = None

    def document(self) -> dict[str, Any]:
        doc = super().document()
        for (method, path), model in self._forms.items():
            operation = doc["paths"][path][method]
            body = operation.setdefault("requestBody", {"required": True, "content": {}})
            body["content"][FORM] = {"schema": model.model_json_schema()}
            # a form is answered with pages: its errors come as HTML, not as the JSON error body
            for status, response in operation["responses"].items():
                if status.startswith("4") and "content" in response:
                    response["content"].setdefault(HTML, {"schema": {"type": "string"}})
        return doc
