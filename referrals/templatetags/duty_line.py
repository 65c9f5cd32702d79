"""``{% managers_duty_line %}``: the managers' 24-hour duty line, to tap to call."""

from __future__ import annotations

from django import template

from referrals.wording import managers_duty_line

register = template.Library()
register.simple_tag(managers_duty_line)
