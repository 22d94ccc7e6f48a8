"""JSON bodies that end with a newline, as text on a terminal should (``curl`` output)."""

from django import http
from rest_framework import renderers


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSON renderer, plus a final ``\\n`` (an empty body stays empty)."""

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        body = super().render(data, accepted_media_type, renderer_context)
        return body + b"\n" if body else body


class JsonResponse(http.JsonResponse):
    """Django's ``JsonResponse`` for the views outside DRF, ending with ``\\n`` too."""

    def __init__(self, data, **kwargs) -> None:
        super().__init__(data, **kwargs)
        self.content = self.content + b"\n"
