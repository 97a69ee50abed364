#!/bin/sh
# collect_libs.sh BINARY DESTDIR: copies the shared libraries BINARY links (ldd) into DESTDIR,
# except glibc's own and CUDA's (the runtime base image provides those), so the runtime stage
# needs no -dev packages and no package names that differ between distributions.
set -eu
bin=$1 dest=$2
mkdir -p "$dest"
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*|libresolv.so.*) continue ;;
    libcuda.so.*|libcudart.so.*|libcublas.so.*|libcublasLt.so.*|libnvidia-ml.so.*) continue ;;
  esac
  case "$lib" in /usr/local/cuda*) continue ;; esac
  cp -L "$lib" "$dest/"
done
# The binary must resolve every library from here on (a missing one fails the build, not the pod).
LD_LIBRARY_PATH="$dest" ldd "$bin" | awk '/not found/ { print; bad = 1 } END { exit bad }'
