// Sharded LRU of chain validations (see validation_cache.h).
#include "server/certs/validation_cache.h"

#include <algorithm>

namespace certgate::certs {

ValidationCache::ValidationCache(size_t max_entries, size_t shards) {
  const size_t n = max_entries == 0 ? 1 : std::clamp<size_t>(shards, 1, max_entries);
  per_shard_ = max_entries / n;  // floor: the total never exceeds max_entries
  shards_.reserve(n);
  for (size_t i = 0; i < n; ++i) shards_.push_back(std::make_unique<Shard>());
}

std::shared_ptr<const Validation> ValidationCache::Lookup(const ChainKey& key, uint64_t generation,
                                                          int64_t now) {
  Shard& shard = ShardFor(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.index.find(key);
  if (it == shard.index.end()) {
    ++shard.misses;
    return nullptr;
  }
  const Entry& entry = *it->second;
  if (entry.generation != generation || now < entry.valid_from || now > entry.valid_until) {
    shard.lru.erase(it->second);
    shard.index.erase(it);
    ++shard.misses;
    return nullptr;
  }
  shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
  ++shard.hits;
  return entry.value;
}

void ValidationCache::Insert(const ChainKey& key, uint64_t generation, int64_t valid_from,
                             int64_t valid_until, std::shared_ptr<const Validation> value) {
  if (per_shard_ == 0) return;
  Shard& shard = ShardFor(key);
  // The previous value (if any) is released after the lock is dropped.
  std::shared_ptr<const Validation> old;
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.index.find(key);
  if (it != shard.index.end()) {
    Entry& entry = *it->second;
    old = std::move(entry.value);
    entry = Entry{key, generation, valid_from, valid_until, std::move(value)};
    shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
    ++shard.insertions;
    return;
  }
  if (shard.lru.size() >= per_shard_) {
    shard.index.erase(shard.lru.back().key);
    old = std::move(shard.lru.back().value);
    shard.lru.pop_back();
    ++shard.evictions;
  }
  shard.lru.push_front(Entry{key, generation, valid_from, valid_until, std::move(value)});
  shard.index.emplace(key, shard.lru.begin());
  ++shard.insertions;
}

void ValidationCache::Clear() {
  for (auto& shard : shards_) {
    std::list<Entry> dropped;
    {
      std::lock_guard<std::mutex> lock(shard->mu);
      shard->index.clear();
      dropped.swap(shard->lru);
    }
  }
}

ValidationCacheStats ValidationCache::Stats() const {
  ValidationCacheStats s;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    s.hits += shard->hits;
    s.misses += shard->misses;
    s.insertions += shard->insertions;
    s.evictions += shard->evictions;
    s.entries += shard->lru.size();
  }
  return s;
}

}  // namespace certgate::certs
