# The factory image: one image, several commands (compose.yaml picks them):
#   factory db upgrade | factory worker --queues Q | factory annotate app | celery ... flower
# The install step is scripts/install_factory.sh, the script scripts/setup.sh runs on every CI
# machine, so the image installs exactly what the tests ran against.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

WORKDIR /app
COPY pyproject.toml README.md ./
COPY scripts/install_factory.sh scripts/
COPY db db
COPY factory factory
COPY verifiers verifiers
COPY workers workers
COPY annotation_ui annotation_ui

# The CPU build of torch (only the instag extra's embedding model uses it; the GPU is vLLM's),
# from the PyTorch CPU wheel index your site uses (TORCH_INDEX in .env; compose passes it).
ARG EXTRAS=instag,deploy
ARG TORCH_INDEX
RUN test -n "$TORCH_INDEX" || { echo "set TORCH_INDEX to a PyTorch CPU wheel index" >&2; exit 1; }
RUN PIP_EXTRA_INDEX_URL=$TORCH_INDEX scripts/install_factory.sh /opt/venv "$EXTRAS"

# Not root. The sandbox worker reaches the Docker engine through the group of its socket
# (group_add in compose.yaml); nothing else in this image needs more than this user.
RUN useradd --system --uid 10001 --home-dir /app factory && chown -R factory /app
USER factory
EXPOSE 8501 5555
ENTRYPOINT ["factory"]
CMD ["--help"]
