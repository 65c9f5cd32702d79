"""What the API answers to OPTIONS."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.metadata import SimpleMetadata

if TYPE_CHECKING:
    # DRF imports this module while rest_framework.views is being loaded.
    from rest_framework.request import Request
    from rest_framework.views import APIView


class WithoutFieldsMetadata(SimpleMetadata):
    """The allowed methods (the Allow header), the endpoint's name and description and the media types,
    but no fields.

    DRF's fields come from the view's serializer, which here is the answer's: a referral's output fields
    offered as the input of a create or a transition. The schema at /api/v1/schema/ describes the input.
    """

    def determine_actions(self, request: Request, view: APIView) -> dict[str, Any]:
        return {}
