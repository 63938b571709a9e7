# syntax=docker/dockerfile:1
#
# One luna image; the command picks the mode:
#   docker run IMAGE                 -> python -m luna serve   (API + LUNA_VALIDATORS validators)
#   docker run IMAGE worker          -> validators only, probes and /metrics on LUNA_PORT
#   docker run IMAGE migrate         -> apply sql/*.sql under an advisory lock, then exit
#   docker run -i IMAGE user add NAME --team T --admin --password-stdin
#
# Stopping: luna drains for at most LUNA_SHUTDOWN_GRACE_S (25 s) after SIGTERM. `docker stop`
# waits only 10 s before SIGKILL, so give it more: `docker stop -t 35`, `stop_grace_period: 35s`
# in Compose, `terminationGracePeriodSeconds` above the drain in Kubernetes.

# Pinned to the Python minor CI runs the tests on (docs/deploy.md, "Which Python"): asyncio's
# cancellation bookkeeping differs between minors, and luna's shutdown relies on it.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: wheels for luna and every dependency, installed into a venv -------------------
FROM ${PYTHON_IMAGE} AS builder

# A compiler only here, for the rare platform where a dependency has no wheel.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
# Dependencies change less often than the code: build their wheels in their own layer, from
# an empty stand-in package. Its build leftovers go too: setuptools would otherwise keep the
# stand-in's (newer) files in build/ instead of the real ones.
COPY pyproject.toml README.md ./
RUN mkdir -p luna && touch luna/__init__.py \
 && pip wheel --wheel-dir /wheels . \
 && rm -rf /wheels/luna-*.whl build luna luna.egg-info
COPY luna ./luna
RUN pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-index --find-links /wheels luna \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib

# ---- runtime: the venv, the migrations, a non-root user; no compiler, no pip cache ----------
FROM ${PYTHON_IMAGE} AS runtime

ARG LUNA_UID=10001
RUN groupadd --system --gid ${LUNA_UID} luna \
 && useradd --system --uid ${LUNA_UID} --gid luna --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin luna

COPY --from=builder /opt/venv /opt/venv
# Every compressed DICOM transfer syntax luna accepts must decode in the image: fail the build
# when one of pylibjpeg's decoder plugins did not install for this platform.
RUN ["/opt/venv/bin/python", "-c", "from luna.validation.dicom_syntax import require_decoders; require_decoders()"]
WORKDIR /app
COPY sql ./sql

# LUNA_DATA_DIR sits under /tmp: the only writable path when the root filesystem is read-only
# (Kubernetes mounts an emptyDir there).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LUNA_HOST=0.0.0.0 \
    LUNA_PORT=8000 \
    LUNA_DATA_DIR=/tmp/luna \
    LUNA_SQL_DIR=/app/sql \
    LUNA_SHUTDOWN_GRACE_S=25

USER ${LUNA_UID}:${LUNA_UID}
EXPOSE 8000

# SIGTERM starts luna's drain (stop taking work, finish or hand back jobs within
# LUNA_SHUTDOWN_GRACE_S); the runtime must wait longer than that before SIGKILL.
STOPSIGNAL SIGTERM

# Both `serve` and `worker` answer /readiness on LUNA_PORT; no curl in the image, so Python asks.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readiness' % os.environ.get('LUNA_PORT', '8000'), timeout=4)"]

ENTRYPOINT ["python", "-m", "luna"]
CMD ["serve"]
