# expect: pinned-base non-root healthcheck entrypoint
# The users' guide's example, one instruction a line: an unpinned base, root, no health check,
# CMD instead of an ENTRYPOINT.
FROM nvidia/cuda:12.2.0-base-ubuntu22.04
WORKDIR /app
COPY ./ollama /app
RUN apt-get update && apt-get install -y libopenblas-dev
CMD ["./ollama", "serve", "--model-dir", "/mnt/cephfs-ollama/models"]
