// The audit row of one Authorize decision, built in one place for every caller: the blocking
// Authorizer::Authorize and the API layer's asynchronous path (callback gRPC handlers that hand
// the row to AuditWriter::RecordAsync instead of blocking in Record()).
#pragma once

#include <cstdint>

#include "server/authz/authorizer.h"
#include "server/store/store.h"

namespace certgate::authz {

// The "authorize" audit event for `decision` on `input`, stamped `time_micros`.
store::AuditEvent AuthorizeAuditEvent(const AuthorizeInput& input, const Decision& decision,
                                      int64_t time_micros);

}  // namespace certgate::authz
