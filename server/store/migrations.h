// Numbered schema migrations (migrations/NNNN_*.sql), embedded at build time.
#pragma once

#include <string>
#include <vector>

namespace certgate::store {

struct Migration {
  int version;
  std::string name;
  std::string sql;
};

// Sorted by version; defined in the generated embedded_migrations.cc.
const std::vector<Migration>& EmbeddedMigrations();

}  // namespace certgate::store
