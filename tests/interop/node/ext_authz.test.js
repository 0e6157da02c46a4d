// Envoy interop: certgate's envoy.service.auth.v3.Authorization/Check called with Envoy's
// OFFICIAL protos (deps/envoy-api of @grpc/grpc-js-xds, loaded by proto-loader), not certgate's
// subset. Requests carry every attribute a real Envoy sends (peer addresses, TLS session, route
// metadata, ...), including fields certgate's subset omits; answers are read the way Envoy's
// ext_authz filter reads them (status code, local reply, header mutations in Envoy's order,
// dynamic metadata).
'use strict';

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');

const {
  adminClient, call, fact, grpc, loadOfficialEnvoyAuth, startServer, testdata, urlEscape,
} = require('./support');

const kRpcOk = 0;
const kRpcPermissionDenied = 7;
const kRpcUnauthenticated = 16;
const kIdentityHeaders = ['x-certgate-user', 'x-certgate-user-id', 'x-certgate-fingerprint', 'x-certgate-subject'];

let server;
let admin;
let authz;
let counter = 0;

before(async () => {
  server = await startServer('forwarders: [{name: envoy, addresses: [127.0.0.1]}]\n');
  admin = adminClient(server);
  for (const name of ['alice', 'erin']) {
    await admin.createUser(name);
    await admin.enroll(name, testdata(`${name}.der`));
  }
  await admin.revoke(fact('erin.fingerprint'));
  const auth = loadOfficialEnvoyAuth();
  authz = new auth.Authorization(server.target, grpc.credentials.createInsecure());
});

after(async () => {
  authz?.close();
  admin?.close();
  if (server) assert.equal(await server.stop(), 0, 'clean exit on SIGTERM');
});

// How Envoy URL-encodes the PEM in source.certificate (older Envoys: exactly these five
// characters; newer ones a full percent-encoding, like urlEscape).
function envoyUrlEncode(pem) {
  const map = { '\n': '%0A', ' ': '%20', '+': '%2B', '/': '%2F', '=': '%3D' };
  return pem.replace(/[\n +/=]/g, (c) => map[c]);
}

// An XFCC element as Envoy's SANITIZE_SET writes it.
function xfccElement(name) {
  return `By=spiffe://example.org/gateway;Hash=${fact(`${name}.fingerprint`)};` +
    `Cert="${urlEscape(testdata(`${name}.pem`, 'utf8'))}";Subject="${fact(`${name}.subject`)}";` +
    `URI=spiffe://example.org/${name}`;
}

// A CheckRequest shaped like the one Envoy's HTTP ext_authz filter sends. `headers` is the
// downstream request's header list (repeated names allowed): Envoy sends it as the `headers`
// map with repeated values joined by ",", or with `encode_raw_headers` as `header_map`.
function checkRequest({ certificate = '', headers = [], raw = false, id } = {}) {
  counter += 1;
  const requestId = id ?? `node-envoy-${counter}`;
  const all = [[':authority', 'api.example.com'], [':method', 'GET'], [':path', '/orders?page=2'],
    ['x-request-id', requestId], ...headers].map(([k, v]) => [k.toLowerCase(), v]);
  const http = {
    id: requestId, method: 'GET', path: '/orders?page=2', host: 'api.example.com', scheme: 'https',
    protocol: 'HTTP/2', size: '0',
  };
  if (raw) {
    http.header_map = { headers: all.map(([key, value]) => ({ key, raw_value: Buffer.from(value) })) };
  } else {
    http.headers = {};
    for (const [k, v] of all) http.headers[k] = k in http.headers ? `${http.headers[k]},${v}` : v;
  }
  return {
    attributes: {
      source: {
        address: { socket_address: { address: '192.0.2.10', port_value: 51234 } },
        principal: certificate ? 'spiffe://example.org/client' : '',
        certificate,
      },
      destination: {
        address: { socket_address: { address: '10.0.0.5', port_value: 8443 } },
        principal: 'spiffe://example.org/gateway',
      },
      request: { time: { seconds: String(Math.floor(Date.now() / 1000)), nanos: 0 }, http },
      context_extensions: { route: 'orders' },
      metadata_context: { filter_metadata: { 'envoy.filters.http.jwt_authn': { fields: {} } } },
      tls_session: { sni: 'api.example.com' },
    },
  };
}

// google.protobuf.Struct (as proto-loader decodes it: the well-known types keep protobufjs'
// camelCase names, and `kind` names the set member) to a plain object.
function structToObject(struct) {
  const value = (v) => {
    const inner = v[v.kind];
    switch (v.kind) {
      case 'listValue': case 'list_value': return inner.values.map(value);
      case 'structValue': case 'struct_value': return structToObject(inner);
      case 'nullValue': case 'null_value': return null;
      default: return inner;
    }
  };
  return Object.fromEntries(Object.entries(struct?.fields ?? {}).map(([k, v]) => [k, value(v)]));
}

// What the upstream request's headers become when Envoy applies an OK CheckResponse: header
// mutations first (the deprecated `append` wins when set: false = overwrite; otherwise
// append_action), headers_to_remove after them — the order of Envoy's ext_authz filter.
function applyOkResponse(requestHeaders, ok) {
  let headers = requestHeaders.map(([k, v]) => [k.toLowerCase(), v]);
  for (const option of ok.headers) {
    const key = option.header.key.toLowerCase();
    const value = option.header.value;
    const action = option.append !== null
      ? (option.append.value ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD')
      : option.append_action;
    const exists = headers.some(([k]) => k === key);
    if (action === 'OVERWRITE_IF_EXISTS_OR_ADD' || (action === 'OVERWRITE_IF_EXISTS' && exists)) {
      headers = headers.filter(([k]) => k !== key);
      headers.push([key, value]);
    } else if (action === 'ADD_IF_ABSENT') {
      if (!exists) headers.push([key, value]);
    } else if (action === 'APPEND_IF_EXISTS_OR_ADD') {
      headers.push([key, value]);
    }
  }
  const removed = new Set(ok.headers_to_remove.map((h) => h.toLowerCase()));
  return headers.filter(([k]) => !removed.has(k));
}

async function check(request) {
  const resp = await call(authz, 'Check', request);
  const audit = await admin.auditByRequestId(request.attributes.request.http.id);
  assert.equal(audit.events.length, 1, 'exactly one audit row per decision');
  const event = audit.events[0];
  assert.equal(event.action, 'GET');
  assert.equal(event.resource, '/orders');
  assert.equal(structToObject(resp.dynamic_metadata).audit_id, String(event.id));
  return { resp, event };
}

async function expectAllowed(request, user, downstreamHeaders = []) {
  const { resp, event } = await check(request);
  assert.equal(resp.status.code, kRpcOk, JSON.stringify(resp.denied_response));
  assert.equal(resp.http_response, 'ok_response');
  assert.equal(event.decision, 'ALLOW');
  const ok = resp.ok_response;
  // Every identity header is either overwritten or removed, never both (Envoy removes last).
  for (const name of kIdentityHeaders) {
    const sets = ok.headers.filter((h) => h.header.key === name);
    const removes = ok.headers_to_remove.includes(name);
    assert.equal(sets.length + (removes ? 1 : 0), 1, `${name}: set once xor removed`);
  }
  const upstream = applyOkResponse(downstreamHeaders, ok);
  const values = (k) => upstream.filter(([key]) => key === k).map(([, v]) => v);
  assert.deepEqual(values('x-certgate-user'), [user]);
  assert.deepEqual(values('x-certgate-fingerprint'), [fact(`${user}.fingerprint`)]);
  assert.deepEqual(values('x-certgate-subject'), [fact(`${user}.subject`)]);
  assert.match(values('x-certgate-user-id')[0], /^[0-9]+$/);
  const meta = structToObject(resp.dynamic_metadata);
  assert.equal(meta.user, user);
  assert.equal(meta.user_id, values('x-certgate-user-id')[0]);
  assert.equal(meta.fingerprint, fact(`${user}.fingerprint`));
  assert.equal(meta.subject, fact(`${user}.subject`));
  assert.equal(meta.issuer, 'CN=certgate Test Root CA,O=certgate tests,C=US');
  assert.equal(meta.serial, fact(`${user}.serial`));
  assert.equal(meta.request_id, request.attributes.request.http.id);
  return { resp, upstream };
}

async function expectDenied(request, reason, httpStatus) {
  const { resp, event } = await check(request);
  assert.equal(resp.http_response, 'denied_response');
  assert.equal(resp.status.code, httpStatus === 401 ? kRpcUnauthenticated : kRpcPermissionDenied);
  assert.equal(event.decision, 'DENY');
  assert.equal(event.reason, reason);
  const denied = resp.denied_response;
  assert.equal(denied.status.code, httpStatus === 401 ? 'Unauthorized' : 'Forbidden');
  const headers = Object.fromEntries(denied.headers.map((h) => [h.header.key, h.header.value]));
  assert.equal(headers['content-type'], 'application/json');
  assert.equal(headers['x-certgate-reason'], reason);
  const body = JSON.parse(denied.body);
  assert.equal(body.reason, reason);
  assert.equal(typeof body.message, 'string');
  assert.ok(body.message.length > 0);
  assert.equal(body.request_id, request.attributes.request.http.id);
  assert.equal(structToObject(resp.dynamic_metadata).reason, reason);
  return resp;
}

describe('Envoy ext_authz Check with the official envoy.service.auth.v3 protos', () => {
  test('a certificate in source.certificate (include_peer_certificate) is allowed', async () => {
    await expectAllowed(checkRequest({ certificate: envoyUrlEncode(testdata('alice.pem', 'utf8')) }), 'alice');
    await expectAllowed(checkRequest({ certificate: urlEscape(testdata('alice.pem', 'utf8')) }), 'alice');
  });

  test('a certificate in an XFCC header is allowed', async () => {
    const xfcc = xfccElement('alice');
    await expectAllowed(checkRequest({ headers: [['x-forwarded-client-cert', xfcc]] }), 'alice',
      [['x-forwarded-client-cert', xfcc]]);
  });

  test('an XFCC with several elements is decided on the first (the original client)', async () => {
    // Two proxy hops: Envoy joins the repeated header into the map with ",".
    await expectAllowed(checkRequest({
      headers: [['x-forwarded-client-cert', xfccElement('alice')], ['x-forwarded-client-cert', xfccElement('bob')]],
    }), 'alice');
    await expectDenied(checkRequest({
      headers: [['x-forwarded-client-cert', `${xfccElement('bob')},${xfccElement('alice')}`]],
    }), 'CERTIFICATE_NOT_ENROLLED', 403);
  });

  test('encode_raw_headers: the header_map with raw_value bytes is read too', async () => {
    await expectAllowed(checkRequest({ headers: [['x-forwarded-client-cert', xfccElement('alice')]], raw: true }),
      'alice');
  });

  test('no certificate at all is 401 CERTIFICATE_MISSING', async () => {
    await expectDenied(checkRequest(), 'CERTIFICATE_MISSING', 401);
  });

  test('a revoked certificate is 403 CERTIFICATE_REVOKED', async () => {
    await expectDenied(checkRequest({ certificate: urlEscape(testdata('erin.pem', 'utf8')) }),
      'CERTIFICATE_REVOKED', 403);
  });

  test('a malformed certificate is 401 CERTIFICATE_MALFORMED', async () => {
    await expectDenied(checkRequest({ headers: [['x-forwarded-client-cert', 'Cert="%ZZ"']] }),
      'CERTIFICATE_MALFORMED', 401);
  });

  test('forged x-certgate-* request headers never reach upstream', async () => {
    const forged = [['x-certgate-user', 'root'], ['x-certgate-user', 'admin'], ['X-Certgate-User-Id', '999'],
      ['x-certgate-fingerprint', 'ff'], ['x-certgate-subject', 'CN=root']];
    const { resp, upstream } = await expectAllowed(
      checkRequest({ certificate: urlEscape(testdata('alice.pem', 'utf8')), headers: forged }), 'alice', forged);
    for (const name of kIdentityHeaders) {
      const option = resp.ok_response.headers.find((h) => h.header.key === name);
      if (option) {
        // Overwrite in every Envoy: old ones read `append` (false = overwrite), new ones too
        // when it is set, and append_action agrees.
        assert.deepEqual(option.append, { value: false }, name);
        assert.equal(option.append_action, 'OVERWRITE_IF_EXISTS_OR_ADD', name);
      } else {
        assert.ok(resp.ok_response.headers_to_remove.includes(name), `${name} must be removed`);
      }
    }
    assert.ok(!upstream.some(([k, v]) => k.startsWith('x-certgate-') && ['root', 'admin', '999', 'ff', 'CN=root'].includes(v)),
      JSON.stringify(upstream));
  });
});
