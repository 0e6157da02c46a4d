// In-memory fake of Store with identical semantics, for unit tests. Thread-safe (one mutex).
// Fault injection: FailNextCalls(n, status) makes the next n mutating/reading calls return status.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/common/clock.h"
#include "server/store/store.h"

namespace certgate::store {

// Like leveldb's SpecialEnv: a Store whose failures a test can script. Thread-safe.
class MemoryStore final : public Store {
 public:
  // `clock` must outlive the store.
  explicit MemoryStore(const Clock& clock) : clock_(clock) {}

  // The next `n` calls to any Store method (Ping included) return `status` and change nothing.
  // `status` must not be OK. Replaces any earlier unconsumed injection.
  void FailNextCalls(int n, Status status);

  Result<User> CreateUser(const User& user) override;
  Result<std::optional<User>> GetUser(int64_t id) override;
  Result<std::optional<User>> GetUserByName(const std::string& name) override;
  Result<std::vector<User>> ListUsers() override;
  Status SetUserDisabled(int64_t user_id, bool disabled) override;
  Status SetUserRoles(int64_t user_id, const std::vector<std::string>& roles) override;

  Result<EnrolledCertificate> EnrollCertificate(const EnrolledCertificate& cert) override;
  Result<std::optional<EnrolledCertificate>> FindCertificateByFingerprint(
      const std::string& fingerprint_sha256) override;
  Result<std::vector<EnrolledCertificate>> FindCertificatesBySubjectSerial(
      const std::string& subject_canonical, const std::string& serial) override;
  Result<std::optional<EnrolledCertificate>> FindCertificateByIssuerSerial(
      const std::string& issuer_canonical, const std::string& serial) override;
  Result<std::vector<EnrolledCertificate>> ListCertificates(std::optional<int64_t> user_id,
                                                            int64_t after_id = 0,
                                                            int limit = 0) override;
  Result<std::optional<EnrolledCertificate>> GetCertificate(int64_t id) override;
  Result<std::vector<EnrolledCertificate>> FindCertificatesBySpki(
      const std::string& spki_sha256) override;

  Status AddRevocation(const Revocation& revocation) override;
  Status ReleaseHold(const std::string& issuer_canonical, const std::string& serial) override;
  Result<std::optional<Revocation>> FindRevocation(const std::string& fingerprint_sha256,
                                                   const std::string& issuer_canonical,
                                                   const std::string& serial) override;

  Result<CrlInfo> ImportCrl(const CrlInfo& crl, const std::vector<CrlEntry>& entries) override;
  Result<std::vector<CrlInfo>> ListCrls() override;
  Result<std::optional<CrlInfo>> GetCrlInfo(const std::string& issuer_canonical) override;
  Result<std::optional<CrlEntry>> FindCrlEntry(const std::string& issuer_canonical,
                                               const std::string& serial) override;

  Status AppendAudit(std::vector<AuditEvent>& events) override;
  Result<std::vector<AuditEvent>> QueryAudit(const AuditQuery& query) override;
  Result<int64_t> DeleteAuditBefore(int64_t before_micros, int limit) override;

  Status Ping() override;

 private:
  // Consumes one injected failure if any is pending. Requires mu_ held.
  Status TakeInjectedFailure();

  const Clock& clock_;

  std::mutex mu_;
  // Guarded by mu_ (every row map is keyed and therefore iterated by id):
  std::map<int64_t, User> users_;
  std::map<int64_t, EnrolledCertificate> certificates_;
  std::map<int64_t, Revocation> revocations_;
  std::map<int64_t, AuditEvent> audit_;
  std::map<std::string, CrlInfo> crls_;  // by issuer_canonical; der kept
  std::map<std::pair<std::string, std::string>, CrlEntry> crl_entries_;  // (issuer, serial)
  int64_t next_crl_id_ = 1;
  int64_t next_user_id_ = 1;
  int64_t next_certificate_id_ = 1;
  int64_t next_revocation_id_ = 1;
  int64_t next_audit_id_ = 1;
  int fail_calls_ = 0;
  Status fail_status_;
};

// Convenience factory.
std::unique_ptr<MemoryStore> NewMemoryStore(const Clock& clock);

}  // namespace certgate::store
