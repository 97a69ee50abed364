// client_store: list / show / cp / rm / create through a running server (as the ollama CLI does).
// cmd_store.cpp calls these when no --models directory is given and a server answers; otherwise
// it works offline on the store directly.
#pragma once
#include <string>
#include <vector>

namespace paddock::cli {

// True when the command should go through the server (no explicit store dir, server reachable).
bool use_server(const std::string& models_dir);

int remote_list();
// field: "" (summary), "license", "modelfile", "parameters", "template", "system".
int remote_show(const std::string& name, const std::string& field, bool verbose);
int remote_cp(const std::string& src, const std::string& dst);
int remote_rm(const std::vector<std::string>& names);
int remote_create(const std::string& name, const std::string& modelfile_path);

}  // namespace paddock::cli
