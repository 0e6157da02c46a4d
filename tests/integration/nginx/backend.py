#!/usr/bin/python3
"""A tiny HTTP backend for the nginx end-to-end test (tests/integration/trust_test.cc).

nginx terminates mTLS and proxies to this server, setting X-SSL-Client-Cert to
$ssl_client_escaped_cert and X-SSL-Client-Verify to $ssl_client_verify. For every request this
backend asks certgate (over mTLS, presenting the forwarder certificate) to decide, with the
`nginx` preset and the verification value, and answers 200 "ALLOW user=NAME" or
403 "DENY REASON: message" (502 when certgate could not decide).

Stubs are generated at start from proto/ with protoc + grpc_python_plugin (Debian's
python3-grpcio), as in tests/interop/python. Prints "ready port=N" once listening.
"""
import argparse
import http.server
import pathlib
import signal
import subprocess
import sys
import tempfile


def generate_stubs(proto_dir, out_dir):
    subprocess.run(
        ["protoc", f"--proto_path={proto_dir}", f"--python_out={out_dir}",
         f"--grpc_python_out={out_dir}",
         "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin",
         "certgate/v1/authorizer.proto"],
        check=True)
    sys.path.insert(0, out_dir)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--certgate", required=True, help="host:port of certgate's Authorize")
    parser.add_argument("--proto-dir", required=True)
    parser.add_argument("--ca", required=True, help="CA that signed certgate's server certificate")
    parser.add_argument("--cert", required=True, help="forwarder client certificate (PEM)")
    parser.add_argument("--key", required=True, help="forwarder client key (PEM)")
    args = parser.parse_args()

    stubs = tempfile.TemporaryDirectory()
    generate_stubs(args.proto_dir, stubs.name)
    import grpc  # noqa: E402
    from certgate.v1 import authorizer_pb2, authorizer_pb2_grpc  # noqa: E402

    credentials = grpc.ssl_channel_credentials(
        root_certificates=pathlib.Path(args.ca).read_bytes(),
        private_key=pathlib.Path(args.key).read_bytes(),
        certificate_chain=pathlib.Path(args.cert).read_bytes())
    channel = grpc.secure_channel(args.certgate, credentials,
                                  options=[("grpc.ssl_target_name_override", "localhost")])
    stub = authorizer_pb2_grpc.AuthorizerStub(channel)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            header = authorizer_pb2.ForwardedHeader(
                value=self.headers.get("X-SSL-Client-Cert", ""), preset="nginx",
                verification=self.headers.get("X-SSL-Client-Verify", ""))
            request = authorizer_pb2.AuthorizeRequest(
                forwarded_header=header, action="GET", resource=self.path,
                request_id=self.headers.get("X-Request-Id", ""))
            try:
                resp = stub.Authorize(request, timeout=10)
            except grpc.RpcError as e:
                self.reply(502, f"ERROR {e.code().name}: {e.details()}\n")
                return
            if resp.WhichOneof("result") == "identity":
                self.reply(200, f"ALLOW user={resp.identity.user_name}\n")
            else:
                reason = authorizer_pb2.Rejection.Reason.Name(resp.rejection.reason)
                self.reply(403, f"DENY {reason}: {resp.rejection.message}\n")

        def reply(self, code, body):
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt, *a):  # keep the test output quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"ready port={server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        channel.close()
        stubs.cleanup()


if __name__ == "__main__":
    main()
