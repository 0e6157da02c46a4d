// Micro-benchmarks of certgate's storage work per request: the SQLite lookups Authorize makes
// (fingerprint, revocation, user) through SqliteStore and, for comparison, a bare prepared
// SQLite statement; the audit batch commit at several batch sizes; and the AuditWriter under
// sustained load (blocking Record() from many threads as the sync server does, RecordAsync as
// the callback server does), with the batch sizes it reaches. Databases are real files in a
// temporary directory with certgate's schema and synchronous=FULL, as in production.
#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "server/audit/audit_writer.h"
#include "server/certs/certificate.h"
#include "server/common/clock.h"
#include "server/store/sqlite_store.h"

namespace {

namespace fs = std::filesystem;
using certgate::store::Store;

// A temporary directory for the databases, removed at exit.
const std::string& TempDir() {
  struct Dir {
    std::string path;
    Dir() {
      path = (fs::temp_directory_path() / "certgate-micro-XXXXXX").string();
      if (!mkdtemp(path.data())) std::abort();
    }
    ~Dir() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

std::string Fingerprint(int64_t i) {
  return certgate::certs::Sha256Hex("cert-" + std::to_string(i));
}

// A database with `n` enrolled certificates (bulk-inserted), opened through SqliteStore.
struct Db {
  std::string path;
  std::unique_ptr<Store> store;
  int64_t user_id = 0;
};

Db& DbWith(int64_t n) {
  static std::map<int64_t, std::unique_ptr<Db>> dbs;
  auto& slot = dbs[n];
  if (slot) return *slot;
  slot = std::make_unique<Db>();
  slot->path = TempDir() + "/lookup-" + std::to_string(n) + ".db";
  certgate::store::SqliteOptions opts;
  opts.path = slot->path;
  auto store = certgate::store::OpenSqliteStore(opts, certgate::SystemClock::Instance());
  if (!store.ok()) std::abort();
  slot->store = std::move(*store);
  certgate::store::User u;
  u.name = "bench";
  auto created = slot->store->CreateUser(u);
  if (!created.ok()) std::abort();
  slot->user_id = created->id;

  sqlite3* db = nullptr;
  sqlite3_open(slot->path.c_str(), &db);
  sqlite3_exec(db, "PRAGMA synchronous=OFF; BEGIN", nullptr, nullptr, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO certificates (user_id, fingerprint_sha256, issuer_canonical, "
                     "subject_canonical, serial, der, created_at) VALUES (?,?,?,?,?,?,0)",
                     -1, &st, nullptr);
  const std::string der(480, 'x');  // the size of a bench EC certificate
  for (int64_t i = 0; i < n; ++i) {
    const std::string fp = Fingerprint(i);
    const std::string subject = "2.5.4.3=bench-" + std::to_string(i);
    const std::string serial = std::to_string(1000000 + i);
    sqlite3_bind_int64(st, 1, slot->user_id);
    sqlite3_bind_text(st, 2, fp.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, "2.5.4.3=certgate bench ca", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, subject.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, serial.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 6, der.data(), static_cast<int>(der.size()), SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) std::abort();
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  return *slot;
}

void BM_StoreFindCertificateByFingerprint(benchmark::State& state) {
  Db& db = DbWith(state.range(0));
  std::mt19937_64 rng(1);
  for (auto _ : state) {
    state.PauseTiming();
    const std::string fp = Fingerprint(static_cast<int64_t>(rng() % state.range(0)));
    state.ResumeTiming();
    auto found = db.store->FindCertificateByFingerprint(fp);
    if (!found.ok() || !found->has_value()) state.SkipWithError("lookup failed");
  }
}
BENCHMARK(BM_StoreFindCertificateByFingerprint)->Arg(1000)->Arg(100000);

// The floor: one prepared statement, no pool, no row mapping.
void BM_SqliteBareFingerprintLookup(benchmark::State& state) {
  Db& db = DbWith(state.range(0));
  sqlite3* h = nullptr;
  sqlite3_open_v2(db.path.c_str(), &h, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v3(h, "SELECT id, user_id FROM certificates WHERE fingerprint_sha256 = ?1", -1,
                     SQLITE_PREPARE_PERSISTENT, &st, nullptr);
  std::mt19937_64 rng(1);
  for (auto _ : state) {
    state.PauseTiming();
    const std::string fp = Fingerprint(static_cast<int64_t>(rng() % state.range(0)));
    state.ResumeTiming();
    sqlite3_bind_text(st, 1, fp.data(), static_cast<int>(fp.size()), SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) state.SkipWithError("lookup failed");
    benchmark::DoNotOptimize(sqlite3_column_int64(st, 0));
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
}
BENCHMARK(BM_SqliteBareFingerprintLookup)->Arg(1000)->Arg(100000);

void BM_StoreFindRevocation(benchmark::State& state) {
  Db& db = DbWith(1000);
  for (auto _ : state) {
    auto r = db.store->FindRevocation(Fingerprint(7), "2.5.4.3=certgate bench ca", "1000007");
    if (!r.ok()) state.SkipWithError("lookup failed");
  }
}
BENCHMARK(BM_StoreFindRevocation);

void BM_StoreGetUser(benchmark::State& state) {
  Db& db = DbWith(1000);
  for (auto _ : state) {
    auto r = db.store->GetUser(db.user_id);
    if (!r.ok() || !r->has_value()) state.SkipWithError("lookup failed");
  }
}
BENCHMARK(BM_StoreGetUser);

// How audit rows' request ids are shaped: random (what certgate generated before, and what
// proxies send, e.g. Envoy's UUIDv4 x-request-id) or time-ordered (certgate's generated ids).
enum class Ids { kRandom, kTimeOrdered };

std::string RequestId(Ids ids, int64_t i) {
  static thread_local std::mt19937_64 rng(std::hash<std::thread::id>()(std::this_thread::get_id()));
  char buf[32];
  if (ids == Ids::kRandom) {
    std::snprintf(buf, sizeof buf, "%012llx%012llx",
                  static_cast<unsigned long long>(rng() & 0xffffffffffffULL),
                  static_cast<unsigned long long>(rng() & 0xffffffffffffULL));
  } else {
    // Milliseconds then random bits, as server/api/request_id.cc (about 100 ids per ms here).
    std::snprintf(buf, sizeof buf, "%012llx%012llx",
                  static_cast<unsigned long long>(1'700'000'000'000LL + i / 100),
                  static_cast<unsigned long long>(rng() & 0xffffffffffffULL));
  }
  return buf;
}

certgate::store::AuditEvent Event(int64_t i, Ids ids = Ids::kRandom) {
  certgate::store::AuditEvent e;
  e.kind = "authorize";
  e.request_id = RequestId(ids, i);
  e.caller = "ipv4:127.0.0.1:54321";
  e.fingerprint_sha256 = Fingerprint(i % 1000);
  e.subject = "CN=bench-1000042,OU=warm,O=certgate bench,C=US";
  e.issuer = "CN=certgate Test Root CA,O=certgate tests,C=US";
  e.serial = "5ec0be4c2024010100000000000f426a";
  e.user_id = 42;
  e.user_name = "bench-user-42";
  e.decision = certgate::store::Decision::kAllow;
  e.action = "GET";
  e.resource = "/api/v1/orders";
  return e;
}

std::unique_ptr<Store> FreshStore(const std::string& name) {
  certgate::store::SqliteOptions opts;
  opts.path = TempDir() + "/" + name + ".db";
  auto store = certgate::store::OpenSqliteStore(opts, certgate::SystemClock::Instance());
  if (!store.ok()) std::abort();
  return std::move(*store);
}

// One durable transaction of `batch` (arg 0) audit rows (synchronous=FULL): rows/s by batch
// size; arg 1 = 1 for time-ordered request ids, 0 for random ones.
void BM_StoreAppendAuditBatch(benchmark::State& state) {
  const Ids ids = state.range(1) ? Ids::kTimeOrdered : Ids::kRandom;
  auto store =
      FreshStore("append-" + std::to_string(state.range(0)) + "-" + std::to_string(state.range(1)));
  const size_t batch = static_cast<size_t>(state.range(0));
  int64_t i = 0;
  std::vector<certgate::store::AuditEvent> events;
  for (auto _ : state) {
    state.PauseTiming();
    events.clear();
    for (size_t k = 0; k < batch; ++k) events.push_back(Event(i++, ids));
    state.ResumeTiming();
    if (!store->AppendAudit(events).ok()) state.SkipWithError("append failed");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
}
BENCHMARK(BM_StoreAppendAuditBatch)
    ->Args({1, 0})
    ->Args({10, 0})
    ->Args({100, 0})
    ->Args({256, 0})
    ->UseRealTime();
// Random vs time-ordered request ids over the same 400 batches (102 400 rows): the index effect
// grows with the table, so both variants must end at the same size to compare.
BENCHMARK(BM_StoreAppendAuditBatch)->Args({256, 0})->Args({256, 1})->Iterations(400)->UseRealTime();

void ReportBatches(benchmark::State& state, const certgate::audit::AuditWriterStats& before,
                   const certgate::audit::AuditWriterStats& after) {
  const double batches = static_cast<double>(after.batches - before.batches);
  state.counters["mean_batch"] =
      batches > 0 ? static_cast<double>(after.events - before.events) / batches : 0;
  state.counters["max_batch"] = static_cast<double>(after.max_batch);
}

// The callback server's path: RecordAsync with up to `window` (arg 0) rows in flight and
// audit_max_batch (arg 1). items/s = durable audit rows per second sustained.
void BM_AuditWriterAsync(benchmark::State& state) {
  auto store =
      FreshStore("async-" + std::to_string(state.range(0)) + "-" + std::to_string(state.range(1)));
  certgate::audit::AuditWriterOptions options;
  options.max_batch = static_cast<size_t>(state.range(1));
  certgate::audit::AuditWriter writer(*store, options);
  const int64_t window = state.range(0);
  std::mutex mu;
  std::condition_variable cv;
  int64_t in_flight = 0, failed = 0;
  const auto before = writer.Stats();
  int64_t i = 0;
  for (auto _ : state) {
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return in_flight < window; });
      ++in_flight;
    }
    writer.RecordAsync(Event(i++), [&](certgate::Result<int64_t> id) {
      std::lock_guard<std::mutex> lock(mu);
      if (!id.ok()) ++failed;
      --in_flight;
      cv.notify_one();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return in_flight == 0; });
  }
  if (failed) state.SkipWithError("audit failures");
  ReportBatches(state, before, writer.Stats());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AuditWriterAsync)
    ->Args({64, 256})
    ->Args({1024, 256})
    ->Args({4096, 1024})
    ->UseRealTime();

// The sync server's path: many threads each blocked in Record().
void BM_AuditWriterBlocking(benchmark::State& state) {
  static std::unique_ptr<Store> store;
  static std::unique_ptr<certgate::audit::AuditWriter> writer;
  static certgate::audit::AuditWriterStats before;
  if (state.thread_index() == 0) {
    store = FreshStore("blocking-" + std::to_string(state.threads()));
    writer = std::make_unique<certgate::audit::AuditWriter>(*store);
    before = writer->Stats();
  }
  int64_t i = state.thread_index() * 100000000LL;
  for (auto _ : state) {
    if (!writer->Record(Event(i++)).ok()) state.SkipWithError("audit failure");
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    ReportBatches(state, before, writer->Stats());
    // Destroyed at the next run's setup or at exit; other threads may still be returning.
  }
}
BENCHMARK(BM_AuditWriterBlocking)->Threads(1)->Threads(16)->Threads(64)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
