// In-memory Store; see memory_store.h. Semantics mirror sqlite_store.cc exactly (the conformance
// tests in tests/unit/server/store run against both); input checks live in store_util.h.
#include "server/store/memory_store.h"

#include <algorithm>
#include <utility>

#include "server/store/store_util.h"

namespace certgate::store {
namespace {

bool MatchesQuery(const AuditEvent& e, const AuditQuery& q) {
  if (q.since && e.time < *q.since) return false;
  if (q.until && e.time >= *q.until) return false;
  if (q.user_id && e.user_id != q.user_id) return false;
  if (q.fingerprint_sha256 && e.fingerprint_sha256 != *q.fingerprint_sha256) return false;
  if (q.decision && e.decision != *q.decision) return false;
  if (q.reason && e.reason != *q.reason) return false;
  if (q.action && e.action != *q.action) return false;
  if (q.request_id && e.request_id != *q.request_id) return false;
  if (q.kind && e.kind != *q.kind) return false;
  if (q.before_id && e.id >= *q.before_id) return false;
  if (q.after_id && e.id <= *q.after_id) return false;
  return true;
}

}  // namespace

std::unique_ptr<MemoryStore> NewMemoryStore(const Clock& clock) {
  return std::make_unique<MemoryStore>(clock);
}

void MemoryStore::FailNextCalls(int n, Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_calls_ = status.ok() ? 0 : n;
  fail_status_ = std::move(status);
}

Status MemoryStore::TakeInjectedFailure() {
  if (fail_calls_ <= 0) return Status::Ok();
  --fail_calls_;
  return fail_status_;
}

// --- users ---

Result<User> MemoryStore::CreateUser(const User& user) {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  CERTGATE_RETURN_IF_ERROR(internal::ValidateUser(user));
  Result<std::vector<std::string>> roles = internal::NormalizeRoles(user.roles);
  if (!roles.ok()) return roles.status();
  for (const auto& [id, existing] : users_) {
    if (existing.name == user.name) {
      return Status::AlreadyExists("user '" + user.name + "' already exists");
    }
  }
  User stored = user;
  stored.id = next_user_id_++;
  stored.roles = std::move(roles).value();
  stored.created_at = clock_.NowMicros();
  users_[stored.id] = stored;
  return stored;
}

Result<std::optional<User>> MemoryStore::GetUser(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  auto it = users_.find(id);
  if (it == users_.end()) return std::optional<User>();
  return std::optional<User>(it->second);
}

Result<std::optional<User>> MemoryStore::GetUserByName(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  for (const auto& [id, user] : users_) {
    if (user.name == name) return std::optional<User>(user);
  }
  return std::optional<User>();
}

Result<std::vector<User>> MemoryStore::ListUsers() {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  std::vector<User> out;
  out.reserve(users_.size());
  for (const auto& [id, user] : users_) out.push_back(user);
  return out;
}

Status MemoryStore::SetUserDisabled(int64_t user_id, bool disabled) {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  auto it = users_.find(user_id);
  if (it == users_.end()) return Status::NotFound("no user with id " + std::to_string(user_id));
  it->second.disabled = disabled;
  return Status::Ok();
}

Status MemoryStore::SetUserRoles(int64_t user_id, const std::vector<std::string>& roles) {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  Result<std::vector<std::string>> normalized = internal::NormalizeRoles(roles);
  if (!normalized.ok()) return normalized.status();
  auto it = users_.find(user_id);
  if (it == users_.end()) return Status::NotFound("no user with id " + std::to_string(user_id));
  it->second.roles = std::move(normalized).value();
  return Status::Ok();
}

// --- enrolled certificates ---

Result<EnrolledCertificate> MemoryStore::EnrollCertificate(const EnrolledCertificate& cert) {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  CERTGATE_RETURN_IF_ERROR(internal::ValidateCertificate(cert));
  if (users_.find(cert.user_id) == users_.end()) {
    return Status::NotFound("no user with id " + std::to_string(cert.user_id));
  }
  for (const auto& [id, existing] : certificates_) {
    if (!cert.fingerprint_sha256.empty() &&
        existing.fingerprint_sha256 == cert.fingerprint_sha256) {
      return Status::AlreadyExists("certificate " + cert.fingerprint_sha256 +
                                   " is already enrolled");
    }
    if (existing.issuer_canonical == cert.issuer_canonical && existing.serial == cert.serial) {
      return Status::AlreadyExists("a certificate with serial " + cert.serial + " from issuer " +
                                   cert.issuer_canonical + " is already enrolled");
    }
  }
  EnrolledCertificate stored = cert;
  stored.id = next_certificate_id_++;
  stored.created_at = clock_.NowMicros();
  certificates_[stored.id] = stored;
  return stored;
}

Result<std::optional<EnrolledCertificate>> MemoryStore::FindCertificateByFingerprint(
    const std::string& fingerprint_sha256) {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  if (fingerprint_sha256.empty()) return std::optional<EnrolledCertificate>();
  for (const auto& [id, cert] : certificates_) {
    if (cert.fingerprint_sha256 == fingerprint_sha256) {
      return std::optional<EnrolledCertificate>(cert);
    }
  }
  return std::optional<EnrolledCertificate>();
}

Result<std::vector<EnrolledCertificate>> MemoryStore::FindCertificatesBySubjectSerial(
    const std::string& subject_canonical, const std::string& serial) {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  std::vector<EnrolledCertificate> out;
  for (const auto& [id, cert] : certificates_) {
    if (cert.subject_canonical == subject_canonical && cert.serial == serial) out.push_back(cert);
  }
  return out;
}

Result<std::optional<EnrolledCertificate>> MemoryStore::FindCertificateByIssuerSerial(
    const std::string& issuer_canonical, const std::string& serial) {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  for (const auto& [id, cert] : certificates_) {
    if (cert.issuer_canonical == issuer_canonical && cert.serial == serial) {
      return std::optional<EnrolledCertificate>(cert);
    }
  }
  return std::optional<EnrolledCertificate>();
}

Result<std::vector<EnrolledCertificate>> MemoryStore::ListCertificates(
    std::optional<int64_t> user_id, int64_t after_id, int limit) {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  std::vector<EnrolledCertificate> out;
  for (auto it = certificates_.upper_bound(after_id); it != certificates_.end(); ++it) {
    if (limit > 0 && out.size() == static_cast<size_t>(limit)) break;
    if (!user_id || it->second.user_id == *user_id) out.push_back(it->second);
  }
  return out;
}

Result<std::optional<EnrolledCertificate>> MemoryStore::GetCertificate(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  auto it = certificates_.find(id);
  if (it == certificates_.end()) return std::optional<EnrolledCertificate>();
  return std::optional<EnrolledCertificate>(it->second);
}

Result<std::vector<EnrolledCertificate>> MemoryStore::FindCertificatesBySpki(
    const std::string& spki_sha256) {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  std::vector<EnrolledCertificate> out;
  if (spki_sha256.empty()) return out;
  for (const auto& [id, cert] : certificates_) {
    if (cert.spki_sha256 == spki_sha256) out.push_back(cert);
  }
  return out;
}

// --- revocations ---

Status MemoryStore::AddRevocation(const Revocation& revocation) {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  CERTGATE_RETURN_IF_ERROR(internal::ValidateRevocation(revocation));
  for (const auto& [id, existing] : revocations_) {
    if (existing.issuer_canonical == revocation.issuer_canonical &&
        existing.serial == revocation.serial) {
      return Status::Ok();  // first revocation wins
    }
  }
  Revocation stored = revocation;
  stored.id = next_revocation_id_++;
  if (stored.revoked_at == 0) stored.revoked_at = clock_.NowMicros();
  revocations_[stored.id] = stored;
  return Status::Ok();
}

Status MemoryStore::ReleaseHold(const std::string& issuer_canonical, const std::string& serial) {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  for (auto it = revocations_.begin(); it != revocations_.end(); ++it) {
    const Revocation& r = it->second;
    if (r.issuer_canonical != issuer_canonical || r.serial != serial) continue;
    if (r.reason != RevocationReason::kCertificateHold) {
      return Status::FailedPrecondition("revocation of serial " + serial + " from issuer " +
                                        issuer_canonical + " is not a certificateHold (reason " +
                                        std::to_string(static_cast<int>(r.reason)) + ")");
    }
    revocations_.erase(it);
    return Status::Ok();
  }
  return Status::NotFound("no revocation for serial " + serial + " from issuer " +
                          issuer_canonical);
}

Result<std::optional<Revocation>> MemoryStore::FindRevocation(const std::string& fingerprint_sha256,
                                                              const std::string& issuer_canonical,
                                                              const std::string& serial) {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  for (const auto& [id, r] : revocations_) {
    bool by_fingerprint = !fingerprint_sha256.empty() && r.fingerprint_sha256 == fingerprint_sha256;
    bool by_key = r.issuer_canonical == issuer_canonical && r.serial == serial;
    if (by_fingerprint || by_key) return std::optional<Revocation>(r);
  }
  return std::optional<Revocation>();
}

// --- imported CRLs ---

Result<CrlInfo> MemoryStore::ImportCrl(const CrlInfo& crl, const std::vector<CrlEntry>& entries) {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  CERTGATE_RETURN_IF_ERROR(internal::ValidateCrl(crl, entries));
  auto existing = crls_.find(crl.issuer_canonical);
  if (existing != crls_.end()) {
    CERTGATE_RETURN_IF_ERROR(
        internal::CheckCrlIsNewer(crl.crl_number, existing->second.crl_number, crl.issuer_display));
    auto first = crl_entries_.lower_bound({crl.issuer_canonical, std::string()});
    auto last = first;
    while (last != crl_entries_.end() && last->first.first == crl.issuer_canonical) ++last;
    crl_entries_.erase(first, last);
  }
  CrlInfo stored = crl;
  stored.id = next_crl_id_++;
  stored.entry_count = static_cast<int64_t>(entries.size());
  stored.imported_at = clock_.NowMicros();
  crls_[stored.issuer_canonical] = stored;
  for (const CrlEntry& e : entries) crl_entries_[{e.issuer_canonical, e.serial}] = e;
  return stored;
}

Result<std::vector<CrlInfo>> MemoryStore::ListCrls() {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  std::vector<CrlInfo> out;
  for (const auto& [issuer, crl] : crls_) {
    out.push_back(crl);
    out.back().der.clear();
  }
  std::sort(out.begin(), out.end(), [](const CrlInfo& a, const CrlInfo& b) {
    return a.issuer_display != b.issuer_display ? a.issuer_display < b.issuer_display : a.id < b.id;
  });
  return out;
}

Result<std::optional<CrlInfo>> MemoryStore::GetCrlInfo(const std::string& issuer_canonical) {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  auto it = crls_.find(issuer_canonical);
  if (it == crls_.end()) return std::optional<CrlInfo>();
  CrlInfo out = it->second;
  out.der.clear();
  return std::optional<CrlInfo>(std::move(out));
}

Result<std::optional<CrlEntry>> MemoryStore::FindCrlEntry(const std::string& issuer_canonical,
                                                          const std::string& serial) {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  auto it = crl_entries_.find({issuer_canonical, serial});
  if (it == crl_entries_.end()) return std::optional<CrlEntry>();
  return std::optional<CrlEntry>(it->second);
}

// --- audit ---

Status MemoryStore::AppendAudit(std::vector<AuditEvent>& events) {
  std::lock_guard<std::mutex> lock(mu_);
  Status s = TakeInjectedFailure();
  if (s.ok()) s = internal::ValidateAuditEvents(events);
  if (!s.ok()) {
    for (AuditEvent& e : events) e.id = 0;
    return s;
  }
  int64_t now = clock_.NowMicros();
  for (AuditEvent& e : events) {
    if (e.time == 0) e.time = now;
    e.id = next_audit_id_++;
    audit_[e.id] = e;
  }
  return Status::Ok();
}

Result<int64_t> MemoryStore::DeleteAuditBefore(int64_t before_micros, int limit) {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  if (limit < 1) return Status::InvalidArgument("limit must be >= 1");
  // Oldest by time (ties by id), as the SQLite backend's index gives them.
  std::vector<std::pair<int64_t, int64_t>> old;  // (time, id)
  for (const auto& [id, e] : audit_) {
    if (e.time < before_micros) old.emplace_back(e.time, id);
  }
  std::sort(old.begin(), old.end());
  if (old.size() > static_cast<size_t>(limit)) old.resize(static_cast<size_t>(limit));
  for (const auto& [time, id] : old) audit_.erase(id);
  return static_cast<int64_t>(old.size());
}

Result<std::vector<AuditEvent>> MemoryStore::QueryAudit(const AuditQuery& query) {
  std::lock_guard<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(TakeInjectedFailure());
  size_t limit = static_cast<size_t>(internal::ClampAuditLimit(query.limit));
  std::vector<AuditEvent> out;
  auto take = [&](const AuditEvent& e) {
    if (MatchesQuery(e, query)) out.push_back(e);
    return out.size() < limit;
  };
  if (query.after_id) {
    for (auto it = audit_.begin(); it != audit_.end() && take(it->second); ++it) {
    }
  } else {
    for (auto it = audit_.rbegin(); it != audit_.rend() && take(it->second); ++it) {
    }
  }
  return out;
}

Status MemoryStore::Ping() {
  std::lock_guard<std::mutex> lock(mu_);
  return TakeInjectedFailure();
}

}  // namespace certgate::store
