// Small text helpers shared by the certs/ .cc files (private to the module).
#pragma once

#include <string>
#include <string_view>

namespace certgate::certs::text {

// Lowercase hex of every byte.
std::string HexLower(std::string_view bytes);
// Value of a hex digit (either case), or -1.
int HexValue(char c);
// True when every byte of `s` is an ASCII hex digit of lowercase form (0-9, a-f) and s is not
// empty.
bool IsLowerHex(std::string_view s);
// Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view s);
// ASCII-only case folding.
char AsciiLower(char c);
std::string AsciiLower(std::string_view s);
bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b);
// C0 controls and DEL.
inline bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }
// Removes leading and trailing space and horizontal tab (HTTP optional whitespace).
std::string_view TrimOws(std::string_view s);

}  // namespace certgate::certs::text
