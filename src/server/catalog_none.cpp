// catalog_none: builds without the store module cannot serve models; say so clearly.
#include "server/catalog.h"

namespace paddock::server {

Result<std::unique_ptr<Catalog>> open_catalog(const std::string&, uint64_t) {
  return make_error(ErrorCode::kUnsupported, "this build of paddock has no model store module");
}

}  // namespace paddock::server
