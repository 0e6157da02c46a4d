// Fuzz target: the Authorize request handler, from request bytes to decision.
//
// Input: one byte that picks the caller's peer address (byte % 5, see kPeers), then a serialized
// certgate.v1.AuthorizeRequest (inputs that do not parse are skipped, as gRPC would refuse them).
// Each request goes through api::InputFromRequest, authz::Authorizer::Decide and ::Authorize
// (with an AuditWriter) and api::FillResponse, against a fresh store::MemoryStore (built per
// input, so inputs are independent and nothing accumulates; a store that only grew would also
// make libFuzzer's leak check scan the heap after every input) that holds:
//   - user "alice" with the embedded alice certificate (tests/fuzz/fuzz_pki.h) enrolled;
//   - user "dan", disabled, enrolled by subject+serial only ("CN=dan,O=certgate tests,C=US", d4);
//   - user "rita", enrolled by subject+serial only ("CN=rita,...", 7e), that serial revoked.
// Forwarders: "edge" (127.0.0.1 and ::1: any encoding, subject+serial allowed), "envoy"
// (10.0.0.0/8: xfcc/envoy only, verification must be SUCCESS, no subject+serial), "socket"
// (unix: rfc9440/gcp headers, and subject+serial since allow_subject_serial defaults to true).
// 192.0.2.7 is not a forwarder. The clock is fixed at 2030-01-01.
//
// Properties (abort on violation):
//   - an allow always carries a user, and it is alice; its certificate summary is alice's;
//   - an allow of a certificate credential (DER, PEM, header) has a leaf whose SHA-256
//     (computed here) is the enrolled fingerprint, i.e. the leaf is alice's DER byte for byte;
//   - an allow of a subject+serial credential has alice's canonical subject, her normalised
//     serial and, when an issuer is given, her canonical issuer;
//   - a forwarded credential (header, subject+serial) is only allowed from a forwarder whose
//     rules permit it (format, verification value, subject+serial);
//   - a deny has a reason and carries a user only when the reason is USER_DISABLED;
//   - Decide and Authorize agree; Authorize returns an audit id; the response has an identity
//     iff the decision is an allow. With a healthy store nothing is ever an error.
// Env CERTGATE_FUZZ_TRACE=1 prints each decision (to see which paths a corpus reaches).
//
// With libFuzzer (CERTGATE_LIBFUZZER) a custom mutator edits the parsed request field by field
// (and sometimes plants alice's certificate in some encoding) instead of flipping bytes of the
// serialized message, which would mostly break its framing.
#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "certgate/v1/authorizer.pb.h"
#include "server/api/authorizer_service.h"
#include "server/authz/authorizer.h"
#include "server/certs/certificate.h"
#include "server/certs/decoders.h"
#include "server/certs/dn.h"
#include "server/certs/serial.h"
#include "server/store/memory_store.h"
#include "tests/fuzz/fuzz_pki.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace certgate;

constexpr const char* kPeers[] = {
    "ipv4:127.0.0.1:40000",     // edge
    "ipv6:[::1]:40000",         // edge
    "ipv4:10.1.2.3:5000",       // envoy
    "unix:/run/certgate.sock",  // socket
    "ipv4:192.0.2.7:443",       // not a forwarder
};
constexpr size_t kNumPeers = std::size(kPeers);

constexpr int64_t kNow = 1893456000;  // 2030-01-01T00:00:00Z

constexpr const char* kIssuerText = "CN=certgate Test Root CA,O=certgate tests,C=US";
constexpr const char* kDanSubject = "CN=dan,O=certgate tests,C=US";
constexpr const char* kRitaSubject = "CN=rita,O=certgate tests,C=US";

std::string Canonical(std::string_view dn_text) {
  Result<certs::DistinguishedName> dn = certs::ParseDnString(dn_text);
  FUZZ_CHECK(dn.ok(), "fixture DN does not parse: " + std::string(dn_text));
  return dn->Canonical();
}

// What every input's pipeline starts from: the enrolled certificate's facts and the canonical
// names of the fixture rows. Built once.
struct Fixture {
  certs::CertificateFacts alice;
  std::string alice_fingerprint;  // computed here, independently of ParseCertificate
  std::string issuer_canonical;
  std::string dan_subject_canonical;
  std::string rita_subject_canonical;

  Fixture() {
    // Proto3 parsing of invalid UTF-8 logs an error per input; the fuzzer makes many.
    google::protobuf::SetLogHandler(nullptr);
    Result<certs::CertificateFacts> facts = certs::ParseCertificate(fuzz::EnrolledAliceDer());
    FUZZ_CHECK(facts.ok(), "embedded alice certificate: " + facts.status().message());
    alice = *facts;
    alice_fingerprint = fuzz::Sha256Hex(fuzz::EnrolledAliceDer());
    FUZZ_CHECK(alice.fingerprint_sha256 == alice_fingerprint, "alice fingerprint");
    issuer_canonical = Canonical(kIssuerText);
    FUZZ_CHECK(issuer_canonical == alice.issuer.Canonical(), "alice's issuer");
    dan_subject_canonical = Canonical(kDanSubject);
    rita_subject_canonical = Canonical(kRitaSubject);
  }
};

const Fixture& TheFixture() {
  static const Fixture fixture;
  return fixture;
}

// One pipeline with its dependencies, for one input. Members are declared in dependency order.
struct Env {
  const Fixture& fixture;
  FakeClock clock{kNow * 1'000'000};
  std::unique_ptr<store::MemoryStore> store;
  std::unique_ptr<audit::AuditWriter> audit;
  std::unique_ptr<authz::Authorizer> authorizer;
  int64_t alice_id = 0;
  int64_t dan_id = 0;

  explicit Env(const Fixture& f) : fixture(f) {
    store = store::NewMemoryStore(clock);
    audit = std::make_unique<audit::AuditWriter>(*store);

    const certs::CertificateFacts& alice = fixture.alice;
    alice_id = CreateUser("alice", false);
    store::EnrolledCertificate row;
    row.user_id = alice_id;
    row.fingerprint_sha256 = alice.fingerprint_sha256;
    row.issuer_canonical = alice.issuer.Canonical();
    row.subject_canonical = alice.subject.Canonical();
    row.issuer_display = alice.issuer.ToRfc4514();
    row.subject_display = alice.subject.ToRfc4514();
    row.serial = alice.serial;
    row.not_before = alice.not_before;
    row.not_after = alice.not_after;
    row.der = alice.der;
    row.spki_sha256 = alice.spki_sha256;
    Enroll(row);

    dan_id = CreateUser("dan", true);
    EnrollBySubjectSerial(dan_id, kDanSubject, fixture.dan_subject_canonical, "d4");
    const int64_t rita_id = CreateUser("rita", false);
    EnrollBySubjectSerial(rita_id, kRitaSubject, fixture.rita_subject_canonical, "7e");
    store::Revocation revocation;
    revocation.issuer_canonical = fixture.issuer_canonical;
    revocation.serial = "7e";
    revocation.reason = store::RevocationReason::kKeyCompromise;
    revocation.source = "admin";
    FUZZ_CHECK(store->AddRevocation(revocation).ok(), "fixture revocation");

    authz::AuthorizerOptions options;
    config::ForwarderConfig edge;
    edge.name = "edge";
    edge.addresses = {"127.0.0.1", "::1"};
    edge.allow_subject_serial = true;
    config::ForwarderConfig envoy;
    envoy.name = "envoy";
    envoy.addresses = {"10.0.0.0/8"};
    envoy.encodings = {"xfcc", "envoy"};
    envoy.require_verification = "SUCCESS";
    envoy.allow_subject_serial = false;
    config::ForwarderConfig socket;
    socket.name = "socket";
    socket.addresses = {"unix"};
    socket.allow_subject_serial = true;
    socket.encodings = {"rfc9440", "gcp"};
    options.forwarders = {edge, envoy, socket};
    authorizer = std::make_unique<authz::Authorizer>(authz::Authorizer::Deps{*store, *audit, clock},
                                                     options);
  }

  int64_t CreateUser(const std::string& name, bool disabled) {
    store::User user;
    user.name = name;
    Result<store::User> made = store->CreateUser(user);
    FUZZ_CHECK(made.ok(), "fixture user " + name);
    if (disabled) FUZZ_CHECK(store->SetUserDisabled(made->id, true).ok(), "fixture disable");
    return made->id;
  }

  void Enroll(const store::EnrolledCertificate& row) {
    Result<store::EnrolledCertificate> enrolled = store->EnrollCertificate(row);
    FUZZ_CHECK(enrolled.ok(), "fixture enrollment: " + enrolled.status().message());
  }

  void EnrollBySubjectSerial(int64_t user_id, const char* subject, const std::string& canonical,
                             const char* serial) {
    store::EnrolledCertificate row;
    row.user_id = user_id;
    row.issuer_canonical = fixture.issuer_canonical;
    row.subject_canonical = canonical;
    row.issuer_display = kIssuerText;
    row.subject_display = subject;
    row.serial = serial;
    Enroll(row);
  }
};

// The leaf DER a certificate credential carries, decoded the way the request says; nullopt when
// it carries none.
std::optional<std::string> LeafOf(const authz::Credential& c) {
  switch (c.kind) {
    case authz::Credential::Kind::kDer:
      return c.der;
    case authz::Credential::Kind::kPem: {
      Result<std::vector<std::string>> split = certs::SplitPemCertificates(c.pem);
      if (!split.ok()) return std::nullopt;
      return split->front();
    }
    case authz::Credential::Kind::kHeader: {
      std::optional<certs::Encoding> enc = c.preset.empty() ? certs::ParseEncodingName(c.encoding)
                                                            : certs::EncodingForPreset(c.preset);
      if (!enc) return std::nullopt;
      certs::DecodedChain decoded = certs::DecodeHeader(*enc, c.header_value, c.chain_value);
      if (decoded.status != certs::DecodeStatus::kOk) return std::nullopt;
      return decoded.certs.front();
    }
    default:
      return std::nullopt;
  }
}

// Whether the forwarder rules let `peer_index` forward credential `c`.
bool ForwarderPermits(size_t peer_index, const authz::Credential& c) {
  const bool subject_serial = c.kind == authz::Credential::Kind::kSubjectSerial;
  const std::string format = c.preset.empty() ? c.encoding : c.preset;
  switch (peer_index) {
    case 0:
    case 1:
      return true;
    case 2:
      return !subject_serial && (format == "xfcc" || format == "envoy") &&
             c.verification == "SUCCESS";
    case 3:
      return subject_serial || format == "rfc9440" || format == "gcp";
    default:
      return false;
  }
}

void CheckDecision(const Env& env, size_t peer_index, const authz::AuthorizeInput& in,
                   const authz::Decision& d) {
  const std::string reason(ReasonName(d.reason));
  if (!d.allowed) {
    FUZZ_CHECK(d.reason != Reason::kNone, "a deny without a reason");
    FUZZ_CHECK(!d.user || d.reason == Reason::kUserDisabled,
               "a deny (" + reason + ") carries a user");
    FUZZ_CHECK(!d.user || d.user->id == env.dan_id, "USER_DISABLED for an enabled user");
    return;
  }
  FUZZ_CHECK(d.reason == Reason::kNone, "an allow with reason " + reason);
  FUZZ_CHECK(d.user.has_value(), "an allow without a user");
  FUZZ_CHECK(d.user->id == env.alice_id && d.user->name == "alice" && !d.user->disabled,
             "allowed as user '" + d.user->name + "'");
  FUZZ_CHECK(d.certificate.has_value() &&
                 d.certificate->fingerprint_sha256 == env.fixture.alice.fingerprint_sha256,
             "an allow whose certificate summary is not alice's");

  const authz::Credential& c = in.credential;
  const bool forwarded = c.kind == authz::Credential::Kind::kHeader ||
                         c.kind == authz::Credential::Kind::kSubjectSerial;
  FUZZ_CHECK(!forwarded || ForwarderPermits(peer_index, c),
             std::string("a forwarded credential allowed from ") + kPeers[peer_index]);
  switch (c.kind) {
    case authz::Credential::Kind::kNone:
      fuzz::Fail(__FILE__, __LINE__, "allowed without a credential");
    case authz::Credential::Kind::kSubjectSerial: {
      Result<certs::DistinguishedName> subject = certs::ParseDnString(c.subject_dn);
      Result<std::string> serial = certs::NormalizeSerial(c.serial, c.serial_format);
      FUZZ_CHECK(subject.ok() && subject->Canonical() == env.fixture.alice.subject.Canonical(),
                 "subject+serial allowed for subject " + fuzz::Printable(c.subject_dn));
      FUZZ_CHECK(serial.ok() && *serial == env.fixture.alice.serial,
                 "subject+serial allowed for serial " + fuzz::Printable(c.serial));
      if (!c.issuer_dn.empty()) {
        Result<certs::DistinguishedName> issuer = certs::ParseDnString(c.issuer_dn);
        FUZZ_CHECK(issuer.ok() && issuer->Canonical() == env.fixture.alice.issuer.Canonical(),
                   "subject+serial allowed for issuer " + fuzz::Printable(c.issuer_dn));
      }
      return;
    }
    default: {
      std::optional<std::string> leaf = LeafOf(c);
      FUZZ_CHECK(leaf.has_value(), "allowed, but the credential carries no decodable leaf");
      FUZZ_CHECK(fuzz::Sha256Hex(*leaf) == env.fixture.alice_fingerprint,
                 "allowed a leaf whose SHA-256 is " + fuzz::Sha256Hex(*leaf));
      FUZZ_CHECK(*leaf == fuzz::EnrolledAliceDer(), "allowed a leaf that is not alice's DER");
      return;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  TheFixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Env env(TheFixture());
  const size_t peer_index = data[0] % kNumPeers;
  v1::AuthorizeRequest request;
  if (!request.ParseFromArray(data + 1, static_cast<int>(size - 1))) return 0;

  Result<authz::AuthorizeInput> input = api::InputFromRequest(request, kPeers[peer_index]);
  if (!input.ok()) {
    FUZZ_CHECK(input.status().code() == StatusCode::kInvalidArgument,
               "InputFromRequest: " + input.status().ToString());
    return 0;
  }

  Result<authz::Decision> decided = env.authorizer->Decide(*input);
  FUZZ_CHECK(decided.ok(), "Decide failed with a healthy store: " + decided.status().ToString());
  CheckDecision(env, peer_index, *input, *decided);

  Result<authz::AuthorizeResult> authorized = env.authorizer->Authorize(*input);
  FUZZ_CHECK(authorized.ok(),
             "Authorize failed with a healthy store: " + authorized.status().ToString());
  const authz::Decision& d = authorized->decision;
  CheckDecision(env, peer_index, *input, d);
  static const bool trace = std::getenv("CERTGATE_FUZZ_TRACE") != nullptr;
  if (trace) {
    std::fprintf(stderr, "peer=%s %s %s: %s\n", kPeers[peer_index], d.allowed ? "ALLOW" : "DENY",
                 std::string(ReasonName(d.reason)).c_str(), d.message.c_str());
  }
  FUZZ_CHECK(
      d.allowed == decided->allowed && d.reason == decided->reason && d.message == decided->message,
      "Decide and Authorize disagree");
  FUZZ_CHECK(authorized->audit_id > 0, "no audit id");

  v1::AuthorizeResponse response;
  api::FillResponse(*authorized, input->request_id, response);
  FUZZ_CHECK(response.has_identity() == d.allowed && response.has_rejection() == !d.allowed,
             "response kind does not match the decision");
  if (response.has_identity()) {
    FUZZ_CHECK(response.identity().user_name() == "alice" &&
                   response.identity().certificate().fingerprint_sha256() ==
                       env.fixture.alice.fingerprint_sha256,
               "identity is not alice's");
  } else {
    FUZZ_CHECK(response.rejection().reason() != v1::Rejection::REASON_UNSPECIFIED,
               "rejection without a reason");
  }

  return 0;
}

#ifdef CERTGATE_LIBFUZZER
// ---- structure-aware mutation -------------------------------------------------------------------

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

constexpr const char* kFormats[] = {
    "url-pem",      "url-pem-aws", "xfcc",    "base64-der", "rfc9440",    "traefik",
    "nginx-legacy", "envoy",       "aws-alb", "nginx",      "cloudflare", "haproxy",
    "caddy",        "gcp",         "",        "XFCC",       "pem",
};
constexpr const char* kVerifications[] = {"", "SUCCESS", "FAILED:expired", "NONE", "0", "true"};

bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

// libFuzzer's own byte-level mutation applied to one field.
std::string Mutate(std::string s, size_t max_size, bool utf8) {
  if (s.empty()) s.push_back('A');
  const size_t cap = std::max(s.size(), std::min(max_size, s.size() * 2 + 64));
  const size_t used = s.size();
  s.resize(cap);
  s.resize(LLVMFuzzerMutate(reinterpret_cast<uint8_t*>(s.data()), used, cap));
  if (utf8 && !IsUtf8(s)) {
    for (char& c : s) c = static_cast<char>(c & 0x7f);  // proto3 strings must be UTF-8
  }
  return s;
}

// Puts alice's certificate into the request in a random form.
void PlantAlice(v1::AuthorizeRequest& r, std::minstd_rand& rng) {
  const std::string& der = fuzz::EnrolledAliceDer();
  switch (rng() % 4) {
    case 0:
      r.set_certificate_der(der);
      break;
    case 1:
      r.set_certificate_pem(fuzz::Pem(der));
      break;
    case 2: {
      const auto enc = static_cast<certs::Encoding>(rng() % 7);
      std::optional<fuzz::EncodedHeader> h =
          fuzz::EncodeHeader(enc, {der}, static_cast<int>(rng() % 2));
      if (!h) return;
      v1::ForwardedHeader* fh = r.mutable_forwarded_header();
      fh->set_value(h->value);
      fh->set_encoding(std::string(certs::EncodingName(enc)));
      fh->set_chain_value(h->chain_value);
      if (rng() % 2) fh->set_verification("SUCCESS");
      break;
    }
    default: {
      const certs::CertificateFacts& alice = TheFixture().alice;
      v1::SubjectSerial* ss = r.mutable_subject_serial();
      ss->set_subject_dn(rng() % 2 ? alice.subject.ToRfc4514()
                                   : "/C=US/O=certgate tests/OU=Engineering/CN=alice");
      ss->set_serial(alice.serial);
      ss->set_serial_format(v1::SubjectSerial::HEX);
      if (rng() % 2) ss->set_issuer_dn(alice.issuer.ToRfc4514());
      break;
    }
  }
}

void MutateCredential(v1::AuthorizeRequest& r, std::minstd_rand& rng, size_t max_size) {
  switch (r.credential_case()) {
    case v1::AuthorizeRequest::kCertificateDer:
      if (r.chain_der_size() > 0 && rng() % 4 == 0) {
        const int i = static_cast<int>(rng() % static_cast<unsigned>(r.chain_der_size()));
        *r.mutable_chain_der(i) = Mutate(r.chain_der(i), max_size, false);
      } else if (rng() % 8 == 0) {
        r.add_chain_der(rng() % 2 ? r.certificate_der() : fuzz::EnrolledAliceDer());
      } else {
        r.set_certificate_der(Mutate(r.certificate_der(), max_size, false));
      }
      break;
    case v1::AuthorizeRequest::kCertificatePem:
      r.set_certificate_pem(Mutate(r.certificate_pem(), max_size, true));
      break;
    case v1::AuthorizeRequest::kForwardedHeader: {
      v1::ForwardedHeader* h = r.mutable_forwarded_header();
      switch (rng() % 6) {
        case 0:
          h->set_chain_value(Mutate(h->chain_value(), max_size, true));
          break;
        case 1:
          h->set_verification(kVerifications[rng() % std::size(kVerifications)]);
          break;
        case 2:
          if (rng() % 2) {
            h->set_encoding(kFormats[rng() % std::size(kFormats)]);
          } else {
            h->set_preset(kFormats[rng() % std::size(kFormats)]);
          }
          break;
        default:
          h->set_value(Mutate(h->value(), max_size, true));
          break;
      }
      break;
    }
    case v1::AuthorizeRequest::kSubjectSerial: {
      v1::SubjectSerial* s = r.mutable_subject_serial();
      switch (rng() % 4) {
        case 0:
          s->set_subject_dn(Mutate(s->subject_dn(), max_size, true));
          break;
        case 1:
          s->set_serial(Mutate(s->serial(), max_size, true));
          break;
        case 2:
          s->set_issuer_dn(Mutate(s->issuer_dn(), max_size, true));
          break;
        default:
          s->set_serial_format(s->serial_format() == v1::SubjectSerial::HEX
                                   ? v1::SubjectSerial::DECIMAL
                                   : v1::SubjectSerial::HEX);
          break;
      }
      break;
    }
    case v1::AuthorizeRequest::CREDENTIAL_NOT_SET:
      PlantAlice(r, rng);
      break;
  }
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  std::minstd_rand rng(seed);
  v1::AuthorizeRequest r;
  if (size == 0 || max_size < 2 || rng() % 16 == 0 ||
      !r.ParseFromArray(data + 1, static_cast<int>(size - 1))) {
    return LLVMFuzzerMutate(data, size, max_size);
  }
  uint8_t peer = data[0];
  const size_t field_max = max_size / 2;
  switch (rng() % 10) {
    case 0:
      peer = static_cast<uint8_t>(rng());
      break;
    case 1:
      r.set_request_id(Mutate(r.request_id(), 200, true));
      break;
    case 2:
      if (rng() % 2) {
        r.set_action(Mutate(r.action(), 300, true));
      } else {
        r.set_resource(Mutate(r.resource(), 2100, true));
      }
      break;
    case 3:
      PlantAlice(r, rng);
      break;
    default:
      MutateCredential(r, rng, field_max);
      break;
  }
  std::string out;
  if (!r.SerializeToString(&out) || out.size() + 1 > max_size) {
    return LLVMFuzzerMutate(data, size, max_size);
  }
  data[0] = peer;
  std::copy(out.begin(), out.end(), data + 1);
  return out.size() + 1;
}
#endif  // CERTGATE_LIBFUZZER
