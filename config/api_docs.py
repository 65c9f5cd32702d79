"""The interactive API docs (Swagger UI from drf-spectacular's sidecar), under the site's strict CSP.

The page loads its scripts from our own origin (the init script too, through the split view), and its
one inline style block is allowed by hash, so the policy needs no 'unsafe-inline'.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response

STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def style_hashes(html: str) -> list[str]:
    return [
        f"'sha256-{base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()}'"
        for block in STYLE_BLOCK.findall(html)
    ]


class ApiDocsView(SpectacularSwaggerSplitView):
    # drf-spectacular's page, but in English for screen readers: its <html> has no lang.
    template_name = "api_docs.html"

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)

        def allow_inline_styles(rendered: Any) -> None:
            hashes = style_hashes(rendered.content.decode())
            if hashes:
                rendered._csp_update = {"style-src": hashes}

        response.add_post_render_callback(allow_inline_styles)
        return response


def outcome_has_no_other_fields(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """A schema hook: a provider's transition answers ``oneOf`` a referral or its outcome, so a full
    referral must not also pass for an outcome (``referrals.api.views.REFERRAL_OR_OUTCOME``)."""
    schemas = result.get("components", {}).get("schemas", {})
    if "ReferralOutcome" in schemas:
        schemas["ReferralOutcome"]["additionalProperties"] = False
    return result
