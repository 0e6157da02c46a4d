// Owning smart pointers for OpenSSL objects, like BoringSSL's bssl::UniquePtr.
//
// Every OpenSSL object certgate creates is held by one of these aliases from the moment it is
// returned, so no code path (early return on untrusted input included) leaks it, and no code
// outside this header calls a *_free function. This is the only header in certs/ that names
// OpenSSL types; it is private to the certs module and its tests.
#pragma once

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>

namespace certgate::certs::ossl {

namespace internal {

// Calls a C free function; usable as a unique_ptr deleter.
template <auto FreeFn>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    FreeFn(p);
  }
};

struct OpensslFree {
  void operator()(void* p) const { OPENSSL_free(p); }
};

struct X509StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};

struct X509NameStackFree {
  void operator()(STACK_OF(X509_NAME) * s) const { sk_X509_NAME_pop_free(s, X509_NAME_free); }
};

struct X509CrlStackFree {
  void operator()(STACK_OF(X509_CRL) * s) const { sk_X509_CRL_pop_free(s, X509_CRL_free); }
};

struct Asn1ObjectStackFree {
  void operator()(STACK_OF(ASN1_OBJECT) * s) const { sk_ASN1_OBJECT_pop_free(s, ASN1_OBJECT_free); }
};

}  // namespace internal

using X509Ptr = std::unique_ptr<X509, internal::Deleter<X509_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, internal::Deleter<X509_REQ_free>>;
using X509CrlPtr = std::unique_ptr<X509_CRL, internal::Deleter<X509_CRL_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, internal::Deleter<X509_NAME_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, internal::Deleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, internal::Deleter<X509_STORE_CTX_free>>;
using X509VerifyParamPtr =
    std::unique_ptr<X509_VERIFY_PARAM, internal::Deleter<X509_VERIFY_PARAM_free>>;
using BioPtr = std::unique_ptr<BIO, internal::Deleter<BIO_free_all>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, internal::Deleter<EVP_PKEY_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, internal::Deleter<EVP_MD_CTX_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, internal::Deleter<BN_free>>;
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, internal::Deleter<ASN1_STRING_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, internal::Deleter<ASN1_TIME_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, internal::Deleter<GENERAL_NAMES_free>>;
using BasicConstraintsPtr =
    std::unique_ptr<BASIC_CONSTRAINTS, internal::Deleter<BASIC_CONSTRAINTS_free>>;
using X509StackPtr = std::unique_ptr<STACK_OF(X509), internal::X509StackFree>;
using X509NameStackPtr = std::unique_ptr<STACK_OF(X509_NAME), internal::X509NameStackFree>;
using X509CrlStackPtr = std::unique_ptr<STACK_OF(X509_CRL), internal::X509CrlStackFree>;
// EXTENDED_KEY_USAGE is a STACK_OF(ASN1_OBJECT).
using Asn1ObjectStackPtr = std::unique_ptr<STACK_OF(ASN1_OBJECT), internal::Asn1ObjectStackFree>;

// Buffers OpenSSL allocates for the caller (i2d_* output, BN_bn2hex, ASN1_STRING_to_UTF8).
using OpensslBytes = std::unique_ptr<unsigned char, internal::OpensslFree>;
using OpensslString = std::unique_ptr<char, internal::OpensslFree>;

}  // namespace certgate::certs::ossl
