// system_metrics: what the scrape reads from the operating system — this process's CPU, memory
// and descriptors from /proc, a runner's CPU and memory, and the GPUs through NVML, which is
// loaded with dlopen at the first scrape so the binary has no link-time dependency on the driver.
#include <dirent.h>
#include <dlfcn.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

#include <fmt/format.h>

#include "server/metrics.h"
#include "util/log.h"

namespace paddock::server {

namespace {

void gauge_header(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void sample(std::string& out, const char* name, double v, const std::string& labels = {}) {
  out += name;
  out += labels;
  out += ' ' + format_metric_value(v) + '\n';
}

// Fields of /proc/<pid>/stat after the command (which may contain spaces and parentheses).
bool read_stat_fields(int pid, std::vector<std::string>* fields) {
  std::ifstream f(pid > 0 ? fmt::format("/proc/{}/stat", pid) : std::string("/proc/self/stat"));
  std::string line;
  if (!std::getline(f, line)) return false;
  auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream is(line.substr(close + 2));
  std::string x;
  while (is >> x) fields->push_back(x);
  return fields->size() > 21;
}

}  // namespace

bool read_process_usage(int pid, double* cpu_seconds, double* rss_bytes) {
  std::vector<std::string> f;
  if (!read_stat_fields(pid, &f)) return false;
  double tick = double(::sysconf(_SC_CLK_TCK));
  double page = double(::sysconf(_SC_PAGESIZE));
  // After the command: state(0) ppid(1) … utime(11) stime(12) … rss(21).
  *cpu_seconds = (std::strtod(f[11].c_str(), nullptr) + std::strtod(f[12].c_str(), nullptr)) / tick;
  *rss_bytes = std::strtod(f[21].c_str(), nullptr) * page;
  return true;
}

void render_process_metrics(std::string& out) {
  std::vector<std::string> f;
  if (!read_stat_fields(0, &f)) return;
  double tick = double(::sysconf(_SC_CLK_TCK));
  double page = double(::sysconf(_SC_PAGESIZE));
  double cpu = (std::strtod(f[11].c_str(), nullptr) + std::strtod(f[12].c_str(), nullptr)) / tick;
  gauge_header(out, "process_cpu_seconds_total", "counter", "User and system CPU time of the server process in seconds.");
  sample(out, "process_cpu_seconds_total", cpu);
  gauge_header(out, "process_resident_memory_bytes", "gauge", "Resident memory of the server process in bytes.");
  sample(out, "process_resident_memory_bytes", std::strtod(f[21].c_str(), nullptr) * page);
  gauge_header(out, "process_virtual_memory_bytes", "gauge", "Virtual memory of the server process in bytes.");
  sample(out, "process_virtual_memory_bytes", std::strtod(f[20].c_str(), nullptr));
  gauge_header(out, "process_threads", "gauge", "Threads of the server process.");
  sample(out, "process_threads", std::strtod(f[17].c_str(), nullptr));
  // Start time: jiffies after boot (field 19) plus the boot time from /proc/stat.
  std::ifstream ps("/proc/stat");
  std::string line;
  while (std::getline(ps, line)) {
    if (line.rfind("btime ", 0) == 0) {
      double btime = std::strtod(line.c_str() + 6, nullptr);
      gauge_header(out, "process_start_time_seconds", "gauge", "Start time of the server process since the Unix epoch in seconds.");
      sample(out, "process_start_time_seconds", btime + std::strtod(f[19].c_str(), nullptr) / tick);
      break;
    }
  }
  int fds = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') fds++;
    ::closedir(d);
    fds--;  // the directory handle itself
    gauge_header(out, "process_open_fds", "gauge", "Open file descriptors of the server process.");
    sample(out, "process_open_fds", fds);
  }
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    gauge_header(out, "process_max_fds", "gauge", "Limit on open file descriptors of the server process.");
    sample(out, "process_max_fds", rl.rlim_cur == RLIM_INFINITY ? -1 : double(rl.rlim_cur));
  }
}

namespace {

// The handful of NVML entry points the scrape uses, declared here (their C ABI is stable since
// NVML's v2 symbols) so no NVIDIA header or library is needed to build.
using nvmlReturn = int;
using nvmlDevice = void*;
struct NvmlUtilization {
  unsigned int gpu, memory;  // percent of the last sample period
};
struct NvmlMemory {
  unsigned long long total, free, used;  // bytes
};

class Nvml {
 public:
  static Nvml& get() {
    static Nvml n;
    return n;
  }
  bool ok() const { return ok_; }
  unsigned count() {
    unsigned n = 0;
    return count_(&n) == 0 ? n : 0;
  }
  struct Sample {
    std::string name, uuid;
    bool have_util = false, have_mem = false;
    NvmlUtilization util{};
    NvmlMemory mem{};
  };
  bool sample(unsigned i, Sample* s) {
    nvmlDevice d = nullptr;
    if (handle_(i, &d) != 0) return false;
    char buf[128] = {0};
    if (name_(d, buf, sizeof buf - 1) == 0) s->name = buf;
    std::memset(buf, 0, sizeof buf);
    if (uuid_(d, buf, sizeof buf - 1) == 0) s->uuid = buf;
    s->have_util = util_(d, &s->util) == 0;
    s->have_mem = mem_(d, &s->mem) == 0;
    return true;
  }

 private:
  Nvml() {
    const char* path = std::getenv("PADDOCK_NVML_LIBRARY");
    void* h = ::dlopen(path && *path ? path : "libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      log::debug("metrics: no NVML library ({}): GPU metrics are off", ::dlerror());
      return;
    }
    auto sym = [&](const char* n) { return ::dlsym(h, n); };
    auto init = reinterpret_cast<nvmlReturn (*)()>(sym("nvmlInit_v2"));
    count_ = reinterpret_cast<nvmlReturn (*)(unsigned*)>(sym("nvmlDeviceGetCount_v2"));
    handle_ = reinterpret_cast<nvmlReturn (*)(unsigned, nvmlDevice*)>(sym("nvmlDeviceGetHandleByIndex_v2"));
    name_ = reinterpret_cast<nvmlReturn (*)(nvmlDevice, char*, unsigned)>(sym("nvmlDeviceGetName"));
    uuid_ = reinterpret_cast<nvmlReturn (*)(nvmlDevice, char*, unsigned)>(sym("nvmlDeviceGetUUID"));
    util_ = reinterpret_cast<nvmlReturn (*)(nvmlDevice, NvmlUtilization*)>(sym("nvmlDeviceGetUtilizationRates"));
    mem_ = reinterpret_cast<nvmlReturn (*)(nvmlDevice, NvmlMemory*)>(sym("nvmlDeviceGetMemoryInfo"));
    if (!init || !count_ || !handle_ || !name_ || !uuid_ || !util_ || !mem_) {
      log::debug("metrics: the NVML library lacks an expected symbol: GPU metrics are off");
      return;
    }
    if (int rc = init(); rc != 0) {
      log::debug("metrics: nvmlInit failed ({}): GPU metrics are off", rc);
      return;
    }
    ok_ = true;  // the library stays loaded for the life of the process
  }
  bool ok_ = false;
  nvmlReturn (*count_)(unsigned*) = nullptr;
  nvmlReturn (*handle_)(unsigned, nvmlDevice*) = nullptr;
  nvmlReturn (*name_)(nvmlDevice, char*, unsigned) = nullptr;
  nvmlReturn (*uuid_)(nvmlDevice, char*, unsigned) = nullptr;
  nvmlReturn (*util_)(nvmlDevice, NvmlUtilization*) = nullptr;
  nvmlReturn (*mem_)(nvmlDevice, NvmlMemory*) = nullptr;
};

std::mutex g_nvml_mu;  // NVML is thread-safe, but one scrape at a time keeps samples coherent

}  // namespace

void render_gpu_metrics(std::string& out) {
  std::lock_guard lk(g_nvml_mu);
  Nvml& n = Nvml::get();
  if (!n.ok()) return;
  unsigned count = std::min(n.count(), 64u);
  std::vector<std::pair<std::string, Nvml::Sample>> s;
  for (unsigned i = 0; i < count; ++i) {
    Nvml::Sample x;
    if (n.sample(i, &x)) s.emplace_back(std::to_string(i), std::move(x));
  }
  if (s.empty()) return;
  auto lbl = [](const std::string& gpu) { return "{gpu=\"" + gpu + "\"}"; };
  gauge_header(out, "paddock_gpu_info", "gauge", "One series per GPU NVML sees, with its name and UUID.");
  for (auto& [g, x] : s)
    sample(out, "paddock_gpu_info", 1,
           "{gpu=\"" + g + "\",name=\"" + escape_label_value(x.name) + "\",uuid=\"" + escape_label_value(x.uuid) + "\"}");
  gauge_header(out, "paddock_gpu_utilization_ratio", "gauge",
               "Fraction of the last sample period (0-1) in which the GPU ran a kernel (NVML).");
  for (auto& [g, x] : s)
    if (x.have_util) sample(out, "paddock_gpu_utilization_ratio", x.util.gpu / 100.0, lbl(g));
  gauge_header(out, "container_gpu_utilization", "gauge",
               "GPU utilisation as a 0-1 fraction (the same value as paddock_gpu_utilization_ratio).");
  for (auto& [g, x] : s)
    if (x.have_util) sample(out, "container_gpu_utilization", x.util.gpu / 100.0, lbl(g));
  gauge_header(out, "paddock_gpu_memory_used_bytes", "gauge", "GPU memory in use, by every process (NVML).");
  for (auto& [g, x] : s)
    if (x.have_mem) sample(out, "paddock_gpu_memory_used_bytes", double(x.mem.used), lbl(g));
  gauge_header(out, "paddock_gpu_memory_total_bytes", "gauge", "GPU memory installed (NVML).");
  for (auto& [g, x] : s)
    if (x.have_mem) sample(out, "paddock_gpu_memory_total_bytes", double(x.mem.total), lbl(g));
}

}  // namespace paddock::server
