// Proves that certgate's subset of Envoy's API (proto/envoy/..., proto/google/rpc/status.proto)
// is wire-compatible with Envoy's OFFICIAL .proto files (deps of @grpc/grpc-js-xds): every
// message, enum, service and method certgate declares exists in the official files under the
// same full name, and every field has the same number, type (scalar, or the same full message or
// enum name), cardinality (repeated/map with the same key type) and oneof. certgate may omit
// fields and enum values, never change or add one.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');

const protobuf = require('protobufjs');

const { envoyApiIncludeDirs } = require('./support');

// Loads `files` resolving imports against `includeDirs` (google/protobuf/* from protobufjs'
// bundled well-known types when no include dir has them).
function load(files, includeDirs) {
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    for (const dir of includeDirs) {
      const candidate = path.join(dir, target);
      if (fs.existsSync(candidate)) return candidate;
    }
    return target;
  };
  root.loadSync(files, { keepCase: true });
  root.resolveAll();
  return root;
}

function certgateSubsetFiles(protoDir) {
  const out = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.proto')) out.push(path.relative(protoDir, full));
    }
  };
  walk(path.join(protoDir, 'envoy'));
  out.push('google/rpc/status.proto');
  return out.sort();
}

function typeName(field) {
  return field.resolvedType ? field.resolvedType.fullName : field.type;
}

// Compares one reflection object of certgate's subset with its official counterpart; returns
// how many fields/values/methods were compared.
function compare(mine, official, problems) {
  let compared = 0;
  const where = mine.fullName;
  if (!official) {
    problems.push(`${where}: not in Envoy's official protos`);
    return 0;
  }
  if (mine instanceof protobuf.Type) {
    if (!(official instanceof protobuf.Type)) problems.push(`${where}: official is not a message`);
    for (const field of mine.fieldsArray) {
      const theirs = official.fields[field.name];
      compared += 1;
      if (!theirs) {
        problems.push(`${where}.${field.name}: no such official field`);
        continue;
      }
      const facts = (f) => JSON.stringify({
        id: f.id, type: typeName(f), repeated: f.repeated, map: f.map, keyType: f.keyType ?? null,
        oneof: f.partOf ? f.partOf.name : null,
      });
      if (facts(field) !== facts(theirs)) problems.push(`${where}.${field.name}: ${facts(field)} != official ${facts(theirs)}`);
      const byId = official.fieldsById[field.id];
      if (byId && byId.name !== field.name) problems.push(`${where}: number ${field.id} is ${byId.name} officially`);
    }
  } else if (mine instanceof protobuf.Enum) {
    for (const [name, value] of Object.entries(mine.values)) {
      compared += 1;
      if (official.values?.[name] !== value) problems.push(`${where}.${name} = ${value}: official ${official.values?.[name]}`);
    }
  } else if (mine instanceof protobuf.Service) {
    for (const method of mine.methodsArray) {
      compared += 1;
      const theirs = official.methods[method.name];
      if (!theirs) {
        problems.push(`${where}.${method.name}: no such official method`);
        continue;
      }
      const facts = (m) => JSON.stringify([m.resolvedRequestType.fullName, m.resolvedResponseType.fullName,
        !!m.requestStream, !!m.responseStream]);
      if (facts(method) !== facts(theirs)) problems.push(`${where}.${method.name}: ${facts(method)} != ${facts(theirs)}`);
    }
  }
  for (const nested of mine.nestedArray ?? []) {
    compared += compare(nested, official?.nested?.[nested.name] ? official.lookup(nested.name) : null, problems);
  }
  return compared;
}

// Every message/enum/service under `ns`, recursively (namespaces only, not nested types).
function* declarations(ns) {
  for (const nested of ns.nestedArray ?? []) {
    if (nested instanceof protobuf.Type || nested instanceof protobuf.Enum || nested instanceof protobuf.Service) {
      yield nested;
    } else {
      yield* declarations(nested);
    }
  }
}

test("certgate's Envoy subset matches Envoy's official protos field by field", () => {
  const protoDir = process.env.CERTGATE_PROTO_DIR;
  assert.ok(protoDir, 'CERTGATE_PROTO_DIR is not set (run through ctest)');
  const files = certgateSubsetFiles(protoDir);
  assert.ok(files.includes('envoy/service/auth/v3/external_auth.proto'), files.join(' '));
  const mine = load(files, [protoDir]);
  const official = load(files, envoyApiIncludeDirs());

  const problems = [];
  let compared = 0;
  let declared = 0;
  for (const root of [mine.lookup('envoy'), mine.lookup('google.rpc')]) {
    for (const decl of declarations(root)) {
      declared += 1;
      compared += compare(decl, official.lookup(decl.fullName.slice(1)), problems);
    }
  }
  assert.deepEqual(problems, []);
  // The parts Envoy and certgate rely on are really there (guards against an empty comparison).
  assert.ok(declared >= 10, `only ${declared} declarations compared`);
  assert.ok(compared >= 50, `only ${compared} fields/values/methods compared`);
  const check = mine.lookup('envoy.service.auth.v3.Authorization').methods.Check;
  assert.equal(check.resolvedRequestType.fullName, '.envoy.service.auth.v3.CheckRequest');
  assert.equal(check.resolvedResponseType.fullName, '.envoy.service.auth.v3.CheckResponse');
});

test('a CheckResponse encoded with certgate\'s subset decodes identically with the official protos', () => {
  const protoDir = process.env.CERTGATE_PROTO_DIR;
  const files = ['envoy/service/auth/v3/external_auth.proto'];
  const mine = load(files, [protoDir]).lookup('envoy.service.auth.v3.CheckResponse');
  const official = load(files, envoyApiIncludeDirs()).lookup('envoy.service.auth.v3.CheckResponse');
  const message = {
    status: { code: 7, message: 'CERTIFICATE_REVOKED' },
    denied_response: {
      status: { code: 403 },
      headers: [{ header: { key: 'content-type', value: 'application/json' }, append: { value: false }, append_action: 2 }],
      body: '{"reason":"CERTIFICATE_REVOKED"}',
    },
    dynamic_metadata: { fields: { reason: { stringValue: 'CERTIFICATE_REVOKED' } } },
  };
  const bytes = mine.encode(mine.fromObject(message)).finish();
  const decoded = official.toObject(official.decode(bytes), { enums: String, defaults: false });
  assert.equal(decoded.status.code, 7);
  assert.equal(decoded.denied_response.status.code, 'Forbidden');
  assert.equal(decoded.denied_response.headers[0].append_action, 'OVERWRITE_IF_EXISTS_OR_ADD');
  assert.deepEqual(decoded.denied_response.headers[0].append, { value: false });
  assert.equal(decoded.dynamic_metadata.fields.reason.stringValue, 'CERTIFICATE_REVOKED');
  assert.deepEqual(official.decode(bytes).$unknowns, undefined, 'no field the official type does not know');
});
