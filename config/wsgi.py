import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Each API read checks its query parameters against the schema's: build that list as the worker starts
# (a schema that cannot be built stops the worker here), not on the first read a caller waits for.
from referrals.api.query_parameters import documented_query_parameters  # noqa: E402 - needs the app set up

documented_query_parameters()
