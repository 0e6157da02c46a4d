// Serial normalisation: every way proxies print a serial maps to one form (serial.h).
#include "server/certs/serial.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#include "tests/unit/server/certs/test_helpers.h"

namespace certgate::certs {
namespace {

using testing::ReadLine;

// alice's serial as gen_pki.sh sets it, and its decimal value (computed independently with
// Python: int('0A11CE...', 16)).
constexpr char kAliceSerialHex[] = "0A11CE00112233445566778899AABBCCDDEEFF01";
constexpr char kAliceSerialDecimal[] = "57486965530289812284915442445670231552195231489";

std::string WithColons(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    if (i > 0) out.push_back(':');
    out += hex.substr(i, 2);
  }
  return out;
}

std::string Normalized(std::string_view text, SerialFormat format) {
  Result<std::string> r = NormalizeSerial(text, format);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().ToString();
  return r.ok() ? r.value() : std::string("<error>");
}

TEST(SerialNormalization, OpensslHexMatchesTheGeneratedSerialFile) {
  EXPECT_EQ(Normalized(kAliceSerialHex, SerialFormat::kHex), ReadLine("alice.serial"));
}

TEST(SerialNormalization, HexSpellingsOfOneSerialAreEqual) {
  const std::string expected = ReadLine("alice.serial");
  std::string lower = kAliceSerialHex;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::vector<std::string> spellings = {
      kAliceSerialHex,
      lower,
      WithColons(kAliceSerialHex),  // openssl x509 -text, Apache
      WithColons(lower),
      std::string("0x") + kAliceSerialHex,  // 0x prefix
      std::string("0X") + lower,
      std::string("0000") + kAliceSerialHex,   // extra leading zeros
      std::string(kAliceSerialHex).substr(1),  // without the leading zero nibble
      "  " + std::string(kAliceSerialHex) + "\t",
  };
  for (const std::string& s : spellings) {
    SCOPED_TRACE(s);
    EXPECT_EQ(Normalized(s, SerialFormat::kHex), expected);
  }
}

TEST(SerialNormalization, DecimalOfATwentyByteSerialEqualsItsHex) {
  EXPECT_EQ(Normalized(kAliceSerialDecimal, SerialFormat::kDecimal), ReadLine("alice.serial"));
  EXPECT_EQ(Normalized(std::string("000") + kAliceSerialDecimal, SerialFormat::kDecimal),
            ReadLine("alice.serial"));
}

TEST(SerialNormalization, DecimalSmallAndBoundaryValues) {
  EXPECT_EQ(Normalized("0", SerialFormat::kDecimal), "0");
  EXPECT_EQ(Normalized("255", SerialFormat::kDecimal), "ff");
  EXPECT_EQ(Normalized("4294967296", SerialFormat::kDecimal), "100000000");  // 2^32
  EXPECT_EQ(Normalized("18446744073709551616", SerialFormat::kDecimal),      // 2^64
            "10000000000000000");
}

TEST(SerialNormalization, ZeroAndNegative) {
  EXPECT_EQ(Normalized("00:00", SerialFormat::kHex), "0");
  EXPECT_EQ(Normalized("0x0", SerialFormat::kHex), "0");
  EXPECT_EQ(Normalized("-0A", SerialFormat::kHex), "-a");
  EXPECT_EQ(Normalized("-0", SerialFormat::kHex), "0");
  EXPECT_EQ(Normalized("-10", SerialFormat::kDecimal), "-a");
}

TEST(SerialNormalization, SixtyFourSignificantBytesAreTheLimit) {
  EXPECT_EQ(Normalized(std::string(128, 'f'), SerialFormat::kHex), std::string(128, 'f'));
  EXPECT_FALSE(NormalizeSerial(std::string(130, 'f'), SerialFormat::kHex).ok());
  EXPECT_EQ(Normalized(std::string(300, '0') + "1", SerialFormat::kHex), "1");
  EXPECT_FALSE(NormalizeSerial(std::string(200, '9'), SerialFormat::kDecimal).ok());
}

TEST(SerialNormalization, RejectsMalformedText) {
  const std::vector<std::pair<std::string, SerialFormat>> bad = {
      {"", SerialFormat::kHex},
      {"   ", SerialFormat::kHex},
      {"0x", SerialFormat::kHex},
      {"xyz", SerialFormat::kHex},
      {"0A:1", SerialFormat::kHex},    // odd group
      {"0A::1B", SerialFormat::kHex},  // empty group
      {":0A", SerialFormat::kHex},
      {"0A:", SerialFormat::kHex},
      {"0A1B:2C", SerialFormat::kHex},  // colons must separate every pair
      {"0A 1B", SerialFormat::kHex},
      {"0x0x0A", SerialFormat::kHex},
      {"--0A", SerialFormat::kHex},
      {"12a", SerialFormat::kDecimal},
      {"0x10", SerialFormat::kDecimal},
      {"1,000", SerialFormat::kDecimal},
      {"", SerialFormat::kDecimal},
      {"-", SerialFormat::kDecimal},
      {std::string(2000, '0'), SerialFormat::kHex},  // over the text bound
  };
  for (const auto& [text, format] : bad) {
    SCOPED_TRACE(text);
    Result<std::string> r = NormalizeSerial(text, format);
    EXPECT_FALSE(r.ok());
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST(SerialNormalization, EveryGeneratedSerialFileIsAFixedPoint) {
  for (const char* name : {"alice", "bob", "carol", "dave", "erin", "expired", "notyet",
                           "lookalike", "leaf_via_intermediate"}) {
    SCOPED_TRACE(name);
    const std::string serial = ReadLine(std::string(name) + ".serial");
    EXPECT_EQ(Normalized(serial, SerialFormat::kHex), serial);
  }
}

}  // namespace
}  // namespace certgate::certs
