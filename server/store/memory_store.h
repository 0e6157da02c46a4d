// In-memory fake of Store with identical semantics, for unit tests. Thread-safe (one mutex).
// Fault injection: FailNextCalls(n, status) makes the next n mutating/reading calls return status.
#pragma once

#include <memory>

#include "server/common/clock.h"
#include "server/store/store.h"

namespace certgate::store {

class MemoryStore;
std::unique_ptr<MemoryStore> NewMemoryStore(const Clock& clock);

}  // namespace certgate::store
