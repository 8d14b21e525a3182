# The Polku image of compose.yaml: the wheel with its PostgreSQL extra, run as a plain user.
# docs/DEPLOYMENT.md gives the settings; the same image runs the API, the jobs and MLflow.
FROM python:3.11-slim AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY models models
COPY pipeline pipeline
COPY service service
RUN pip wheel --no-cache-dir --no-deps -w /dist .

FROM python:3.11-slim
COPY --from=wheel /dist /dist
RUN pip install --no-cache-dir "$(ls /dist/polku-*.whl)[postgres]" && rm -rf /dist \
    && useradd --system --create-home --home-dir /var/lib/polku polku
USER polku
# Named volumes mounted here start as the image's folders: owned by polku.
RUN mkdir -p /var/lib/polku/mlartifacts
WORKDIR /var/lib/polku
ENV POLKU_STATE_DIR=/var/lib/polku
EXPOSE 8000
CMD ["polku", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
