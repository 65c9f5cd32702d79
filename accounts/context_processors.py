from django.conf import settings
from django.http import HttpRequest

from .sessions import seconds_left

# The warning comes this long before the session ends, or half the idle limit if that is shorter: with a
# limit of two minutes or less, a page warning two minutes before would open with the warning.
WARN_BEFORE_SECONDS = 120


def session_seconds_left(request: HttpRequest) -> dict[str, int]:
    """When a signed-in page warns that its session is ending (``templates/base.html``)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "session_seconds_left": seconds_left(request),
        "session_warn_before": min(WARN_BEFORE_SECONDS, settings.SESSION_COOKIE_AGE // 2),
    }
