"""``{% managers_duty_line %}``: the managers' 24-hour duty line, to tap to call; ``{% provider_duty_phone
provider %}``: a care provider's, for managers only."""

from __future__ import annotations

from django import template

from referrals.wording import managers_duty_line, provider_duty_phone

register = template.Library()
register.simple_tag(managers_duty_line)
register.simple_tag(provider_duty_phone)
