// Shared helpers for the Node.js interop tests: start the real certgate-server on 127.0.0.1:0
// (environment from ctest: CERTGATE_SERVER_BIN, CERTGATE_TESTDATA, CERTGATE_PROTO_DIR), talk to
// its Admin API on the unix socket, and load protos (certgate's own, or Envoy's official ones
// shipped in @grpc/grpc-js-xds).
'use strict';

const assert = require('node:assert');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

function env(name) {
  const value = process.env[name];
  assert.ok(value, `${name} is not set (run through ctest)`);
  return value;
}

const testdata = (name, encoding) => fs.readFileSync(path.join(env('CERTGATE_TESTDATA'), name), encoding);
const fact = (name) => testdata(name, 'utf8').trim();

// Where @grpc/grpc-js-xds keeps Envoy's official API and the protos it imports.
function envoyApiIncludeDirs() {
  const deps = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
  const dirs = ['envoy-api', 'googleapis', 'protoc-gen-validate', 'xds'].map((d) => path.join(deps, d));
  for (const d of dirs) assert.ok(fs.existsSync(d), `missing ${d}`);
  return dirs;
}

const kLoaderOptions = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

function loadCertgateProtos() {
  const def = protoLoader.loadSync(['certgate/v1/authorizer.proto', 'certgate/v1/admin.proto'], {
    ...kLoaderOptions,
    includeDirs: [env('CERTGATE_PROTO_DIR')],
  });
  return grpc.loadPackageDefinition(def).certgate.v1;
}

// Envoy's OFFICIAL external_auth.proto (not certgate's subset).
function loadOfficialEnvoyAuth() {
  const def = protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', {
    ...kLoaderOptions,
    includeDirs: envoyApiIncludeDirs(),
  });
  return grpc.loadPackageDefinition(def).envoy.service.auth.v3;
}

// nginx/Envoy-style URL encoding of PEM text (everything but A-Z a-z 0-9 - . _ ~).
function urlEscape(text) {
  return Array.from(Buffer.from(text, 'utf8'))
    .map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b))
      ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

// Promisified unary call with a deadline.
function call(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + 10000 }, (err, resp) => (err ? reject(err) : resolve(resp)));
  });
}

// Starts certgate-server in a fresh temporary directory; `extraYaml` is appended to its config.
async function startServer(extraYaml = '') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certgate-node-'));
  const config = path.join(dir, 'certgate.yaml');
  fs.writeFileSync(config, [
    'listen: 127.0.0.1:0',
    `database: ${dir}/certgate.db`,
    `admin_socket: ${dir}/admin.sock`,
    'log_level: warn',
    extraYaml,
  ].join('\n'));
  const proc = spawn(env('CERTGATE_SERVER_BIN'), ['--config', config], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: proc.stdout });
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server not ready in 30 s')), 30000);
    proc.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(line);
    });
  });
  const m = /listen=[^ ]+:(\d+)/.exec(ready);
  if (!m) {
    proc.kill('SIGKILL');
    throw new Error(`unexpected readiness line: ${ready}`);
  }
  return {
    target: `127.0.0.1:${m[1]}`,
    adminTarget: `unix:${dir}/admin.sock`,
    // SIGTERM; resolves with the exit code.
    stop() {
      return new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve(proc.exitCode);
        proc.once('exit', (code) => {
          fs.rmSync(dir, { recursive: true, force: true });
          resolve(code);
        });
        proc.kill('SIGTERM');
      });
    },
  };
}

// Admin API client with the few calls the tests need.
function adminClient(server) {
  const v1 = loadCertgateProtos();
  const admin = new v1.Admin(server.adminTarget, grpc.credentials.createInsecure());
  return {
    createUser: (name) => call(admin, 'CreateUser', { name }),
    enroll: (userName, der) => call(admin, 'EnrollCertificate', { user_name: userName, certificate_der: der }),
    revoke: (fingerprint) => call(admin, 'RevokeCertificate', { fingerprint_sha256: fingerprint, reason_code: 1 }),
    auditByRequestId: (requestId) => call(admin, 'QueryAudit', { request_id: requestId }),
    close: () => admin.close(),
  };
}

module.exports = {
  adminClient, call, envoyApiIncludeDirs, fact, grpc, loadCertgateProtos, loadOfficialEnvoyAuth,
  startServer, testdata, urlEscape,
};
