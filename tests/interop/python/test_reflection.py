#!/usr/bin/python3
"""gRPC server reflection from Python (Debian's python3-grpcio; Debian has no grpcio-reflection,
so the client stubs are generated at test time from a minimal, wire-compatible copy of
grpc.reflection.v1alpha in protos/). Lists the services of both listeners and resolves the
descriptors of Envoy's Check and certgate's Authorize, as grpcurl or Postman would.
"""
import os
import pathlib
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from test_authorize import ServerProcess  # noqa: E402


def generate_stubs(out_dir):
    proto_dir = pathlib.Path(__file__).parent / "protos"
    subprocess.run(
        ["protoc", f"--proto_path={proto_dir}", f"--python_out={out_dir}",
         f"--grpc_python_out={out_dir}", "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin",
         "certgate_interop/reflection.proto"],
        check=True)
    sys.path.insert(0, out_dir)


class ReflectionFromPython(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        generate_stubs(cls.tmp.name)
        import grpc
        from certgate_interop import reflection_pb2, reflection_pb2_grpc
        cls.pb2 = reflection_pb2
        cls.server = ServerProcess(cls.tmp.name)
        cls.channels = [grpc.insecure_channel(cls.server.target),
                        grpc.insecure_channel(cls.server.admin_target)]
        cls.stubs = [reflection_pb2_grpc.ServerReflectionStub(c) for c in cls.channels]

    @classmethod
    def tearDownClass(cls):
        for c in cls.channels:
            c.close()
        rc = cls.server.stop()
        cls.tmp.cleanup()
        assert rc == 0, f"server exited with {rc}"

    def ask(self, stub, **request):
        responses = list(stub.ServerReflectionInfo(iter([self.pb2.ServerReflectionRequest(**request)]),
                                                   timeout=10))
        self.assertEqual(len(responses), 1)
        return responses[0]

    def services(self, stub):
        resp = self.ask(stub, list_services="")
        return sorted(s.name for s in resp.list_services_response.service)

    def test_authorization_listener_lists_its_services(self):
        self.assertEqual(self.services(self.stubs[0]), [
            "certgate.v1.Authorizer",
            "envoy.service.auth.v3.Authorization",
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection",
        ])

    def test_admin_listener_lists_admin_only(self):
        self.assertEqual(self.services(self.stubs[1]), [
            "certgate.v1.Admin",
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection",
        ])

    def descriptors(self, symbol):
        from google.protobuf import descriptor_pb2
        resp = self.ask(self.stubs[0], file_containing_symbol=symbol)
        self.assertEqual(resp.WhichOneof("message_response"), "file_descriptor_response",
                         resp.error_response.error_message)
        files = {}
        for raw in resp.file_descriptor_response.file_descriptor_proto:
            fd = descriptor_pb2.FileDescriptorProto()
            fd.ParseFromString(raw)
            files[fd.name] = fd
        return files

    def test_check_descriptor_resolves_with_its_imports(self):
        files = self.descriptors("envoy.service.auth.v3.Authorization")
        fd = files["envoy/service/auth/v3/external_auth.proto"]
        self.assertEqual(fd.package, "envoy.service.auth.v3")
        (service,) = fd.service
        self.assertEqual(service.name, "Authorization")
        (method,) = service.method
        self.assertEqual((method.name, method.input_type, method.output_type),
                         ("Check", ".envoy.service.auth.v3.CheckRequest", ".envoy.service.auth.v3.CheckResponse"))
        # The server sends the transitive imports a client needs to build the messages.
        for dep in fd.dependency:
            if not dep.startswith("google/protobuf/"):
                self.assertIn(dep, files)

    def test_authorize_descriptor_resolves(self):
        files = self.descriptors("certgate.v1.Authorizer")
        fd = files["certgate/v1/authorizer.proto"]
        self.assertIn("Authorize", [m.name for s in fd.service for m in s.method])

    def test_unknown_symbol_is_not_found(self):
        resp = self.ask(self.stubs[0], file_containing_symbol="no.such.Service")
        self.assertEqual(resp.WhichOneof("message_response"), "error_response")
        self.assertEqual(resp.error_response.error_code, 5)  # NOT_FOUND


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)
