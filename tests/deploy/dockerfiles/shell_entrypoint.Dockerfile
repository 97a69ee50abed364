# expect: entrypoint healthcheck
FROM debian:bookworm-20251229-slim@sha256:d5d3f9c23164ea16f31852f95bd5959aad1c5e854332fe00f7b3a20fcc9f635c
USER paddock
HEALTHCHECK CMD ["curl", "-f", "http://127.0.0.1:8080/livez"]
HEALTHCHECK NONE
ENTRYPOINT /usr/local/bin/paddock serve
