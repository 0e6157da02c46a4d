// Bench-only helpers: mint many client certificates fast (one reused EC key, many certificates
// signed by the test CA), and read/write the simple framed files the bench tools exchange.
// Not part of certgate: nothing under server/ or client/ includes this.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace certgate::bench {

// Signs `count` client certificates (EC P-256 key shared by all, serials first_serial..,
// subject "/C=US/O=certgate bench/OU=<ou>/CN=bench-<serial>", EKU clientAuth, valid
// 2024-01-01..2099-01-01) with the CA in ca_cert_pem / ca_key_pem. Returns their DER.
// Aborts with a message on any OpenSSL failure (bench tooling, not a service).
std::vector<std::string> MintCertificates(const std::string& ca_cert_pem,
                                          const std::string& ca_key_pem, uint64_t first_serial,
                                          size_t count, const std::string& ou);

// A self-contained CA (fresh EC key, self-signed) for tools that have no CA files, as PEM.
void MakeCa(std::string* cert_pem, std::string* key_pem);

// PEM text of one DER certificate.
std::string DerToPem(std::string_view der);

// Records framed as 4-byte big-endian length + bytes, back to back.
void WriteRecords(const std::string& path, const std::vector<std::string>& records);
std::vector<std::string> ReadRecords(const std::string& path);

// gRPC messages framed as on the wire (1 byte compressed flag = 0, 4-byte big-endian length,
// message), back to back: what h2load -d sends and what load_client replays.
void WriteGrpcFrames(const std::string& path, const std::vector<std::string>& messages);
std::vector<std::string> ReadGrpcFrames(const std::string& path);

std::string ReadFileOrDie(const std::string& path);

}  // namespace certgate::bench
