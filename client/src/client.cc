#include "certgate/client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <fstream>
#include <set>
#include <sstream>

namespace certgate {
namespace {

bool ReadAll(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

}  // namespace

std::shared_ptr<grpc::Channel> MakeChannel(const ChannelOptions& options, std::string* error) {
  std::string target = options.target;
  if (!target.empty() && (target[0] == '/' || target[0] == '.')) target = "unix:" + target;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 << 20);
  if (options.ca_file.empty()) {
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions ssl;
  if (!ReadAll(options.ca_file, &ssl.pem_root_certs)) {
    if (error) *error = "cannot read CA file " + options.ca_file;
    return nullptr;
  }
  if (!options.cert_file.empty() || !options.key_file.empty()) {
    if (!ReadAll(options.cert_file, &ssl.pem_cert_chain)) {
      if (error) *error = "cannot read certificate file " + options.cert_file;
      return nullptr;
    }
    if (!ReadAll(options.key_file, &ssl.pem_private_key)) {
      if (error) *error = "cannot read key file " + options.key_file;
      return nullptr;
    }
  }
  if (!options.server_name_override.empty()) {
    args.SetSslTargetNameOverride(options.server_name_override);
  }
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(ssl), args);
}

Client::Client(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout)
    : channel_(std::move(channel)),
      timeout_(timeout),
      authorizer_(v1::Authorizer::NewStub(channel_)),
      admin_(v1::Admin::NewStub(channel_)) {}

std::unique_ptr<grpc::ClientContext> Client::NewContext() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + timeout_);
  return ctx;
}

grpc::Status Client::Authorize(const v1::AuthorizeRequest& request,
                               v1::AuthorizeResponse* response) {
  auto ctx = NewContext();
  return authorizer_->Authorize(ctx.get(), request, response);
}

bool IsPreset(const std::string& name) {
  static const std::set<std::string> kPresets = {"envoy", "aws-alb", "cloudflare", "traefik",
                                                 "nginx", "haproxy", "caddy",      "gcp"};
  return kPresets.count(name) > 0;
}

v1::AuthorizeRequest DerRequest(std::string der) {
  v1::AuthorizeRequest r;
  r.set_certificate_der(std::move(der));
  return r;
}

v1::AuthorizeRequest PemRequest(std::string pem) {
  v1::AuthorizeRequest r;
  r.set_certificate_pem(std::move(pem));
  return r;
}

v1::AuthorizeRequest HeaderRequest(std::string value, const std::string& format) {
  v1::AuthorizeRequest r;
  v1::ForwardedHeader* h = r.mutable_forwarded_header();
  h->set_value(std::move(value));
  if (IsPreset(format)) {
    h->set_preset(format);
  } else {
    h->set_encoding(format);
  }
  return r;
}

v1::AuthorizeRequest SubjectSerialRequest(std::string subject_dn, std::string serial,
                                          std::string issuer_dn, bool decimal) {
  v1::AuthorizeRequest r;
  v1::SubjectSerial* s = r.mutable_subject_serial();
  s->set_subject_dn(std::move(subject_dn));
  s->set_serial(std::move(serial));
  s->set_issuer_dn(std::move(issuer_dn));
  s->set_serial_format(decimal ? v1::SubjectSerial::DECIMAL : v1::SubjectSerial::HEX);
  return r;
}

}  // namespace certgate
