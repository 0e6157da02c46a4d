// Helpers for the certs/ unit tests: build header values from the generated PKI the way each
// proxy does, without using the code under test (its encoders are tested separately).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tests/support/testdata.h"

namespace certgate::certs::testing {

using ::certgate::testing::ReadTestdata;

// A PKI file whose content is one line (.serial, .fingerprint, .subject): without the newline.
inline std::string ReadLine(const std::string& name) {
  std::string s = ReadTestdata(name);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// nginx $ssl_client_escaped_cert: escapes every byte but A-Z a-z 0-9 - . _ ~, uppercase hex.
inline std::string NginxEscape(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

// Like nginx, but leaves '+', '/' and '=' literal (what AWS ALB may send), lowercase hex.
inline std::string AwsEscape(std::string_view in) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : in) {
    const bool literal = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~' ||
                         c == '+' || c == '/' || c == '=';
    if (literal) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

// Go's url.QueryEscape for base64 text: '+', '/', '=' become %2B, %2F, %3D.
inline std::string QueryEscapeBase64(std::string_view in) {
  std::string out;
  for (char c : in) {
    if (c == '+') {
      out += "%2B";
    } else if (c == '/') {
      out += "%2F";
    } else if (c == '=') {
      out += "%3D";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Standard padded base64, written independently of the code under test.
inline std::string TestBase64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned bits = 0;
  int nbits = 0;
  for (unsigned char c : in) {
    bits = (bits << 8) | c;
    nbits += 8;
    while (nbits >= 6) {
      nbits -= 6;
      out.push_back(kAlphabet[(bits >> nbits) & 63]);
    }
  }
  if (nbits > 0) out.push_back(kAlphabet[(bits << (6 - nbits)) & 63]);
  while (out.size() % 4 != 0) out.push_back('=');
  return out;
}

// A CERTIFICATE PEM block around arbitrary bytes.
inline std::string PemOf(std::string_view der) {
  std::string body = TestBase64(der);
  std::string out = "-----BEGIN CERTIFICATE-----\n";
  for (size_t i = 0; i < body.size(); i += 64) out += body.substr(i, 64) + "\n";
  out += "-----END CERTIFICATE-----\n";
  return out;
}

// The base64 body of each PEM block in `pem`, without armor lines or newlines (what Traefik
// sends per certificate; openssl wrote it, so it is standard padded base64 of the DER).
inline std::vector<std::string> PemBodies(std::string_view pem) {
  std::vector<std::string> out;
  std::string current;
  bool inside = false;
  size_t pos = 0;
  while (pos < pem.size()) {
    size_t eol = pem.find('\n', pos);
    if (eol == std::string_view::npos) eol = pem.size();
    std::string_view line = pem.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = eol + 1;
    if (line.rfind("-----BEGIN ", 0) == 0) {
      inside = true;
      current.clear();
    } else if (line.rfind("-----END ", 0) == 0) {
      inside = false;
      out.push_back(current);
    } else if (inside) {
      current += line;
    }
  }
  return out;
}

inline std::string PemBody(std::string_view pem) {
  std::vector<std::string> bodies = PemBodies(pem);
  return bodies.empty() ? std::string() : bodies.front();
}

// The same base64 body under different armor ("CERTIFICATE" around a CSR, say).
inline std::string Rearmor(std::string_view pem, std::string_view label) {
  std::string body = PemBody(pem);
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  for (size_t i = 0; i < body.size(); i += 64) out += body.substr(i, 64) + "\n";
  out += "-----END " + std::string(label) + "-----\n";
  return out;
}

// nginx $ssl_client_cert: the PEM without its final newline, every newline followed by a TAB.
inline std::string NginxLegacyFold(std::string_view pem) {
  std::string_view p = pem;
  if (!p.empty() && p.back() == '\n') p.remove_suffix(1);
  std::string out;
  for (char c : p) {
    out.push_back(c);
    if (c == '\n') out.push_back('\t');
  }
  return out;
}

// Apache SSL_CLIENT_CERT in a header: CR and LF replaced by spaces.
inline std::string ApacheSpaces(std::string_view pem) {
  std::string out(pem);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

// An XFCC quoted value as Envoy writes it: the text between double quotes, unchanged (Envoy's
// Subject is OpenSSL's RFC 2253 text, in which '"' and '\\' are already escaped).
inline std::string XfccQuote(std::string_view in) { return "\"" + std::string(in) + "\""; }

}  // namespace certgate::certs::testing
