// The validation cache: parsing and chain verification of one presented chain (leaf DER plus its
// intermediates) is done once and then served from here, because the OpenSSL work (d2i_X509 alone
// is ~80 µs, a chain verification several signature checks) would otherwise dominate every
// Authorize call.
//
// What is cached is only a function of the chain bytes, the trust anchors and time: parse
// results, the verified chain and the window of time in which that outcome holds. Revocation,
// enrollment and user state are never cached (the pipeline reads them from the store on every
// request). An entry is served only
//   - for the generation it was computed under: the Validator bumps the generation when the
//     trust anchors are reloaded or a CRL is imported, which makes every older entry a miss;
//   - while `now` is inside its validity window, which never extends past the notAfter of any
//     certificate it vouches for (so time moving on, or a clock set back, is a miss and the chain
//     is verified again, giving the precise EXPIRED / NOT_YET_VALID reason).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace certgate::certs {

struct Validation;  // validator.h

// SHA-256 of one presented chain, as the Validator computes it (see ChainKeyOf there).
using ChainKey = std::array<unsigned char, 32>;

struct ValidationCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;  // includes entries dropped for an old generation or an expired window
  uint64_t insertions = 0;
  uint64_t evictions = 0;  // dropped to stay within the bound
  size_t entries = 0;
};

// A bounded, sharded LRU map from ChainKey to an immutable Validation.
// Thread-safe: each shard has its own mutex, held only for a hash lookup and a list splice, so
// concurrent requests for different chains rarely contend and none waits for OpenSSL work.
class ValidationCache {
 public:
  // Holds at most `max_entries` entries in total (0 disables caching: every Lookup misses and
  // Insert keeps nothing). `shards` is clamped to [1, max_entries].
  explicit ValidationCache(size_t max_entries, size_t shards = 16);
  ValidationCache(const ValidationCache&) = delete;
  ValidationCache& operator=(const ValidationCache&) = delete;

  // The entry for `key` if it was inserted under `generation` and valid_from <= now <=
  // valid_until (and marks it most recently used); otherwise nullptr, dropping a stale entry.
  std::shared_ptr<const Validation> Lookup(const ChainKey& key, uint64_t generation, int64_t now);

  // Inserts or replaces the entry for `key`, evicting the shard's least recently used entry when
  // the shard is full. The window is in Unix seconds, inclusive.
  void Insert(const ChainKey& key, uint64_t generation, int64_t valid_from, int64_t valid_until,
              std::shared_ptr<const Validation> value);

  // Drops every entry (the statistics counters are kept).
  void Clear();

  ValidationCacheStats Stats() const;
  size_t max_entries() const { return per_shard_ * shards_.size(); }

 private:
  struct KeyHash {
    size_t operator()(const ChainKey& key) const {
      size_t h;  // the key is already a uniformly distributed digest
      std::memcpy(&h, key.data() + 8, sizeof h);
      return h;
    }
  };
  struct Entry {
    ChainKey key;
    uint64_t generation;
    int64_t valid_from;
    int64_t valid_until;
    std::shared_ptr<const Validation> value;
  };
  struct Shard {
    mutable std::mutex mu;
    // Guarded by mu: entries most recently used first, an index into them, and counters.
    std::list<Entry> lru;
    std::unordered_map<ChainKey, std::list<Entry>::iterator, KeyHash> index;
    uint64_t hits = 0, misses = 0, insertions = 0, evictions = 0;
  };

  Shard& ShardFor(const ChainKey& key) { return *shards_[key[0] % shards_.size()]; }

  std::vector<std::unique_ptr<Shard>> shards_;  // fixed after construction
  size_t per_shard_ = 0;                        // capacity of each shard
};

}  // namespace certgate::certs
