// Request ids that certgate generates when a caller sends none.
#pragma once

#include <string>

namespace certgate::api {

// 24 lowercase hex characters: 12 for the milliseconds since the Unix epoch, then 12 for 48
// random bits (RAND_bytes). Unique like a random id, but time-ordered, so the audit table's
// request_id index grows at its right edge instead of dirtying a random leaf page per row. Random
// keys made each audit row about 30 % more expensive to commit (bench/RESULTS.md). Returns "" if
// the random generator fails. Thread-safe.
std::string NewRequestId();

}  // namespace certgate::api
