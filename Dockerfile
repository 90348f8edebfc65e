# btcbot: one cycle per container run (schedule it from the host's cron or a scheduler).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BTCBOT_STATE_DIR=/data/state

WORKDIR /app
COPY pyproject.toml README.md ./
COPY btcbot ./btcbot
COPY config ./config
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 10001 btcbot \
    && mkdir -p /data/state \
    && chown -R btcbot:btcbot /data

USER btcbot
VOLUME ["/data/state"]
ENTRYPOINT ["btcbot"]
CMD ["run"]
