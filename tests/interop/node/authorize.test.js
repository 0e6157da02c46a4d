// certgate.v1.Authorizer/Authorize from Node.js (@grpc/grpc-js + @grpc/proto-loader, protos
// loaded from proto/ at run time): an enrolled certificate gets an identity, others a reason.
'use strict';

const assert = require('node:assert/strict');
const { after, before, test } = require('node:test');

const { adminClient, call, fact, grpc, loadCertgateProtos, startServer, testdata } = require('./support');

let server;
let admin;
let authorizer;

before(async () => {
  server = await startServer();
  admin = adminClient(server);
  await admin.createUser('alice');
  await admin.enroll('alice', testdata('alice.der'));
  const v1 = loadCertgateProtos();
  authorizer = new v1.Authorizer(server.target, grpc.credentials.createInsecure());
});

after(async () => {
  authorizer?.close();
  admin?.close();
  if (server) assert.equal(await server.stop(), 0, 'clean exit on SIGTERM');
});

test('an enrolled DER certificate gets an identity', async () => {
  const resp = await call(authorizer, 'Authorize', {
    certificate_der: testdata('alice.der'), request_id: 'node-1', action: 'GET', resource: '/orders',
  });
  assert.equal(resp.result, 'identity');
  assert.equal(resp.identity.user_name, 'alice');
  assert.equal(resp.identity.certificate.fingerprint_sha256, fact('alice.fingerprint'));
  assert.equal(resp.identity.certificate.serial, fact('alice.serial'));
  assert.equal(resp.identity.certificate.subject, fact('alice.subject'));
  assert.deepEqual(resp.identity.certificate.dns_names, ['alice.example.com']);
  assert.equal(resp.request_id, 'node-1');
  assert.ok(Number(resp.audit_id) > 0);
  const audit = await admin.auditByRequestId('node-1');
  assert.equal(audit.events.length, 1);
  assert.equal(audit.events[0].decision, 'ALLOW');
});

test('PEM text works the same', async () => {
  const resp = await call(authorizer, 'Authorize', { certificate_pem: testdata('alice_chain.pem', 'utf8') });
  assert.equal(resp.identity?.user_name, 'alice');
});

test('an unenrolled certificate is rejected with a reason and a generated request id', async () => {
  const resp = await call(authorizer, 'Authorize', { certificate_pem: testdata('bob.pem', 'utf8') });
  assert.equal(resp.result, 'rejection');
  assert.equal(resp.rejection.reason, 'CERTIFICATE_NOT_ENROLLED');
  assert.ok(resp.rejection.message.length > 0);
  assert.ok(resp.request_id.length > 0);
});

test('a forwarded header from an unconfigured forwarder is not believed', async () => {
  const resp = await call(authorizer, 'Authorize', {
    forwarded_header: { value: testdata('alice.der').toString('base64'), encoding: 'base64-der' },
  });
  assert.equal(resp.rejection?.reason, 'FORWARDER_NOT_TRUSTED');
});

test('an oversize request id is INVALID_ARGUMENT, not a decision', async () => {
  await assert.rejects(
    call(authorizer, 'Authorize', { certificate_der: testdata('alice.der'), request_id: 'x'.repeat(200) }),
    (err) => err.code === grpc.status.INVALID_ARGUMENT,
  );
});
