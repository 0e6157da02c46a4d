// The certificate the authorize and xfcc fuzz targets treat as enrolled: alice.pem from one run
// of tests/testdata/gen_pki.sh, committed as tests/fuzz/testdata/alice.pem (a public certificate;
// its key was never kept) and embedded at build time. It is fixed, unlike the PKI the other tests
// generate afresh, so that the committed corpus keeps reaching the "allowed" path.
#pragma once

#include <string>

namespace certgate::fuzz {

// The PEM text as committed.
const std::string& EnrolledAlicePem();
// Its DER (aborts at first use if the embedded PEM does not decode).
const std::string& EnrolledAliceDer();

}  // namespace certgate::fuzz
