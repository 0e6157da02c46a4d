// Store: everything certgate persists — users, enrolled certificates, revocations, imported CRLs,
// audit events.
//
// One interface grouped by entity (like SPIRE's DataStore), a SQLite implementation
// (sqlite_store.h) and an in-memory fake (memory_store.h); the same conformance tests run
// against both. All implementations are thread-safe.
//
// Failure convention: a missing row is NOT an error for Find* calls (they return nullopt);
// a failing database is StatusCode::kUnavailable (locked, I/O error, disk full, read-only) or
// kInternal (corruption, constraint surprises). Callers turn those into gRPC errors, never allows.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/common/reason.h"
#include "server/common/status.h"

namespace certgate::store {

struct User {
  int64_t id = 0;
  std::string name;  // unique, non-empty
  std::string display_name;
  bool disabled = false;
  std::vector<std::string> roles;  // e.g. "admin"; sorted, unique
  int64_t created_at = 0;          // Unix micros
};

struct EnrolledCertificate {
  int64_t id = 0;
  int64_t user_id = 0;
  // Empty when enrolled by issuer+subject+serial without the certificate.
  std::string fingerprint_sha256;  // lowercase hex
  std::string issuer_canonical;    // DistinguishedName::Canonical()
  std::string subject_canonical;
  std::string issuer_display;  // RFC 4514 text, for humans
  std::string subject_display;
  std::string serial;       // normalised hex (serial.h)
  int64_t not_before = 0;   // Unix seconds; 0 when unknown
  int64_t not_after = 0;    // Unix seconds; 0 when unknown
  std::string der;          // empty when enrolled without the certificate
  std::string spki_sha256;  // empty when unknown
  int64_t created_at = 0;   // Unix micros
};

// RFC 5280 CRLReason codes (stored as the integer).
enum class RevocationReason : int {
  kUnspecified = 0,
  kKeyCompromise = 1,
  kCaCompromise = 2,
  kAffiliationChanged = 3,
  kSuperseded = 4,
  kCessationOfOperation = 5,
  kCertificateHold = 6,
  kRemoveFromCrl = 8,
  kPrivilegeWithdrawn = 9,
  kAaCompromise = 10,
};

// A revocation is keyed by (issuer, serial) — never by serial alone — and also records the
// fingerprint when known.
struct Revocation {
  int64_t id = 0;
  std::string issuer_canonical;
  std::string serial;
  std::string fingerprint_sha256;  // may be empty
  RevocationReason reason = RevocationReason::kUnspecified;
  int64_t revoked_at = 0;  // Unix micros
  std::string source;      // "admin" or "crl"
};

// An imported certificate revocation list: at most one per issuer (the newest by CRL number).
// The CRL's signature is verified before it reaches the store (authz/crl_import.h).
struct CrlInfo {
  int64_t id = 0;
  std::string issuer_canonical;  // DistinguishedName::Canonical() of the CRL's issuer
  std::string issuer_display;    // RFC 4514, for humans
  std::string crl_number;        // cRLNumber, normalised hex like a serial; never empty
  int64_t this_update = 0;       // Unix seconds
  int64_t next_update = 0;       // Unix seconds; 0 when the CRL has no nextUpdate
  // The CRL as imported. Input to ImportCrl; ListCrls and GetCrlInfo leave it empty (they are on
  // the request path or list many CRLs; the DER is kept for forensics and export).
  std::string der;
  std::string fingerprint_sha256;  // of der
  int64_t entry_count = 0;         // set by the store
  int64_t imported_at = 0;         // Unix micros; set by the store
};

// One revoked certificate listed by an imported CRL, keyed by (issuer, serial).
struct CrlEntry {
  std::string issuer_canonical;
  std::string serial;  // normalised hex (serial.h)
  RevocationReason reason = RevocationReason::kUnspecified;
  int64_t revocation_date = 0;  // Unix seconds
};

enum class Decision { kAllow, kDeny };

struct AuditEvent {
  int64_t id = 0;    // assigned by the store on append
  int64_t time = 0;  // Unix micros
  std::string kind;  // "authorize" or "admin"
  std::string request_id;
  std::string caller;  // gRPC peer (and its mTLS identity when known)
  std::string fingerprint_sha256;
  std::string subject;  // RFC 4514 display text
  std::string issuer;
  std::string serial;
  std::optional<int64_t> user_id;
  std::string user_name;
  Decision decision = Decision::kDeny;
  Reason reason = Reason::kNone;  // kNone for allows
  std::string action;
  std::string resource;
  std::string message;
};

struct AuditQuery {
  std::optional<int64_t> since;  // Unix micros, inclusive
  std::optional<int64_t> until;  // Unix micros, exclusive
  std::optional<int64_t> user_id;
  std::optional<std::string> fingerprint_sha256;
  std::optional<Decision> decision;
  std::optional<Reason> reason;
  std::optional<std::string> action;
  std::optional<std::string> request_id;
  std::optional<std::string> kind;
  std::optional<int64_t> before_id;  // paging: only rows with id < before_id
  std::optional<int64_t> after_id;   // following: only rows with id > after_id (then oldest first)
  int limit = 100;                   // clamped to [1, 1000]
};

// Held while a caller makes several lookups that belong together (one authorization decision):
// they then read one consistent snapshot, and the backend pays for one read transaction instead
// of one per lookup. Only lookups from the thread that opened the scope are covered; writes must
// not be made inside it. Destroying it ends the snapshot.
class ReadScope {
 public:
  virtual ~ReadScope() = default;
};

class Store {
 public:
  virtual ~Store() = default;

  // Opens a read snapshot for this thread's following lookups (see ReadScope). May return
  // nullptr when the backend has nothing to gain (every lookup is then its own snapshot); a
  // scope opened while one is already open on this thread is a no-op.
  virtual std::unique_ptr<ReadScope> BeginRead() { return nullptr; }

  // --- users ---
  // Assigns id/created_at (roles are stored sorted and de-duplicated) and returns the stored user.
  // AlreadyExists if the name is taken; InvalidArgument if the name or a role is empty.
  virtual Result<User> CreateUser(const User& user) = 0;
  virtual Result<std::optional<User>> GetUser(int64_t id) = 0;
  virtual Result<std::optional<User>> GetUserByName(const std::string& name) = 0;
  // Ordered by id.
  virtual Result<std::vector<User>> ListUsers() = 0;
  // NotFound if no such user.
  virtual Status SetUserDisabled(int64_t user_id, bool disabled) = 0;
  // Replaces the user's roles. NotFound if no such user; InvalidArgument if a role is empty.
  virtual Status SetUserRoles(int64_t user_id, const std::vector<std::string>& roles) = 0;

  // --- enrolled certificates ---
  // Assigns id/created_at. NotFound if the user does not exist; AlreadyExists if the
  // fingerprint (when set) or (issuer, serial) is already enrolled; InvalidArgument if
  // issuer_canonical or serial is empty.
  virtual Result<EnrolledCertificate> EnrollCertificate(const EnrolledCertificate& cert) = 0;
  virtual Result<std::optional<EnrolledCertificate>> FindCertificateByFingerprint(
      const std::string& fingerprint_sha256) = 0;
  // All enrolled certificates with this canonical subject and serial (any issuer), by id.
  virtual Result<std::vector<EnrolledCertificate>> FindCertificatesBySubjectSerial(
      const std::string& subject_canonical, const std::string& serial) = 0;
  virtual Result<std::optional<EnrolledCertificate>> FindCertificateByIssuerSerial(
      const std::string& issuer_canonical, const std::string& serial) = 0;
  // Ordered by id; all users' certificates when user_id is nullopt; only ids > after_id; at most
  // `limit` of them when limit > 0 (a page: the next one starts after the last id returned).
  virtual Result<std::vector<EnrolledCertificate>> ListCertificates(std::optional<int64_t> user_id,
                                                                    int64_t after_id = 0,
                                                                    int limit = 0) = 0;
  virtual Result<std::optional<EnrolledCertificate>> GetCertificate(int64_t id) = 0;
  // Every enrolled certificate with this SubjectPublicKeyInfo hash (same key), oldest first.
  // An empty hash matches nothing.
  virtual Result<std::vector<EnrolledCertificate>> FindCertificatesBySpki(
      const std::string& spki_sha256) = 0;

  // --- revocations ---
  // Records a revocation keyed by (issuer, serial). If one already exists for that key it is
  // kept (first revocation wins) and OK is returned. revoked_at 0 means "now" (the store's clock).
  // InvalidArgument if issuer_canonical or serial is empty or the reason is not a CRLReason.
  virtual Status AddRevocation(const Revocation& revocation) = 0;
  // Removes a certificateHold revocation. NotFound if there is none; FailedPrecondition if the
  // existing revocation's reason is not certificateHold.
  virtual Status ReleaseHold(const std::string& issuer_canonical, const std::string& serial) = 0;
  // The revocation matching either the fingerprint (when non-empty) or (issuer, serial); when
  // both match different rows, the oldest revocation.
  virtual Result<std::optional<Revocation>> FindRevocation(const std::string& fingerprint_sha256,
                                                           const std::string& issuer_canonical,
                                                           const std::string& serial) = 0;

  // --- imported CRLs ---
  // Stores `crl` and its entries as the CRL of crl.issuer_canonical, replacing that issuer's
  // previous CRL and ALL of its entries in one transaction, but only when crl.crl_number is
  // greater than the stored one (compared as integers). Returns the stored info (id,
  // entry_count, imported_at set; der kept).
  //   AlreadyExists       the stored CRL has the same number (nothing changes);
  //   FailedPrecondition  the stored CRL has a greater number: this one is older (nothing changes);
  //   InvalidArgument     empty issuer, crl_number not lowercase hex, empty der, an entry of
  //                       another issuer, an empty or repeated serial, a reason that is not a
  //                       CRLReason.
  virtual Result<CrlInfo> ImportCrl(const CrlInfo& crl, const std::vector<CrlEntry>& entries) = 0;
  // Every stored CRL (without der), ordered by issuer_display.
  virtual Result<std::vector<CrlInfo>> ListCrls() = 0;
  // The stored CRL of this issuer (without der), or nullopt. One indexed lookup.
  virtual Result<std::optional<CrlInfo>> GetCrlInfo(const std::string& issuer_canonical) = 0;
  // The entry for (issuer, serial) in that issuer's stored CRL, or nullopt. One indexed lookup
  // (O(log n) in the number of entries): safe on every request with 100k+ entries.
  virtual Result<std::optional<CrlEntry>> FindCrlEntry(const std::string& issuer_canonical,
                                                       const std::string& serial) = 0;

  // --- audit ---
  // Appends all events in ONE durable transaction and fills in each event's id. Either every
  // event is committed or none is (and the error is returned, the ids left 0). An event whose
  // time is 0 is stamped with the store's clock. InvalidArgument (nothing written) if any event
  // fails ValidateAuditEvent.
  virtual Status AppendAudit(std::vector<AuditEvent>& events) = 0;
  // Newest first (unless after_id is set: then oldest first). "Newest" is append order (id), not
  // the time column, which comes from many request threads' clocks.
  virtual Result<std::vector<AuditEvent>> QueryAudit(const AuditQuery& query) = 0;
  // Retention: deletes up to `limit` (>= 1) of the oldest rows whose time is before
  // `before_micros`, in one transaction, and returns how many it deleted (0: none left). Short
  // batches keep the audit writer's commits from waiting behind a long delete.
  virtual Result<int64_t> DeleteAuditBefore(int64_t before_micros, int limit) = 0;

  // Health probe of the backing database: it is still the one that was opened (not deleted or
  // replaced), it can be read, and (unless opened read-only) a tiny write commits durably — so
  // a full disk or a read-only file system shows up here, not only in the next audit commit.
  // Unavailable on any failure. A few hundred microseconds; call it from a monitor, not per
  // request.
  virtual Status Ping() = 0;
};

// InvalidArgument if the event's decision or reason is not a defined enum value; such an event
// makes AppendAudit reject its whole batch. The AuditWriter checks each event with this before
// queueing it, so one malformed event cannot fail other callers' events.
Status ValidateAuditEvent(const AuditEvent& event);

}  // namespace certgate::store
