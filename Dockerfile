FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY connector connector
COPY adapters adapters
COPY mappings mappings
COPY webhooks webhooks
RUN pip install --no-cache-dir .
ENV PYTHONUNBUFFERED=1
EXPOSE 8080
CMD ["gunicorn", "--bind", "0.0.0.0:8080", "--workers", "2", "--threads", "4", "webhooks.wsgi:app"]
