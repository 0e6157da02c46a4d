// deploy/envoy/envoy.yaml (and the copy in deploy/kubernetes/envoy-gateway.yaml) checked against
// Envoy's OFFICIAL API (deps of @grpc/grpc-js-xds), the way Envoy's own config loader would:
// every key must be a field of its message (proto or JSON name), every typed_config's @type a
// known message, every enum value a known name, durations well-formed. Envoy itself is not
// installable here; this catches typos and misplaced keys, which Envoy would refuse at start.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');

const protobuf = require('protobufjs');
const YAML = require('yaml');

const { envoyApiIncludeDirs } = require('./support');

// The config's message types, and every extension its typed_configs name.
const kProtoFiles = [
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto',
  'envoy/extensions/filters/http/header_mutation/v3/header_mutation.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
];

let root;
function officialRoot() {
  if (root) return root;
  const dirs = envoyApiIncludeDirs();
  root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    for (const dir of dirs) {
      const candidate = path.join(dir, target);
      if (fs.existsSync(candidate)) return candidate;
    }
    return target;  // google/protobuf/*: protobufjs' bundled well-known types
  };
  root.loadSync(kProtoFiles, { keepCase: true });
  root.resolveAll();
  return root;
}

const kScalars = {
  string: (v) => typeof v === 'string',
  bytes: (v) => typeof v === 'string',
  bool: (v) => typeof v === 'boolean',
  double: (v) => typeof v === 'number', float: (v) => typeof v === 'number',
};
const isInteger = (v) => Number.isInteger(v) || (typeof v === 'string' && /^-?\d+$/.test(v));
const kWrappers = {
  '.google.protobuf.BoolValue': 'bool', '.google.protobuf.StringValue': 'string',
  '.google.protobuf.UInt32Value': 'uint32', '.google.protobuf.UInt64Value': 'uint64',
  '.google.protobuf.Int32Value': 'int32', '.google.protobuf.Int64Value': 'int64',
  '.google.protobuf.DoubleValue': 'double', '.google.protobuf.FloatValue': 'float',
};

// Checks `value` against message type `type`; pushes "path: problem" strings into `problems`.
function checkMessage(type, value, where, problems) {
  const full = type.fullName;
  if (full === '.google.protobuf.Duration') {
    if (typeof value !== 'string' || !/^-?\d+(\.\d{1,9})?s$/.test(value)) problems.push(`${where}: bad Duration ${JSON.stringify(value)}`);
    return;
  }
  if (full === '.google.protobuf.Struct' || full === '.google.protobuf.Value') return;
  if (kWrappers[full]) {
    checkScalar(kWrappers[full], value, where, problems);
    return;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${where}: expected an object for ${full}`);
    return;
  }
  if (full === '.google.protobuf.Any') {
    const url = value['@type'];
    const m = /^type\.googleapis\.com\/(.+)$/.exec(url ?? '');
    if (!m) {
      problems.push(`${where}: typed_config without a type.googleapis.com @type`);
      return;
    }
    let inner;
    try {
      inner = officialRoot().lookupType(m[1]);
    } catch {
      problems.push(`${where}: unknown @type ${m[1]}`);
      return;
    }
    const { '@type': _, ...rest } = value;
    checkMessage(inner, rest, `${where}<${m[1]}>`, problems);
    return;
  }
  const byName = new Map();
  for (const f of type.fieldsArray) {
    byName.set(f.name, f);
    byName.set(f.name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase()), f);  // JSON name
  }
  const oneofsSeen = new Map();
  for (const [key, v] of Object.entries(value)) {
    const field = byName.get(key);
    if (!field) {
      problems.push(`${where}.${key}: no such field in ${full}`);
      continue;
    }
    if (field.partOf) {
      const other = oneofsSeen.get(field.partOf.name);
      if (other) problems.push(`${where}: ${other} and ${key} are in the same oneof ${field.partOf.name}`);
      oneofsSeen.set(field.partOf.name, key);
    }
    checkField(field, v, `${where}.${key}`, problems);
  }
}

function checkScalar(kind, value, where, problems) {
  const ok = kScalars[kind] ? kScalars[kind](value) : isInteger(value);
  if (!ok) problems.push(`${where}: ${JSON.stringify(value)} is not a ${kind}`);
}

function checkSingle(field, value, where, problems) {
  const t = field.resolvedType;
  if (t instanceof protobuf.Type) {
    checkMessage(t, value, where, problems);
  } else if (t instanceof protobuf.Enum) {
    if (!(typeof value === 'string' ? value in t.values : Object.values(t.values).includes(value))) {
      problems.push(`${where}: ${JSON.stringify(value)} is not a value of ${t.fullName}`);
    }
  } else {
    checkScalar(field.type, value, where, problems);
  }
}

function checkField(field, value, where, problems) {
  if (field.map) {
    if (value === null || typeof value !== 'object') return problems.push(`${where}: expected a map`);
    for (const [k, v] of Object.entries(value)) checkSingle(field, v, `${where}[${k}]`, problems);
  } else if (field.repeated) {
    if (!Array.isArray(value)) return problems.push(`${where}: expected a list`);
    value.forEach((v, i) => checkSingle(field, v, `${where}[${i}]`, problems));
  } else {
    checkSingle(field, value, where, problems);
  }
  return undefined;
}

function validateBootstrap(config, label) {
  const problems = [];
  checkMessage(officialRoot().lookupType('envoy.config.bootstrap.v3.Bootstrap'), config, label, problems);
  return problems;
}

function findExtAuthz(config) {
  const hcm = config.static_resources.listeners[0].filter_chains[0].filters
    .find((f) => f.name === 'envoy.filters.network.http_connection_manager').typed_config;
  return { hcm, filters: hcm.http_filters };
}

function sourceDir() {
  const dir = process.env.CERTGATE_SOURCE_DIR;
  assert.ok(dir, 'CERTGATE_SOURCE_DIR is not set (run through ctest)');
  return dir;
}

function configs() {
  const plain = YAML.parse(fs.readFileSync(path.join(sourceDir(), 'deploy/envoy/envoy.yaml'), 'utf8'));
  const k8s = YAML.parseAllDocuments(fs.readFileSync(path.join(sourceDir(), 'deploy/kubernetes/envoy-gateway.yaml'), 'utf8'))
    .map((d) => d.toJS()).find((d) => d.kind === 'ConfigMap');
  return { 'deploy/envoy/envoy.yaml': plain, 'envoy-gateway.yaml ConfigMap': YAML.parse(k8s.data['envoy.yaml']) };
}

test('the Envoy configs are valid against Envoy\'s official v3 API', () => {
  for (const [label, config] of Object.entries(configs())) {
    assert.deepEqual(validateBootstrap(config, label), [], label);
  }
});

test('the validator itself rejects typos, wrong types and unknown @types', () => {
  const config = configs()['deploy/envoy/envoy.yaml'];
  const bad = structuredClone(config);
  const ext = findExtAuthz(bad).filters.find((f) => f.name === 'envoy.filters.http.ext_authz').typed_config;
  ext.failure_mode_alow = false;
  ext.include_peer_certificate = 'yes';
  ext.transport_api_version = 'V4';
  ext.grpc_service.timeout = '500ms';
  bad.static_resources.clusters[0].typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']['@type'] =
    'type.googleapis.com/envoy.extensions.upstreams.http.v3.NoSuchOptions';
  const problems = validateBootstrap(bad, 'bad');
  assert.equal(problems.length, 5, problems.join('\n'));
});

test('ext_authz and the connection manager are set up the way certgate needs', () => {
  for (const [label, config] of Object.entries(configs())) {
    const { hcm, filters } = findExtAuthz(config);
    const names = filters.map((f) => f.name);
    assert.deepEqual(names, ['envoy.filters.http.header_mutation', 'envoy.filters.http.ext_authz', 'envoy.filters.http.router'], label);
    const strip = filters[0].typed_config.mutations.request_mutations.map((m) => m.remove);
    assert.deepEqual(strip.sort(), ['x-certgate-fingerprint', 'x-certgate-subject', 'x-certgate-user', 'x-certgate-user-id'], label);
    const ext = filters[1].typed_config;
    assert.equal(ext.transport_api_version, 'V3', label);
    assert.equal(ext.include_peer_certificate, true, label);
    assert.equal(ext.failure_mode_allow, false, label);
    assert.ok(ext.grpc_service.timeout, `${label}: a timeout`);
    const cluster = config.static_resources.clusters.find((c) => c.name === ext.grpc_service.envoy_grpc.cluster_name);
    assert.ok(cluster, `${label}: the certgate cluster exists`);
    assert.ok(cluster.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']
      .explicit_http_config.http2_protocol_options, `${label}: HTTP/2 to certgate`);
    assert.equal(hcm.forward_client_cert_details, 'SANITIZE_SET', label);
    assert.equal(hcm.set_current_client_cert_details.cert, true, label);
    const tls = config.static_resources.listeners[0].filter_chains[0].transport_socket.typed_config;
    assert.equal(tls.require_client_certificate, true, label);
  }
});
