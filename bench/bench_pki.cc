// Bench-only certificate minting and file framing; see bench_pki.h.
#include "bench/bench_pki.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

namespace certgate::bench {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench: %s\n", what.c_str());
  ERR_print_errors_fp(stderr);
  std::exit(1);
}

template <auto Fn>
struct Free {
  template <typename T>
  void operator()(T* p) const {
    Fn(p);
  }
};
using X509Ptr = std::unique_ptr<X509, Free<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Free<BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Free<BN_free>>;

PkeyPtr NewEcKey() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) Die("EVP_EC_gen failed");
  return key;
}

void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) Die(std::string("extension ") + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

void SetSerial(X509* cert, uint64_t serial) {
  // 16-byte positive serial: a fixed prefix then the counter, so serials look like real ones.
  char hex[64];
  std::snprintf(hex, sizeof hex, "5EC0BE4C%08X%016llX", 0x20240101u,
                static_cast<unsigned long long>(serial));
  BIGNUM* bn = nullptr;
  if (!BN_hex2bn(&bn, hex)) Die("BN_hex2bn");
  BnPtr owned(bn);
  if (!BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert))) Die("BN_to_ASN1_INTEGER");
}

std::string ToDer(X509* cert) {
  int len = i2d_X509(cert, nullptr);
  if (len <= 0) Die("i2d_X509");
  std::string der(static_cast<size_t>(len), '\0');
  unsigned char* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509(cert, &p);
  return der;
}

std::string PemOf(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string PemOfKey(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

}  // namespace

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> MintCertificates(const std::string& ca_cert_pem,
                                          const std::string& ca_key_pem, uint64_t first_serial,
                                          size_t count, const std::string& ou) {
  BioPtr cb(BIO_new_mem_buf(ca_cert_pem.data(), static_cast<int>(ca_cert_pem.size())));
  X509Ptr ca(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  if (!ca) Die("cannot read the CA certificate");
  BioPtr kb(BIO_new_mem_buf(ca_key_pem.data(), static_cast<int>(ca_key_pem.size())));
  PkeyPtr ca_key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
  if (!ca_key) Die("cannot read the CA key");
  PkeyPtr leaf_key = NewEcKey();

  std::vector<std::string> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const uint64_t serial = first_serial + i;
    X509Ptr cert(X509_new());
    X509_set_version(cert.get(), X509_VERSION_3);
    SetSerial(cert.get(), serial);
    X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get()));
    X509_NAME* name = X509_get_subject_name(cert.get());
    const std::string cn = "bench-" + std::to_string(serial);
    X509_NAME_add_entry_by_txt(name, "C", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>("US"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>("certgate bench"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(ou.c_str()), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    ASN1_TIME_set_string_X509(X509_getm_notBefore(cert.get()), "20240101000000Z");
    ASN1_TIME_set_string_X509(X509_getm_notAfter(cert.get()), "20990101000000Z");
    X509_set_pubkey(cert.get(), leaf_key.get());
    AddExt(cert.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
    AddExt(cert.get(), ca.get(), NID_key_usage, "critical,digitalSignature");
    AddExt(cert.get(), ca.get(), NID_ext_key_usage, "clientAuth");
    AddExt(cert.get(), ca.get(), NID_subject_key_identifier, "hash");
    AddExt(cert.get(), ca.get(), NID_authority_key_identifier, "keyid:always");
    const std::string san = "URI:spiffe://bench.example/user/" + std::to_string(serial) +
                            ",DNS:" + cn + ".bench.example";
    AddExt(cert.get(), ca.get(), NID_subject_alt_name, san.c_str());
    if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) <= 0) Die("X509_sign");
    out.push_back(ToDer(cert.get()));
  }
  return out;
}

void MakeCa(std::string* cert_pem, std::string* key_pem) {
  PkeyPtr key = NewEcKey();
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  SetSerial(cert.get(), 1);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("certgate bench CA"), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), name);
  ASN1_TIME_set_string_X509(X509_getm_notBefore(cert.get()), "20000101000000Z");
  ASN1_TIME_set_string_X509(X509_getm_notAfter(cert.get()), "21000101000000Z");
  X509_set_pubkey(cert.get(), key.get());
  AddExt(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  AddExt(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  AddExt(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) Die("X509_sign (CA)");
  *cert_pem = PemOf(cert.get());
  *key_pem = PemOfKey(key.get());
}

std::string DerToPem(std::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) Die("DerToPem: not a certificate");
  return PemOf(cert.get());
}

void WriteRecords(const std::string& path, const std::vector<std::string>& records) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) Die("cannot write " + path);
  for (const std::string& r : records) {
    const uint32_t n = static_cast<uint32_t>(r.size());
    const char len[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                         static_cast<char>(n >> 8), static_cast<char>(n)};
    out.write(len, 4);
    out.write(r.data(), static_cast<std::streamsize>(r.size()));
  }
  if (!out) Die("write failed: " + path);
}

namespace {
std::vector<std::string> ReadFramed(const std::string& path, size_t prefix) {
  const std::string data = ReadFileOrDie(path);
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < data.size()) {
    if (data.size() - pos < prefix) Die("truncated frame in " + path);
    const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data() + pos + prefix - 4);
    const size_t n = (size_t{p[0]} << 24) | (size_t{p[1]} << 16) | (size_t{p[2]} << 8) | p[3];
    pos += prefix;
    if (data.size() - pos < n) Die("truncated frame in " + path);
    out.emplace_back(data, pos, n);
    pos += n;
  }
  return out;
}
}  // namespace

std::vector<std::string> ReadRecords(const std::string& path) { return ReadFramed(path, 4); }

void WriteGrpcFrames(const std::string& path, const std::vector<std::string>& messages) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) Die("cannot write " + path);
  for (const std::string& m : messages) {
    const uint32_t n = static_cast<uint32_t>(m.size());
    const char head[5] = {0, static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                          static_cast<char>(n >> 8), static_cast<char>(n)};
    out.write(head, 5);
    out.write(m.data(), static_cast<std::streamsize>(m.size()));
  }
  if (!out) Die("write failed: " + path);
}

std::vector<std::string> ReadGrpcFrames(const std::string& path) { return ReadFramed(path, 5); }

}  // namespace certgate::bench
