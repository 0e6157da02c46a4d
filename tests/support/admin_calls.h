// Admin API calls the integration tests make to set up users and certificates (header-only: only
// the tests that link certgate_client include it).
#pragma once

#include <string>

#include "certgate/client.h"

namespace certgate::testing {

inline grpc::Status CreateUser(Client& admin, const std::string& name) {
  v1::CreateUserRequest req;
  req.set_name(name);
  v1::User resp;
  return admin.admin().CreateUser(admin.NewContext().get(), req, &resp);
}

// Enrolls the DER certificate `der` for an existing user.
inline grpc::Status EnrollDer(Client& admin, const std::string& user, const std::string& der) {
  v1::EnrollCertificateRequest req;
  req.set_user_name(user);
  req.set_certificate_der(der);
  v1::Certificate resp;
  return admin.admin().EnrollCertificate(admin.NewContext().get(), req, &resp);
}

}  // namespace certgate::testing
