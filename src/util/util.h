// util: the public header of the module — errors as values, logging, mmap'd files, sha256,
// atomic file writes, fp16/bf16 conversion, UTF-8 helpers and a fixed thread pool.
#pragma once
#include "util/status.h"
#include "util/log.h"
#include "util/mmap_file.h"
#include "util/sha256.h"
#include "util/splitmix.h"
#include "util/fs.h"
#include "util/half.h"
#include "util/thread_pool.h"
#include "util/utf8.h"
