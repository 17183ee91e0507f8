# socstack images: one target per service, all from this file and one shared base, so
# Compose on a laptop and Kubernetes on a cluster run the very same images.
#
#   docker build --target hapi -t socstack-hapi .      (hapi, api, worker, mining, viz, analysis, migrate)
#
# Air-gapped (no registry, no package index; scripts/setup-docker makes both inputs):
#
#   docker build --network host --target hapi -t socstack-hapi \
#       --build-arg PYTHON_IMAGE=socstack-base:<hash> \
#       --build-arg WHEELHOUSE=wheelhouse/py311-<hash> \
#       --build-arg PIP_FIND_LINKS=/wheelhouse --build-arg PIP_NO_INDEX=1 .
#
# (No "# syntax=" line: BuildKit would fetch that frontend image from a registry; the
# engine's built-in Dockerfile frontend reads everything used here.)
#
# Every final image runs as the numeric user 10001 (no root, no shell login), holds no
# secret (settings come from SOC_* variables at run time), has a HEALTHCHECK, and adds
# only its virtual environment to the base: compilers, pip caches and the source tree
# stay in the build stages. What each service adds is in services/<name>/.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
# A folder of wheels in the build context, copied into the build stages only (never into
# a final image); the default is a placeholder. pip reads it when PIP_FIND_LINKS (and
# PIP_NO_INDEX) are given; unset, pip uses its index as usual.
ARG WHEELHOUSE=wheelhouse/README.md

# -- base: the interpreter every stage starts from ------------------------------------------
FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# -- wheel: socstack built once (with the bundled missions) for every target -----------------
FROM base AS wheel
ARG WHEELHOUSE
ARG PIP_FIND_LINKS
ARG PIP_NO_INDEX
COPY ${WHEELHOUSE} /wheelhouse/
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
COPY missions ./missions
RUN pip wheel --no-deps --wheel-dir /wheels .

# -- venv-*: one virtual environment per kind of service ---------------------------------------
FROM base AS venv
ARG WHEELHOUSE
COPY ${WHEELHOUSE} /wheelhouse/
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY --from=wheel /wheels /wheels

# api, hapi and migrate share one environment, so a node pulls its layers once.
FROM venv AS venv-web
ARG PIP_FIND_LINKS
ARG PIP_NO_INDEX
RUN pip install --no-cache-dir "$(ls /wheels/socstack-*.whl)[api,hapi,pipeline,postgres,s3]"

# Workers also run the demo mission's quicklooks (matplotlib).
FROM venv AS venv-worker
ARG PIP_FIND_LINKS
ARG PIP_NO_INDEX
RUN pip install --no-cache-dir "$(ls /wheels/socstack-*.whl)[api,hapi,pipeline,demo,postgres,s3]"

# Mining workers: the worker's environment plus the mining extra (ruptures; stumpy and
# its numba, which compiles the searches on first use).
FROM venv AS venv-mining
ARG PIP_FIND_LINKS
ARG PIP_NO_INDEX
RUN pip install --no-cache-dir "$(ls /wheels/socstack-*.whl)[api,hapi,pipeline,demo,postgres,s3,mining]"

FROM venv AS venv-viz
ARG PIP_FIND_LINKS
ARG PIP_NO_INDEX
RUN pip install --no-cache-dir "$(ls /wheels/socstack-*.whl)[api,hapi,pipeline,viz]"

FROM venv AS venv-analysis
ARG PIP_FIND_LINKS
ARG PIP_NO_INDEX
COPY services/analysis/requirements.txt /tmp/analysis-requirements.txt
RUN pip install --no-cache-dir "$(ls /wheels/socstack-*.whl)[all]" -r /tmp/analysis-requirements.txt

# -- runtime: the base of every final image -------------------------------------------------
FROM base AS runtime
RUN groupadd --system --gid 10001 socstack \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin socstack \
    && install -d -o 10001 -g 10001 -m 0750 /data
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/data \
    MPLCONFIGDIR=/tmp/matplotlib \
    SOC_DATA_DIR=/data \
    SOC_HOST=0.0.0.0 \
    SOC_PORT=8000 \
    SOC_LOG_FORMAT=json
WORKDIR /data
USER 10001:10001

# -- hapi: the HAPI 3.3 server at /hapi (services/hapi) -----------------------------------
FROM runtime AS hapi
COPY --from=venv-web /opt/venv /opt/venv
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["socstack", "health", "--url", "http://127.0.0.1:8000/hapi/capabilities"]
CMD ["socstack", "serve", "hapi"]

# -- api: the data-center API at /api and /metrics (services/api) -------------------------
FROM runtime AS api
COPY --from=venv-web /opt/venv /opt/venv
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["socstack", "health", "--url", "http://127.0.0.1:8000/api/ready"]
CMD ["socstack", "serve", "api"]

# -- worker: Celery processing workers, and the planner (services/worker) -----------------
FROM runtime AS worker
COPY --from=venv-worker /opt/venv /opt/venv
HEALTHCHECK --interval=30s --timeout=15s --start-period=30s --retries=3 \
    CMD ["socstack", "health", "--broker"]
CMD ["socstack", "worker", "--queues", "processing,processing.onprem,processing.any,quicklook"]

# -- mining: Celery workers for the mining queue: detectors, similarity search (services/mining)
# numba caches what it compiles; the root filesystem is read-only, /tmp is not.
FROM runtime AS mining
COPY --from=venv-mining /opt/venv /opt/venv
ENV NUMBA_CACHE_DIR=/tmp/numba
HEALTHCHECK --interval=30s --timeout=15s --start-period=30s --retries=3 \
    CMD ["socstack", "health", "--broker"]
CMD ["socstack", "worker", "--queues", "mining"]

# -- viz: the Dash app at /viz (services/viz) ---------------------------------------------
FROM runtime AS viz
COPY --from=venv-viz /opt/venv /opt/venv
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["socstack", "health", "--url", "http://127.0.0.1:8000/viz/"]
CMD ["socstack", "serve", "viz"]

# -- analysis: JupyterLab at /notebook, next to the data (services/analysis) ---------------
# socstack's sign-in in front of a private JupyterLab child on loopback, as in `socstack up`;
# /notebook/api answers the health check without credentials, and nothing else does.
FROM runtime AS analysis
COPY --from=venv-analysis /opt/venv /opt/venv
EXPOSE 8888
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["socstack", "health", "--url", "http://127.0.0.1:8888/notebook/api"]
CMD ["socstack", "serve", "notebook"]

# -- migrate: one-shot catalog migration, run before every service (services/migrate) ------
FROM runtime AS migrate
COPY --from=venv-web /opt/venv /opt/venv
# A one-shot job has nothing to probe: it succeeds (exit 0) or fails, and the services
# that depend on it wait for that (Compose service_completed_successfully, a Job).
HEALTHCHECK NONE
CMD ["socstack", "db", "upgrade"]
