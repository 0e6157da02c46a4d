// Encodings tests build by hand, the way proxies write them, independently of certgate's own
// decoders (a test that encoded with the code under test could not catch its bugs).
#pragma once

#include <string>

namespace certgate::testing {

// `s` without trailing spaces, CRs and LFs (command output, file contents).
std::string TrimTrailing(std::string s);
// Percent-encodes every byte except A-Z a-z 0-9 - . _ ~ as %XX with uppercase hex: nginx's
// $ssl_client_escaped_cert and Envoy's XFCC Cert= / source.certificate.
std::string UrlEscape(const std::string& in);
// Exactly what Envoy writes for a PEM in XFCC Cert= and ext_authz source.certificate: only
// newline, space, '+', '/' and '=' are escaped; dashes, letters and digits stay literal.
std::string EnvoyUrlEncode(const std::string& pem);
// Standard base64 (RFC 4648 alphabet) with '=' padding.
std::string Base64(const std::string& in);

}  // namespace certgate::testing
