"""The one format of Harbour's log lines, for Django and Celery alike (``LOGGING``, ``config.celery``)."""

import logging
import time


class UtcFormatter(logging.Formatter):
    """Times in UTC with their offset, as gunicorn writes its own lines: Django sets the process's time
    zone to Europe/London, whose local times repeat an hour every October and differ from gunicorn's."""

    default_time_format = "%Y-%m-%d %H:%M:%S"
    default_msec_format = "%s.%03d +0000"

    def converter(self, seconds: float | None) -> time.struct_time:
        return time.gmtime(seconds)
