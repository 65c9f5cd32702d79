"""The interactive API docs (Swagger UI) under the site's strict Content Security Policy.

drf-spectacular's split view serves the page's script from our own origin, so ``script-src 'self'``
holds. The page also carries one short inline ``<style>``; rather than allowing inline styles, this
page's policy allows exactly that block by its SHA-256 hash, computed from the installed template.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from pathlib import Path
from typing import Any

from csp.decorators import csp_update
from django.template.loader import get_template
from drf_spectacular.views import SpectacularSwaggerSplitView

INLINE_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


@cache
def inline_style_hashes(template_name: str) -> tuple[str, ...]:
    source = Path(get_template(template_name).origin.name).read_text(encoding="utf-8")
    return tuple(
        "'sha256-" + base64.b64encode(hashlib.sha256(block.encode()).digest()).decode() + "'"
        for block in INLINE_STYLE.findall(source)
    )


def swagger_ui_view(**initkwargs: Any) -> Any:
    """The Swagger UI page, with its inline style allowed by hash and nothing else relaxed."""
    hashes = inline_style_hashes(SpectacularSwaggerSplitView.template_name)
    return csp_update({"style-src": list(hashes)})(SpectacularSwaggerSplitView.as_view(**initkwargs))
