# Lockstep worker and API image. The same image runs `lockstep worker` or `lockstep api`.
# /var/lib/lockstep-api holds the API's approval signing key (docker-compose.yml mounts it
# into the API alone).
FROM python:3.11-slim AS base
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 lockstep
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY lockstep ./lockstep
COPY workflows ./workflows
COPY activities ./activities
COPY workers ./workers
COPY policies ./policies
# constraints.txt: the image gets the versions the test suite passed with.
RUN pip install --no-cache-dir -c constraints.txt . \
 && mkdir -p /var/lib/lockstep /var/lib/lockstep-api /etc/lockstep \
 && chown lockstep /var/lib/lockstep /var/lib/lockstep-api \
 && chmod 0700 /var/lib/lockstep-api
USER lockstep
ENV LOCKSTEP_CONFIG=/etc/lockstep/lockstep-server.yaml \
    LOCKSTEP_STATE_DIR=/var/lib/lockstep
EXPOSE 8000
ENTRYPOINT ["lockstep"]
CMD ["worker"]
