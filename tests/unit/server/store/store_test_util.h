// Helpers shared by the store tests: temp-dir fixture pieces and field-by-field comparisons.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "server/store/store.h"

namespace certgate::store::testing {

inline void ExpectSameEvent(const AuditEvent& want, const AuditEvent& got) {
  SCOPED_TRACE("audit id " + std::to_string(want.id));
  EXPECT_EQ(want.id, got.id);
  EXPECT_EQ(want.time, got.time);
  EXPECT_EQ(want.kind, got.kind);
  EXPECT_EQ(want.request_id, got.request_id);
  EXPECT_EQ(want.caller, got.caller);
  EXPECT_EQ(want.fingerprint_sha256, got.fingerprint_sha256);
  EXPECT_EQ(want.subject, got.subject);
  EXPECT_EQ(want.issuer, got.issuer);
  EXPECT_EQ(want.serial, got.serial);
  EXPECT_EQ(want.user_id, got.user_id);
  EXPECT_EQ(want.user_name, got.user_name);
  EXPECT_EQ(want.decision, got.decision);
  EXPECT_EQ(ReasonName(want.reason), ReasonName(got.reason));
  EXPECT_EQ(want.action, got.action);
  EXPECT_EQ(want.resource, got.resource);
  EXPECT_EQ(want.message, got.message);
}

inline void ExpectSameCertificate(const EnrolledCertificate& want, const EnrolledCertificate& got) {
  SCOPED_TRACE("certificate id " + std::to_string(want.id));
  EXPECT_EQ(want.id, got.id);
  EXPECT_EQ(want.user_id, got.user_id);
  EXPECT_EQ(want.fingerprint_sha256, got.fingerprint_sha256);
  EXPECT_EQ(want.issuer_canonical, got.issuer_canonical);
  EXPECT_EQ(want.subject_canonical, got.subject_canonical);
  EXPECT_EQ(want.issuer_display, got.issuer_display);
  EXPECT_EQ(want.subject_display, got.subject_display);
  EXPECT_EQ(want.serial, got.serial);
  EXPECT_EQ(want.not_before, got.not_before);
  EXPECT_EQ(want.not_after, got.not_after);
  EXPECT_EQ(want.der, got.der);
  EXPECT_EQ(want.spki_sha256, got.spki_sha256);
  EXPECT_EQ(want.created_at, got.created_at);
}

inline AuditEvent MakeEvent(std::string request_id, Decision decision = Decision::kAllow,
                            Reason reason = Reason::kNone) {
  AuditEvent e;
  e.time = 1'000;
  e.kind = "authorize";
  e.request_id = std::move(request_id);
  e.caller = "ipv4:127.0.0.1:5000";
  e.decision = decision;
  e.reason = reason;
  return e;
}

}  // namespace certgate::store::testing
