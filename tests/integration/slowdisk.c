// slowdisk: an LD_PRELOAD library that makes the model store's disk slow for the integration
// tests. Creating, writing to and removing a blob being uploaded (a ".tmp-sha256-…" file in the
// store) first sleeps PADDOCK_SLOWDISK_MS milliseconds per call, as a disk that does not keep up
// would hold the calling thread. Nothing else is touched. Under ASan, run with
// ASAN_OPTIONS=verify_asan_link_order=0 (this library comes before the sanitizer's runtime).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAX_FD 65536
static atomic_bool slow_fd[MAX_FD];

static void hold(void) {
  const char* s = getenv("PADDOCK_SLOWDISK_MS");
  long ms = s ? atol(s) : 0;
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static int is_upload(const char* path) { return path && strstr(path, ".tmp-sha256-") != NULL; }

int openat(int dirfd, const char* path, int flags, ...) {
  static int (*real)(int, const char*, int, ...);
  if (!real) real = (int (*)(int, const char*, int, ...))dlsym(RTLD_NEXT, "openat");
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = (mode_t)va_arg(ap, int);
    va_end(ap);
  }
  if (is_upload(path)) hold();
  int fd = real(dirfd, path, flags, mode);
  if (fd >= 0 && fd < MAX_FD) atomic_store(&slow_fd[fd], is_upload(path));
  return fd;
}

int unlinkat(int dirfd, const char* path, int flags) {
  static int (*real)(int, const char*, int);
  if (!real) real = (int (*)(int, const char*, int))dlsym(RTLD_NEXT, "unlinkat");
  if (is_upload(path)) hold();
  return real(dirfd, path, flags);
}

ssize_t write(int fd, const void* buf, size_t n) {
  static ssize_t (*real)(int, const void*, size_t);
  if (!real) real = (ssize_t (*)(int, const void*, size_t))dlsym(RTLD_NEXT, "write");
  if (fd >= 0 && fd < MAX_FD && atomic_load(&slow_fd[fd])) hold();
  return real(fd, buf, n);
}

int close(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "close");
  if (fd >= 0 && fd < MAX_FD) atomic_store(&slow_fd[fd], 0);
  return real(fd);
}
