// Fuzz target: distinguished-name text parsers. The input is parsed by ParseDnString,
// ParseRfc4514 and ParseSlashDn. Properties: every name a parser accepts survives
// fuzz_support.h CheckDnRoundTrip (ToRfc4514() parses again to the same Canonical() and the same
// text); ParseDnString agrees with the parser its first character selects; a parsed name is never
// empty and never has an empty RDN.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/certs/dn.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

void CheckParsed(const certgate::Result<certgate::certs::DistinguishedName>& dn,
                 std::string_view parser, std::string_view input) {
  if (!dn.ok()) {
    FUZZ_CHECK(!dn.status().message().empty(), std::string(parser) + ": error without a message");
    return;
  }
  FUZZ_CHECK(!dn->empty(), std::string(parser) + " returned an empty name for " +
                               certgate::fuzz::Printable(input));
  for (const auto& rdn : dn->rdns) {
    FUZZ_CHECK(!rdn.empty(), std::string(parser) + " returned an empty RDN");
    for (const auto& attr : rdn) {
      FUZZ_CHECK(!attr.oid.empty(), std::string(parser) + " returned an empty OID");
    }
  }
  certgate::fuzz::CheckDnRoundTrip(*dn, parser);
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certgate;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const Result<certs::DistinguishedName> any = certs::ParseDnString(text);
  const Result<certs::DistinguishedName> rfc = certs::ParseRfc4514(text);
  const Result<certs::DistinguishedName> slash = certs::ParseSlashDn(text);
  CheckParsed(any, "ParseDnString", text);
  CheckParsed(rfc, "ParseRfc4514", text);
  CheckParsed(slash, "ParseSlashDn", text);
  // Without surrounding whitespace, ParseDnString is exactly the parser the first byte selects.
  if (TrimOws(text) == text && !text.empty()) {
    const Result<certs::DistinguishedName>& chosen = text.front() == '/' ? slash : rfc;
    FUZZ_CHECK(any.ok() == chosen.ok(),
               "ParseDnString and the parser it selects disagree on " + fuzz::Printable(text));
    if (any.ok()) {
      FUZZ_CHECK(any->Canonical() == chosen->Canonical(),
                 "ParseDnString and the parser it selects parse differently");
    }
  }
  return 0;
}
