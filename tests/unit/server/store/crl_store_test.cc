// The imported-CRL part of the Store contract (store.h), run against SQLite and the in-memory
// fake, plus SQLite's query plan and timing for a 100k-entry CRL.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <functional>

#include "server/common/clock.h"
#include "server/store/memory_store.h"
#include "server/store/sqlite_store.h"
#include "server/store/store.h"
#include "tests/support/testdata.h"

namespace certgate::store {
namespace {

constexpr int64_t kStartMicros = 1'700'000'000'000'000;
const std::string kIssuer = "2.5.4.6=us/2.5.4.3=test root";
const std::string kOtherIssuer = "2.5.4.6=us/2.5.4.3=other root";

struct Backend {
  std::string name;
  std::function<Result<std::unique_ptr<Store>>(const Clock&, const std::string& dir)> open;
};

CrlInfo MakeCrl(const std::string& issuer, const std::string& number) {
  CrlInfo c;
  c.issuer_canonical = issuer;
  c.issuer_display = "CN=" + issuer;
  c.crl_number = number;
  c.this_update = 1'700'000'000;
  c.next_update = 1'700'086'400;
  c.der = std::string("\x30\x03\x02\x01\x00", 5) + number;
  c.fingerprint_sha256 = "fp-" + number;
  return c;
}

CrlEntry Entry(const std::string& issuer, const std::string& serial,
               RevocationReason reason = RevocationReason::kKeyCompromise) {
  CrlEntry e;
  e.issuer_canonical = issuer;
  e.serial = serial;
  e.reason = reason;
  e.revocation_date = 1'699'000'000;
  return e;
}

class CrlStoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    dir_ = certgate::testing::MakeTempDir();
    clock_.SetMicros(kStartMicros);
    auto opened = GetParam().open(clock_, dir_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  CrlInfo Import(const CrlInfo& crl, const std::vector<CrlEntry>& entries) {
    auto r = store_->ImportCrl(crl, entries);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : CrlInfo{};
  }
  bool Listed(const std::string& issuer, const std::string& serial) {
    auto r = store_->FindCrlEntry(issuer, serial);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && r->has_value();
  }

  std::string dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
};

TEST_P(CrlStoreConformance, ImportThenGetInfoAndFindEntries) {
  CrlInfo stored =
      Import(MakeCrl(kIssuer, "1000"),
             {Entry(kIssuer, "a1"), Entry(kIssuer, "b2", RevocationReason::kSuperseded)});
  EXPECT_GT(stored.id, 0);
  EXPECT_EQ(stored.entry_count, 2);
  EXPECT_EQ(stored.imported_at, kStartMicros);
  EXPECT_FALSE(stored.der.empty());

  auto info = store_->GetCrlInfo(kIssuer);
  ASSERT_TRUE(info.ok());
  ASSERT_TRUE(info->has_value());
  EXPECT_EQ((*info)->id, stored.id);
  EXPECT_EQ((*info)->issuer_display, "CN=" + kIssuer);
  EXPECT_EQ((*info)->crl_number, "1000");
  EXPECT_EQ((*info)->this_update, 1'700'000'000);
  EXPECT_EQ((*info)->next_update, 1'700'086'400);
  EXPECT_EQ((*info)->fingerprint_sha256, "fp-1000");
  EXPECT_EQ((*info)->entry_count, 2);
  EXPECT_EQ((*info)->imported_at, kStartMicros);
  EXPECT_TRUE((*info)->der.empty()) << "the request path never reads the DER";

  auto entry = store_->FindCrlEntry(kIssuer, "b2");
  ASSERT_TRUE(entry.ok());
  ASSERT_TRUE(entry->has_value());
  EXPECT_EQ((*entry)->issuer_canonical, kIssuer);
  EXPECT_EQ((*entry)->serial, "b2");
  EXPECT_EQ((*entry)->reason, RevocationReason::kSuperseded);
  EXPECT_EQ((*entry)->revocation_date, 1'699'000'000);
  EXPECT_FALSE(Listed(kIssuer, "c3"));

  auto none = store_->GetCrlInfo(kOtherIssuer);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_P(CrlStoreConformance, EntriesAreKeyedByIssuerAndSerialNeverBySerialAlone) {
  Import(MakeCrl(kIssuer, "1"), {Entry(kIssuer, "a1")});
  EXPECT_TRUE(Listed(kIssuer, "a1"));
  EXPECT_FALSE(Listed(kOtherIssuer, "a1"));
  Import(MakeCrl(kOtherIssuer, "1"), {Entry(kOtherIssuer, "a1")});
  EXPECT_TRUE(Listed(kOtherIssuer, "a1"));
}

TEST_P(CrlStoreConformance, NewerCrlReplacesEveryEntryOfThatIssuerOnly) {
  Import(MakeCrl(kIssuer, "1000"), {Entry(kIssuer, "a1"), Entry(kIssuer, "b2")});
  Import(MakeCrl(kOtherIssuer, "5"), {Entry(kOtherIssuer, "a1")});
  CrlInfo newer = Import(MakeCrl(kIssuer, "1001"), {Entry(kIssuer, "b2"), Entry(kIssuer, "c3")});
  EXPECT_EQ(newer.entry_count, 2);
  EXPECT_FALSE(Listed(kIssuer, "a1")) << "an entry only the old CRL had is gone";
  EXPECT_TRUE(Listed(kIssuer, "b2"));
  EXPECT_TRUE(Listed(kIssuer, "c3"));
  EXPECT_TRUE(Listed(kOtherIssuer, "a1")) << "another issuer's CRL is untouched";
  auto info = store_->GetCrlInfo(kIssuer);
  ASSERT_TRUE(info.ok() && info->has_value());
  EXPECT_EQ((*info)->crl_number, "1001");
}

TEST_P(CrlStoreConformance, SameNumberIsAlreadyExistsAndOlderIsFailedPrecondition) {
  Import(MakeCrl(kIssuer, "1001"), {Entry(kIssuer, "a1")});
  auto same = store_->ImportCrl(MakeCrl(kIssuer, "1001"), {});
  ASSERT_FALSE(same.ok());
  EXPECT_EQ(same.status().code(), StatusCode::kAlreadyExists);
  auto older = store_->ImportCrl(MakeCrl(kIssuer, "1000"), {Entry(kIssuer, "zz")});
  ASSERT_FALSE(older.ok());
  EXPECT_EQ(older.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(older.status().message().find("older"), std::string::npos);
  // Nothing changed.
  EXPECT_TRUE(Listed(kIssuer, "a1"));
  EXPECT_FALSE(Listed(kIssuer, "zz"));
  auto info = store_->GetCrlInfo(kIssuer);
  ASSERT_TRUE(info.ok() && info->has_value());
  EXPECT_EQ((*info)->crl_number, "1001");
}

TEST_P(CrlStoreConformance, CrlNumbersCompareAsIntegersNotAsText) {
  Import(MakeCrl(kIssuer, "ff"), {});
  Import(MakeCrl(kIssuer, "100"), {});  // 0x100 > 0xff although "100" < "ff" as text
  auto back = store_->ImportCrl(MakeCrl(kIssuer, "ff"), {});
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), StatusCode::kFailedPrecondition);
}

TEST_P(CrlStoreConformance, InvalidCrlsAreInvalidArgumentAndStoreNothing) {
  struct Case {
    std::string what;
    CrlInfo crl;
    std::vector<CrlEntry> entries;
  };
  CrlInfo no_der = MakeCrl(kIssuer, "1");
  no_der.der.clear();
  std::vector<Case> cases = {
      {"empty issuer", MakeCrl("", "1"), {}},
      {"empty number", MakeCrl(kIssuer, ""), {}},
      {"leading zero", MakeCrl(kIssuer, "01"), {}},
      {"uppercase", MakeCrl(kIssuer, "AB"), {}},
      {"not hex", MakeCrl(kIssuer, "xyz"), {}},
      {"no der", no_der, {}},
      {"entry of another issuer", MakeCrl(kIssuer, "1"), {Entry(kOtherIssuer, "a1")}},
      {"empty serial", MakeCrl(kIssuer, "1"), {Entry(kIssuer, "")}},
      {"repeated serial", MakeCrl(kIssuer, "1"), {Entry(kIssuer, "a1"), Entry(kIssuer, "a1")}},
      {"reason 7", MakeCrl(kIssuer, "1"), {Entry(kIssuer, "a1", static_cast<RevocationReason>(7))}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto r = store_->ImportCrl(c.crl, c.entries);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
  auto list = store_->ListCrls();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
  EXPECT_FALSE(Listed(kIssuer, "a1"));
}

TEST_P(CrlStoreConformance, ListCrlsIsOrderedByIssuerAndOmitsTheDer) {
  Import(MakeCrl(kOtherIssuer, "2"), {Entry(kOtherIssuer, "a1")});
  Import(MakeCrl(kIssuer, "9"), {});
  auto list = store_->ListCrls();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].issuer_canonical, kOtherIssuer);  // "CN=2.5.4.6=us/2.5.4.3=other..." first
  EXPECT_EQ((*list)[0].entry_count, 1);
  EXPECT_EQ((*list)[1].issuer_canonical, kIssuer);
  for (const CrlInfo& c : *list) EXPECT_TRUE(c.der.empty());
}

TEST_P(CrlStoreConformance, AHundredThousandEntriesImportOnceAndLookUpQuickly) {
  std::vector<CrlEntry> entries;
  entries.reserve(100'000);
  char buf[32];
  for (int i = 1; i <= 100'000; ++i) {
    std::snprintf(buf, sizeof buf, "%x", i * 7919);
    entries.push_back(Entry(kIssuer, buf));
  }
  auto t0 = std::chrono::steady_clock::now();
  CrlInfo stored = Import(MakeCrl(kIssuer, "1"), entries);
  auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(stored.entry_count, 100'000);
  constexpr int kLookups = 2000;
  int found = 0;
  for (int i = 1; i <= kLookups; ++i) {
    std::snprintf(buf, sizeof buf, "%x", i * 7919 * 50);
    auto r = store_->FindCrlEntry(kIssuer, buf);
    ASSERT_TRUE(r.ok());
    found += r->has_value() ? 1 : 0;
  }
  auto t2 = std::chrono::steady_clock::now();
  EXPECT_EQ(found, kLookups);
  // Replacing it (a newer CRL) removes all of them.
  Import(MakeCrl(kIssuer, "2"), {});
  EXPECT_FALSE(Listed(kIssuer, entries[0].serial));
  std::printf("%s: imported 100k CRL entries in %.0f ms; FindCrlEntry %.1f us per lookup\n",
              GetParam().name.c_str(), std::chrono::duration<double, std::milli>(t1 - t0).count(),
              std::chrono::duration<double, std::micro>(t2 - t1).count() / kLookups);
}

TEST_P(CrlStoreConformance, AFailedImportLeavesThePreviousCrlIntact) {
  Import(MakeCrl(kIssuer, "1"), {Entry(kIssuer, "a1")});
  auto bad = store_->ImportCrl(MakeCrl(kIssuer, "2"), {Entry(kIssuer, "b2"), Entry(kIssuer, "b2")});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(Listed(kIssuer, "a1"));
  EXPECT_FALSE(Listed(kIssuer, "b2"));
}

std::vector<Backend> Backends() {
  return {
      {"Sqlite",
       [](const Clock& clock, const std::string& dir) {
         SqliteOptions options;
         options.path = dir + "/certgate.db";
         options.synchronous_full = false;
         return OpenSqliteStore(options, clock);
       }},
      {"Memory",
       [](const Clock& clock, const std::string&) -> Result<std::unique_ptr<Store>> {
         return std::unique_ptr<Store>(NewMemoryStore(clock));
       }},
  };
}

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Backends, CrlStoreConformance, ::testing::ValuesIn(Backends()),
                         BackendName);

// SQLite answers FindCrlEntry and GetCrlInfo from an index (one B-tree search), never a scan.
TEST(SqliteCrlStore, RequestPathQueriesUseTheirIndexes) {
  const std::string dir = certgate::testing::MakeTempDir();
  FakeClock clock(kStartMicros);
  SqliteOptions options;
  options.path = dir + "/certgate.db";
  {
    auto store = OpenSqliteStore(options, clock);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(options.path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  auto plan = [&](const char* sql) {
    std::string out;
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, (std::string("EXPLAIN QUERY PLAN ") + sql).c_str(), -1, &st,
                                 nullptr),
              SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
      out += reinterpret_cast<const char*>(sqlite3_column_text(st, 3));
      out += "\n";
    }
    sqlite3_finalize(st);
    return out;
  };
  const std::string entry = plan(
      "SELECT reason, revocation_date FROM crl_entries WHERE issuer_canonical = ?1 AND serial = "
      "?2");
  EXPECT_NE(entry.find("SEARCH crl_entries USING PRIMARY KEY (issuer_canonical=? AND serial=?)"),
            std::string::npos)
      << entry;
  const std::string info = plan("SELECT id FROM crls WHERE issuer_canonical = ?1");
  EXPECT_NE(info.find("SEARCH crls USING"), std::string::npos) << info;
  sqlite3_close(db);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace certgate::store
