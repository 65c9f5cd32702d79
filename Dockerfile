# Harbour's image: migrate (once), web (gunicorn), worker, sweeper and beat all run from it; see
# docker-compose.yml. The default command only serves: it applies no migrations.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    HARBOUR_VAR_DIR=/app/var

WORKDIR /app

# Dependencies first, pinned by the lock file, so code changes do not reinstall them.
COPY requirements.lock ./
RUN pip install -r requirements.lock

COPY . .

# Static files are collected at build time and served by WhiteNoise from the image. The values below
# exist only for this step; the running containers take theirs from the environment.
RUN DEBUG=1 SECRET_KEY=collectstatic-only FIELD_HASH_KEY=collectstatic-only \
        python manage.py collectstatic --no-input --verbosity 0 \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin harbour \
    && mkdir -p /app/var /var/lib/harbour-beat \
    && chown -R harbour:harbour /app/var /var/lib/harbour-beat

USER harbour
EXPOSE 8000

CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", \
     "--access-logfile", "-", "--no-control-socket"]
