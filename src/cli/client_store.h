// client_store: list / show / cp / rm / create through a running server (as the ollama CLI does).
// cmd_store.cpp calls these unless a --models directory is given; then it works offline on the
// store directly. There is no silent fallback: with no server answering, these fail and say so.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace paddock::cli {

// True when the command goes through the server: no --models directory was given.
bool use_server(const std::string& models_dir);

struct ListedModel {
  std::string name, digest;
  uint64_t size = 0;
  std::chrono::system_clock::time_point modified_at;
};
Result<std::vector<ListedModel>> remote_list();
// field: "" (summary), "license", "modelfile", "parameters", "template", "system".
int remote_show(const std::string& name, const std::string& field, bool verbose);
int remote_cp(const std::string& src, const std::string& dst);
int remote_rm(const std::vector<std::string>& names);
int remote_create(const std::string& name, const std::string& modelfile_path);

}  // namespace paddock::cli
