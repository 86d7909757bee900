# Image for the agentic-sciml service, its campaign workers and its Ray nodes (one image, roles chosen by
# deploy/entrypoint.sh; see docker-compose.yml). The sandbox needs bubblewrap inside the image; running it in
# a container also needs the container to be allowed to create namespaces (see sandbox/README.md).
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap libseccomp2 util-linux procps \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# torch first and pinned. The CPU wheel index keeps CUDA wheels out of a CPU image; for GPU nodes build with
#   docker compose build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN pip install --no-cache-dir "torch==2.13.0" --index-url "$TORCH_INDEX_URL"
COPY pyproject.toml README.md ./
COPY app app
COPY agents agents
COPY sandbox sandbox
COPY problems problems
COPY baselines baselines
COPY knowledge_base knowledge_base
COPY migrations migrations
COPY alembic.ini ./
# The `ray` extra: campaign workers submit evaluations to the cluster, Ray nodes run them.
RUN pip install --no-cache-dir ".[ray]"
COPY deploy deploy
RUN chmod 0755 deploy/entrypoint.sh
ENV AGENTIC_SCIML_DATA_DIR=/data
VOLUME ["/data"]
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["problems"]
