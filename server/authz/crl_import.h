// Importing a CRL: parse it, find the certificate of its issuer, verify the signature, store it
// (replacing an older CRL of the same issuer) and invalidate the validation cache. Used by the
// Admin API; the decision pipeline only reads what this stored.
#pragma once

#include <string_view>

#include "server/certs/validator.h"
#include "server/common/clock.h"
#include "server/common/status.h"
#include "server/store/store.h"

namespace certgate::authz {

// `crl` is DER or PEM. The issuer certificate that must have signed it is looked for among the
// current trust anchors and configured intermediates by the CRL's issuer name (every candidate of
// that name is tried); `issuer_certificate` (PEM or DER, optional) is tried after them. When trust
// anchors are configured, a given issuer certificate is used only if it is a CA certificate that
// itself chains to them (so a certificate carrying a trusted issuer's name cannot vouch for a CRL);
// without anchors it is taken as the operator's word.
//
// Errors: InvalidArgument for a malformed or unusable CRL (no cRLNumber, delta/indirect/scoped,
// ...), an unparseable issuer certificate, or a signature that does not verify with any candidate;
// FailedPrecondition when no issuer certificate is known (none configured with that name and
// none given) or the given one does not chain to the anchors; then the store's: AlreadyExists
// (this CRL number is already imported), FailedPrecondition (an older CRL number than the
// imported one), Unavailable. Thread-safe.
Result<store::CrlInfo> ImportCrl(store::Store& store, certs::Validator& validator,
                                 const Clock& clock, std::string_view crl,
                                 std::string_view issuer_certificate);

}  // namespace certgate::authz
