from django.http import HttpRequest

from .selectors import unread_count


def inbox(request: HttpRequest) -> dict[str, int]:
    """The unread count shown in every page's header."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"inbox_unread": unread_count(user)}
