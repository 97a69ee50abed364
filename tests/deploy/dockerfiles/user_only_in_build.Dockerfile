# expect: non-root healthcheck
# USER and HEALTHCHECK in the build stage do not carry into the final one.
FROM debian:bookworm-20251229-slim@sha256:d5d3f9c23164ea16f31852f95bd5959aad1c5e854332fe00f7b3a20fcc9f635c AS build
USER 10001
HEALTHCHECK CMD ["true"]
FROM debian:bookworm-20251229-slim@sha256:d5d3f9c23164ea16f31852f95bd5959aad1c5e854332fe00f7b3a20fcc9f635c
COPY --from=build /out/ /
ENTRYPOINT ["/usr/local/bin/paddock", "serve"]
