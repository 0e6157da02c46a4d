// Private to certs/ (and its tests): the parts of certificate.cc that other certs/ files need
// with OpenSSL types in hand. Like openssl_ptr.h, nothing outside certs/ may include this.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "server/certs/certificate.h"
#include "server/certs/openssl_ptr.h"

namespace certgate::certs::internal {

// ParseCertificate that also hands back the decoded X509, so that chain verification after a
// parse does not pay for d2i_X509 twice. `x509` is set only on success.
Result<CertificateFacts> ParseCertificateX509(std::string_view der, ossl::X509Ptr& x509);

// Unix seconds of an ASN1_TIME (UTCTime or GeneralizedTime); nullopt when unreadable.
std::optional<int64_t> AsnTimeToUnix(const ASN1_TIME* t);

// The normalised serial (serial.h) of an ASN1_INTEGER; nullopt when unreadable.
std::optional<std::string> SerialFromAsn1(const ASN1_INTEGER* serial);

// The DN of an X509_NAME, parsed from its DER by OID as everywhere else.
Result<DistinguishedName> NameFromX509Name(const X509_NAME* name);

}  // namespace certgate::certs::internal
