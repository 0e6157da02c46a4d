#!/usr/bin/python3
"""Checks the files in deploy/ that cannot be run here (no Envoy, Docker or Kubernetes): they
parse, and the settings certgate's security depends on are there. Envoy's configs are also
validated field by field against Envoy's official API by tests/interop/node/envoy_config.test.js;
the certgate configs they embed by tests/unit/server/config/deploy_configs_test.cc.
"""
import configparser
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

SOURCE = pathlib.Path(os.environ.get("CERTGATE_SOURCE_DIR", pathlib.Path(__file__).parents[3]))
DEPLOY = SOURCE / "deploy"
IDENTITY_HEADERS = ["x-certgate-user", "x-certgate-user-id", "x-certgate-fingerprint", "x-certgate-subject"]


def k8s_docs(name):
    return [d for d in yaml.safe_load_all((DEPLOY / "kubernetes" / name).read_text()) if d is not None]


def envoy_configs():
    configmap = next(d for d in k8s_docs("envoy-gateway.yaml") if d["kind"] == "ConfigMap")
    return {
        "deploy/envoy/envoy.yaml": yaml.safe_load((DEPLOY / "envoy" / "envoy.yaml").read_text()),
        "envoy-gateway.yaml": yaml.safe_load(configmap["data"]["envoy.yaml"]),
    }


class EnvoyConfig(unittest.TestCase):
    def test_ext_authz_is_configured_as_certgate_needs(self):
        for label, cfg in envoy_configs().items():
            with self.subTest(label):
                (listener,) = cfg["static_resources"]["listeners"]
                (chain,) = listener["filter_chains"]
                tls = chain["transport_socket"]["typed_config"]
                self.assertTrue(tls["@type"].endswith(".tls.v3.DownstreamTlsContext"))
                self.assertIs(tls["require_client_certificate"], True)
                self.assertIn("trusted_ca", tls["common_tls_context"]["validation_context"])

                hcm = next(f for f in chain["filters"]
                           if f["name"] == "envoy.filters.network.http_connection_manager")["typed_config"]
                self.assertEqual(hcm["forward_client_cert_details"], "SANITIZE_SET")
                self.assertIs(hcm["set_current_client_cert_details"]["cert"], True)

                filters = [f["name"] for f in hcm["http_filters"]]
                self.assertEqual(filters[-1], "envoy.filters.http.router")
                self.assertLess(filters.index("envoy.filters.http.header_mutation"),
                                filters.index("envoy.filters.http.ext_authz"),
                                "client-supplied identity headers are stripped before ext_authz")
                mutation = hcm["http_filters"][filters.index("envoy.filters.http.header_mutation")]
                removed = [m["remove"] for m in mutation["typed_config"]["mutations"]["request_mutations"]]
                self.assertEqual(sorted(removed), sorted(IDENTITY_HEADERS))

                ext = hcm["http_filters"][filters.index("envoy.filters.http.ext_authz")]["typed_config"]
                self.assertTrue(ext["@type"].endswith("ext_authz.v3.ExtAuthz"))
                self.assertEqual(ext["transport_api_version"], "V3")
                self.assertIs(ext["include_peer_certificate"], True)
                self.assertIs(ext["failure_mode_allow"], False)
                self.assertRegex(ext["grpc_service"]["timeout"], r"^\d+(\.\d+)?s$")
                cluster_name = ext["grpc_service"]["envoy_grpc"]["cluster_name"]

                clusters = {c["name"]: c for c in cfg["static_resources"]["clusters"]}
                certgate = clusters[cluster_name]
                opts = certgate["typed_extension_protocol_options"][
                    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
                self.assertIn("http2_protocol_options", opts["explicit_http_config"], "gRPC needs HTTP/2")
                (hc,) = certgate["health_checks"]
                self.assertEqual(hc["grpc_health_check"]["service_name"], "envoy.service.auth.v3.Authorization")

                routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
                upstream = routes[0]["route"]["cluster"]
                self.assertIn(upstream, clusters)
                self.assertNotEqual(upstream, cluster_name)


class Kubernetes(unittest.TestCase):
    def test_manifests_parse_with_the_expected_objects(self):
        kinds = {name: sorted(d["kind"] for d in k8s_docs(name))
                 for name in ("certgate.yaml", "envoy-gateway.yaml")}
        self.assertEqual(kinds["certgate.yaml"], sorted(
            ["Namespace", "ConfigMap", "PersistentVolumeClaim", "Deployment", "Service", "NetworkPolicy"]))
        self.assertEqual(kinds["envoy-gateway.yaml"], sorted(["ConfigMap", "Deployment", "Service"]))
        for name in ("certgate.yaml", "envoy-gateway.yaml"):
            for doc in k8s_docs(name):
                self.assertIn("apiVersion", doc)
                self.assertIn("name", doc["metadata"])

    def test_certgate_runs_once_unprivileged_with_grpc_health_probes(self):
        deployment = next(d for d in k8s_docs("certgate.yaml") if d["kind"] == "Deployment")
        spec = deployment["spec"]
        self.assertEqual(spec["replicas"], 1, "SQLite: one writer")
        self.assertEqual(spec["strategy"]["type"], "Recreate")
        pod = spec["template"]["spec"]
        self.assertIs(pod["securityContext"]["runAsNonRoot"], True)
        (container,) = pod["containers"]
        self.assertIs(container["securityContext"]["readOnlyRootFilesystem"], True)
        self.assertIs(container["securityContext"]["allowPrivilegeEscalation"], False)
        self.assertEqual(container["readinessProbe"]["grpc"]["service"], "envoy.service.auth.v3.Authorization")
        self.assertIn("grpc", container["livenessProbe"])
        config = next(d for d in k8s_docs("certgate.yaml") if d["kind"] == "ConfigMap")
        certgate_cfg = yaml.safe_load(config["data"]["certgate.yaml"])
        port = int(certgate_cfg["listen"].rsplit(":", 1)[1])
        self.assertEqual(container["ports"][0]["containerPort"], port)
        self.assertEqual(container["readinessProbe"]["grpc"]["port"], port)

    def test_only_envoy_may_reach_certgate(self):
        policy = next(d for d in k8s_docs("certgate.yaml") if d["kind"] == "NetworkPolicy")
        envoy = next(d for d in k8s_docs("envoy-gateway.yaml") if d["kind"] == "Deployment")
        allowed = policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
        self.assertEqual(allowed, envoy["spec"]["template"]["metadata"]["labels"])


class Systemd(unittest.TestCase):
    UNIT = DEPLOY / "systemd" / "certgate.service"

    def test_unit_is_hardened(self):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str
        parser.read_string(self.UNIT.read_text())
        service = parser["Service"]
        expected = {
            "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
            "PrivateTmp": "yes", "PrivateDevices": "yes", "DynamicUser": "yes",
            "StateDirectory": "certgate", "RestrictSUIDSGID": "yes", "CapabilityBoundingSet": "",
            "KillSignal": "SIGTERM",
        }
        for key, value in expected.items():
            self.assertEqual(service.get(key), value, key)
        self.assertIn("/etc/certgate/certgate.yaml", service["ExecStart"])

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze not installed")
    def test_systemd_accepts_every_directive(self):
        server_bin = os.environ.get("CERTGATE_SERVER_BIN")
        if not server_bin:
            self.skipTest("CERTGATE_SERVER_BIN not set")
        with tempfile.TemporaryDirectory() as tmp:
            unit = pathlib.Path(tmp, "certgate.service")
            unit.write_text(self.UNIT.read_text().replace("/usr/local/bin/certgate-server", server_bin))
            r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                               capture_output=True, text=True, timeout=60)
            complaints = [line for line in (r.stdout + r.stderr).splitlines() if str(unit) in line]
            self.assertEqual(complaints, [])


class Container(unittest.TestCase):
    FILE = DEPLOY / "container" / "Containerfile"

    def stages(self):
        return re.findall(r"^FROM\s+(\S+)", self.FILE.read_text(), re.M)

    def test_two_debian_12_stages(self):
        self.assertEqual([s.split(" ")[0] for s in self.stages()],
                         ["docker.io/library/debian:12", "docker.io/library/debian:12-slim"])

    def packages(self):
        text = self.FILE.read_text().replace("\\\n", " ")
        out = []
        for cmd in re.findall(r"apt-get install ([^&]+)", text):
            out += [w for w in cmd.split() if not w.startswith("-")]
        return out

    def test_every_package_exists_in_debian_12(self):
        pkgs = self.packages()
        self.assertIn("libgrpc++-dev", pkgs)
        self.assertIn("libgrpc++1.51", pkgs)
        if not shutil.which("dpkg-query"):
            self.skipTest("not a Debian system")
        have_lists = shutil.which("apt-cache") and subprocess.run(
            ["apt-cache", "pkgnames", "libc6"], capture_output=True, text=True).stdout.strip()
        for pkg in pkgs:
            if subprocess.run(["dpkg-query", "-W", pkg], capture_output=True).returncode == 0:
                continue
            if not have_lists:
                self.skipTest(f"{pkg} is not installed and apt has no package lists to look it up")
            self.assertEqual(subprocess.run(["apt-cache", "show", pkg], capture_output=True).returncode, 0,
                             f"{pkg}: not a Debian 12 package")

    def test_the_copied_sources_are_enough_to_configure_the_build(self):
        text = self.FILE.read_text()
        build_stage = text.split("\nFROM ")[1]
        copies = re.findall(r"^COPY (?!--from)(\S+) ", build_stage, re.M)
        with tempfile.TemporaryDirectory() as tmp:
            for src in copies:
                path = SOURCE / src
                if path.is_dir():
                    shutil.copytree(path, pathlib.Path(tmp, src))
                else:
                    shutil.copy(path, pathlib.Path(tmp, src))
            r = subprocess.run(["cmake", "-S", tmp, "-B", f"{tmp}/build", "-DCERTGATE_BUILD_TESTS=OFF",
                                "-DCERTGATE_BUILD_BENCH=OFF"], capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        final_copies = re.findall(r"^COPY (?!--from)(\S+) ", text.split("\nFROM ")[2], re.M)
        for src in final_copies:
            self.assertTrue((SOURCE / src).exists(), src)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)
