// bench_tool: prepares what the load benchmarks replay.
//
//   bench_tool ca       --out-cert F --out-key F
//   bench_tool mint     --ca-cert F --ca-key F --first-serial N --count N --ou TEXT --out F
//   bench_tool requests --certs F --encoding xfcc|base64-der|der --out F [--limit N]
//   bench_tool enroll   --db F --certs F [--certs F ...] [--filler N] [--users N]
//
// Certificates files hold 4-byte-length-framed DER; request files hold gRPC-framed
// AuthorizeRequest messages (what h2load -d sends: one frame; load_client cycles through all).
// `enroll` writes straight into SQLite in one transaction (1M rows through the admin API would
// take hours at one durable commit each): the schema comes from certgate's own migrations, and
// every presented certificate's row is built from certgate's own ParseCertificate, exactly as
// enrollment through the API would store it. Filler rows (--filler) reuse the first
// certificate's DER and names with distinct serials, fingerprints and subjects: they are never
// presented, they only make the tables and indexes as big as a real deployment's.
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "bench/bench_pki.h"
#include "certgate/v1/authorizer.pb.h"
#include "server/certs/certificate.h"
#include "server/certs/decoders.h"
#include "server/common/clock.h"
#include "server/store/sqlite_store.h"
#include "tests/support/encoding.h"

namespace {

using certgate::bench::ReadFileOrDie;

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr, "bench_tool: %s (see the comment at the top of bench/bench_tool.cc)\n", why);
  std::exit(2);
}

struct Args {
  std::string cmd;
  std::vector<std::pair<std::string, std::string>> kv;
  std::string Get(const std::string& key, const std::string& def = "") const {
    for (const auto& [k, v] : kv)
      if (k == key) return v;
    return def;
  }
  std::string Need(const std::string& key) const {
    std::string v = Get(key);
    if (v.empty()) Usage(("missing --" + key).c_str());
    return v;
  }
  std::vector<std::string> All(const std::string& key) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : kv)
      if (k == key) out.push_back(v);
    return out;
  }
};

Args Parse(int argc, char** argv) {
  if (argc < 2) Usage("no command");
  Args a;
  a.cmd = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0 || i + 1 >= argc) Usage(("bad argument " + k).c_str());
    a.kv.emplace_back(k.substr(2), argv[++i]);
  }
  return a;
}

void WriteFile(const std::string& path, const std::string& data) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(data.data(), 1, data.size(), f) != data.size() || std::fclose(f) != 0) {
    std::fprintf(stderr, "bench_tool: cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

int Ca(const Args& a) {
  std::string cert, key;
  certgate::bench::MakeCa(&cert, &key);
  WriteFile(a.Need("out-cert"), cert);
  WriteFile(a.Need("out-key"), key);
  return 0;
}

int Mint(const Args& a) {
  auto t0 = std::chrono::steady_clock::now();
  const size_t count = std::stoul(a.Need("count"));
  std::vector<std::string> ders = certgate::bench::MintCertificates(
      ReadFileOrDie(a.Need("ca-cert")), ReadFileOrDie(a.Need("ca-key")),
      std::stoull(a.Get("first-serial", "1")), count, a.Get("ou", "bench"));
  certgate::bench::WriteRecords(a.Need("out"), ders);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "bench_tool: minted %zu certificates in %.2f s\n", count, s);
  return 0;
}

int Requests(const Args& a) {
  std::vector<std::string> ders = certgate::bench::ReadRecords(a.Need("certs"));
  const std::string enc = a.Need("encoding");
  size_t limit = std::stoul(a.Get("limit", "0"));
  if (limit == 0 || limit > ders.size()) limit = ders.size();
  std::vector<std::string> frames;
  frames.reserve(limit);
  for (size_t i = 0; i < limit; ++i) {
    const std::string& der = ders[i];
    certgate::v1::AuthorizeRequest req;
    req.set_action("GET");
    req.set_resource("/api/v1/orders");
    if (enc == "der") {
      req.set_certificate_der(der);
    } else if (enc == "base64-der") {
      auto* h = req.mutable_forwarded_header();
      h->set_value(certgate::certs::Base64Encode(der));
      h->set_encoding("base64-der");
    } else if (enc == "xfcc") {
      auto facts = certgate::certs::ParseCertificate(der);
      if (!facts.ok()) Usage("a certificate does not parse");
      auto* h = req.mutable_forwarded_header();
      h->set_value("By=spiffe://bench.example/ns/default/sa/api;Hash=" + facts->fingerprint_sha256 +
                   ";Cert=\"" + certgate::testing::EnvoyUrlEncode(certgate::bench::DerToPem(der)) +
                   "\";Subject=\"" + facts->subject.ToRfc4514() +
                   "\";URI=" + (facts->uri_sans.empty() ? std::string() : facts->uri_sans.front()));
      h->set_encoding("xfcc");
    } else {
      Usage("unknown --encoding");
    }
    frames.push_back(req.SerializeAsString());
  }
  certgate::bench::WriteGrpcFrames(a.Need("out"), frames);
  std::fprintf(stderr, "bench_tool: wrote %zu %s requests (first is %zu bytes)\n", frames.size(),
               enc.c_str(), frames.empty() ? size_t{0} : frames.front().size());
  return 0;
}

void Check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "bench_tool: %s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

int Enroll(const Args& a) {
  const std::string db_path = a.Need("db");
  auto t0 = std::chrono::steady_clock::now();
  {
    // Creates the file and applies certgate's migrations.
    certgate::store::SqliteOptions opts;
    opts.path = db_path;
    auto store = certgate::store::OpenSqliteStore(opts, certgate::SystemClock::Instance());
    if (!store.ok()) {
      std::fprintf(stderr, "bench_tool: %s\n", store.status().ToString().c_str());
      return 1;
    }
  }
  sqlite3* db = nullptr;
  Check(sqlite3_open(db_path.c_str(), &db), db, "open");
  Check(sqlite3_exec(db, "PRAGMA synchronous=OFF; PRAGMA cache_size=-262144; BEGIN", nullptr,
                     nullptr, nullptr),
        db, "begin");
  const int users = std::stoi(a.Get("users", "1000"));
  const int64_t now = certgate::SystemClock::Instance().NowMicros();
  sqlite3_stmt* user_st = nullptr;
  Check(sqlite3_prepare_v2(db, "INSERT INTO users (name, display_name, created_at) VALUES (?,?,?)",
                           -1, &user_st, nullptr),
        db, "prepare users");
  int64_t first_user = 0;
  for (int i = 0; i < users; ++i) {
    std::string name = "bench-user-" + std::to_string(i);
    sqlite3_bind_text(user_st, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(user_st, 2, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(user_st, 3, now);
    Check(sqlite3_step(user_st), db, "insert user");
    sqlite3_reset(user_st);
    if (i == 0) first_user = sqlite3_last_insert_rowid(db);
  }
  sqlite3_finalize(user_st);

  sqlite3_stmt* st = nullptr;
  Check(sqlite3_prepare_v2(
            db,
            "INSERT INTO certificates (user_id, fingerprint_sha256, issuer_canonical, "
            "subject_canonical, issuer_display, subject_display, serial, not_before, not_after, "
            "der, spki_sha256, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
            -1, &st, nullptr),
        db, "prepare certificates");
  size_t n = 0;
  auto insert = [&](const std::string& fp, const std::string& issuer_c,
                    const std::string& subject_c, const std::string& issuer_d,
                    const std::string& subject_d, const std::string& serial, int64_t nb, int64_t na,
                    const std::string& der, const std::string& spki) {
    sqlite3_bind_int64(st, 1, first_user + static_cast<int64_t>(n % static_cast<size_t>(users)));
    sqlite3_bind_text(st, 2, fp.data(), static_cast<int>(fp.size()), SQLITE_STATIC);
    sqlite3_bind_text(st, 3, issuer_c.data(), static_cast<int>(issuer_c.size()), SQLITE_STATIC);
    sqlite3_bind_text(st, 4, subject_c.data(), static_cast<int>(subject_c.size()), SQLITE_STATIC);
    sqlite3_bind_text(st, 5, issuer_d.data(), static_cast<int>(issuer_d.size()), SQLITE_STATIC);
    sqlite3_bind_text(st, 6, subject_d.data(), static_cast<int>(subject_d.size()), SQLITE_STATIC);
    sqlite3_bind_text(st, 7, serial.data(), static_cast<int>(serial.size()), SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, nb);
    sqlite3_bind_int64(st, 9, na);
    sqlite3_bind_blob(st, 10, der.data(), static_cast<int>(der.size()), SQLITE_STATIC);
    sqlite3_bind_text(st, 11, spki.data(), static_cast<int>(spki.size()), SQLITE_STATIC);
    sqlite3_bind_int64(st, 12, now);
    Check(sqlite3_step(st), db, "insert certificate");
    sqlite3_reset(st);
    ++n;
  };

  std::optional<certgate::certs::CertificateFacts> tmpl;
  for (const std::string& file : a.All("certs")) {
    for (const std::string& der : certgate::bench::ReadRecords(file)) {
      auto f = certgate::certs::ParseCertificate(der);
      if (!f.ok()) Usage("a certificate does not parse");
      insert(f->fingerprint_sha256, f->issuer.Canonical(), f->subject.Canonical(),
             f->issuer.ToRfc4514(), f->subject.ToRfc4514(), f->serial, f->not_before, f->not_after,
             f->der, f->spki_sha256);
      if (!tmpl) tmpl = std::move(*f);
    }
  }
  const size_t filler = std::stoul(a.Get("filler", "0"));
  if (filler > 0 && !tmpl) Usage("--filler needs at least one --certs file");
  if (filler > 0) {
    const std::string issuer_c = tmpl->issuer.Canonical(), issuer_d = tmpl->issuer.ToRfc4514();
    const std::string subject_c = tmpl->subject.Canonical(), subject_d = tmpl->subject.ToRfc4514();
    for (size_t i = 0; i < filler; ++i) {
      const std::string tag = "filler-" + std::to_string(i);
      // Serials and fingerprints that no minted certificate has (minted serials start 5ec0...).
      char serial[32];
      std::snprintf(serial, sizeof serial, "f111e%015zx", i);
      insert(certgate::certs::Sha256Hex(tag), issuer_c, subject_c + "/" + tag, issuer_d,
             "CN=" + tag + "," + subject_d, serial, tmpl->not_before, tmpl->not_after, tmpl->der,
             tmpl->spki_sha256);
    }
  }
  sqlite3_finalize(st);
  Check(sqlite3_exec(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr), db,
        "commit");
  sqlite3_close(db);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "bench_tool: enrolled %zu certificates for %d users in %.2f s\n", n, users,
               s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a = Parse(argc, argv);
  if (a.cmd == "ca") return Ca(a);
  if (a.cmd == "mint") return Mint(a);
  if (a.cmd == "requests") return Requests(a);
  if (a.cmd == "enroll") return Enroll(a);
  Usage("unknown command");
}
