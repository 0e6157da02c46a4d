// EmbeddedAdmin: the Admin service run in-process over a database file, for the CLI's `--db`
// mode (bootstrap of the first admin, recovery while no server runs — or while one does: SQLite
// WAL lets both write, and the server reads revocations fresh on every request).
//
// This is the one place the CLI links server code: re-implementing enrollment checks and
// audit rows in the CLI would let the two drift apart.
#pragma once

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "server/common/status.h"
#include "server/config/config.h"

namespace certgate::api {

class EmbeddedAdmin {
 public:
  // Opens (and migrates) the database; `actor` is recorded as the caller of every action.
  // `config` supplies forwarders/xfcc settings for Explain and the trust anchors (trust.*, crl.*)
  // that CRL imports are verified against and Explain validates chains with; InvalidArgument if
  // they cannot be loaded.
  static Result<std::unique_ptr<EmbeddedAdmin>> Open(const std::string& db_path,
                                                     const std::string& actor,
                                                     const config::Config& config);
  virtual ~EmbeddedAdmin() = default;
  // An in-process channel serving certgate.v1.Admin.
  virtual std::shared_ptr<grpc::Channel> channel() = 0;
};

}  // namespace certgate::api
