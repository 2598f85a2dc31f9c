# abuse-detector worker image: slim Python, non-root, every dependency pinned.
#   docker build -t abuse-detector .
#   docker run --rm -e ABUSE_BROKER_URL=kafka://broker:9092 -p 9464:9464 abuse-detector worker
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Dependencies first, so a code change does not reinstall them.
COPY deploy/constraints.txt deploy/constraints.txt
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --constraint deploy/constraints.txt pip setuptools wheel
COPY pyproject.toml README.md ./
COPY app ./app
# No build isolation: the pinned setuptools above builds the package; --constraint pins
# the whole dependency tree, so two builds of one commit install the same versions.
RUN /opt/venv/bin/pip install --no-build-isolation --constraint deploy/constraints.txt '.[rocksdb]' \
 && /opt/venv/bin/pip check
# The detection core compiled with mypyc (docs/performance.md, "The compiled core"): the
# same code and findings, both stages about 1.6x faster. The compiler and mypy stay in this
# stage; --build-arg COMPILE_CORE=0 builds the pure-Python image. The extensions go beside
# the installed sources, and the last step fails the build if Python would not load them.
ARG COMPILE_CORE=1
COPY tools/build_core.py tools/build_core.py
RUN if [ "$COMPILE_CORE" = 1 ]; then \
      apt-get update \
      && apt-get install -y --no-install-recommends gcc libc6-dev \
      && rm -rf /var/lib/apt/lists/* \
      && python -m venv /opt/mypyc \
      && /opt/mypyc/bin/pip install --constraint deploy/constraints.txt mypy setuptools \
      && /opt/mypyc/bin/python tools/build_core.py \
      && site="$(/opt/venv/bin/python -P -c 'import app, pathlib; print(pathlib.Path(app.__file__).parent.parent)')" \
      && find app -name '*.so' -exec cp --parents {} "$site" \; \
      && /opt/venv/bin/python -P -W error::RuntimeWarning -c 'import app.core.coordination as c, app.events as e; assert c.__file__.endswith(".so") and e.__file__.endswith(".so"), (c.__file__, e.__file__)'; \
    fi

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="abuse-detector" \
      org.opencontainers.image.description="Streaming detector of LLM-API abuse and distillation campaigns" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ABUSE_METRICS_PORT=9464 \
    ABUSE_DATA_DIR=/var/lib/abuse-detector
# A fixed uid/gid so volume permissions are the same on every host and in Kubernetes.
RUN groupadd --system --gid 10001 abuse \
 && useradd --system --uid 10001 --gid abuse --home-dir /var/lib/abuse-detector --shell /usr/sbin/nologin abuse \
 && install -d -o abuse -g abuse -m 0750 /var/lib/abuse-detector
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
WORKDIR /var/lib/abuse-detector
VOLUME ["/var/lib/abuse-detector"]
EXPOSE 9464
ENTRYPOINT ["abuse-detector"]
CMD ["worker"]
