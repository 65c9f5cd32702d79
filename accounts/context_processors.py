from django.http import HttpRequest

from .sessions import seconds_left


def session_seconds_left(request: HttpRequest) -> dict[str, int]:
    """When a signed-in page warns that its session is ending (``templates/base.html``)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"session_seconds_left": seconds_left(request)}
