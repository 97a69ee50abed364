# expect: pinned-base
FROM debian:latest@sha256:d5d3f9c23164ea16f31852f95bd5959aad1c5e854332fe00f7b3a20fcc9f635c
USER 10001
HEALTHCHECK CMD ["curl", "-f", "http://127.0.0.1:8080/livez"]
ENTRYPOINT ["/usr/local/bin/paddock", "serve"]
