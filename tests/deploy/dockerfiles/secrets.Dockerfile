# expect: no-secrets no-add-url
FROM debian:bookworm-20251229-slim@sha256:d5d3f9c23164ea16f31852f95bd5959aad1c5e854332fe00f7b3a20fcc9f635c
ENV PADDOCK_METRICS_TOKEN=s3cr3t-value
ADD https://example.com/model.gguf /models/
COPY deploy/keys.yaml /etc/paddock/keys.yaml
USER 10001
HEALTHCHECK NONE
HEALTHCHECK CMD ["curl", "-f", "http://127.0.0.1:8080/livez"]
ENTRYPOINT ["/usr/local/bin/paddock", "serve"]
