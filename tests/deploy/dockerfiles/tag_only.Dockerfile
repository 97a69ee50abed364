# expect: pinned-base
ARG BASE=debian:bookworm-20251229-slim
FROM ${BASE}
USER 10001
HEALTHCHECK CMD ["curl", "-f", "http://127.0.0.1:8080/livez"]
ENTRYPOINT ["/usr/local/bin/paddock", "serve"]
