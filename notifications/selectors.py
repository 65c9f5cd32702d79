from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import User

from .models import InboxItem


def inbox_for(user: User) -> QuerySet[InboxItem]:
    return InboxItem.objects.filter(user=user).order_by("-created_at", "-id")


def unread_count(user: User) -> int:
    return InboxItem.objects.filter(user=user, read_at__isnull=True).count()
