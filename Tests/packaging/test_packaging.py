#!/usr/bin/env python3
"""Lints what ships for running as4gw: docker/Dockerfile (hadolint, plus the structure this
project requires), docker/compose.yaml (parsed with PyYAML; services, ports, volumes,
healthchecks, depends_on, and each gateway configuration checked by `as4gw serve
--check-config`), and dist/as4gw.service (systemd-analyze verify). No container engine runs.

Usage: AS4GW_BINARY=path/to/as4gw python3 Tests/packaging/test_packaging.py"""
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import unittest
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
GATEWAYS = ("hub", "node-1", "node-2")


def binary() -> str:
    path = os.environ.get("AS4GW_BINARY", str(ROOT / ".build" / "debug" / "as4gw"))
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest(f"no as4gw binary at {path} (set AS4GW_BINARY)")
    return path


def stages(dockerfile: str) -> list[list[str]]:
    """Instructions per build stage, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", dockerfile)
    result: list[list[str]] = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            result.append([])
        if result:
            result[-1].append(line)
    return result


def apt_packages(instructions: list[str]) -> set[str]:
    packages: set[str] = set()
    for line in instructions:
        for match in re.finditer(r"apt-get install\s+(.*?)(?:&&|$)", line):
            packages |= {w for w in match.group(1).split() if not w.startswith("-")}
    return packages


class DockerfileTests(unittest.TestCase):
    text = (DOCKER / "Dockerfile").read_text()

    def test_hadolint_finds_nothing(self):
        hadolint = shutil.which("hadolint") or os.path.join(sysconfig.get_path("scripts"), "hadolint")
        self.assertTrue(os.access(hadolint, os.X_OK), "hadolint is missing: run scripts/deps")
        r = subprocess.run([hadolint, "--no-color", "--config", str(DOCKER / ".hadolint.yaml"), str(DOCKER / "Dockerfile")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_two_stages_swift_toolchain_then_slim_debian(self):
        s = stages(self.text)
        self.assertEqual(len(s), 2)
        self.assertRegex(self.text, r"ARG SWIFT_IMAGE=swift:6\.\d+-bookworm")
        self.assertRegex(s[0][0], r"^FROM \$\{SWIFT_IMAGE\} AS build$")
        self.assertEqual(s[1][0], "FROM debian:bookworm-slim")

    def test_build_stage_installs_every_dev_package_of_the_package_manifest(self):
        manifest = (ROOT / "Package.swift").read_text()
        wanted = set(re.findall(r'\.apt\(\["([^"]+)"\]\)', manifest))
        self.assertTrue(wanted, "Package.swift names its Debian packages")
        self.assertLessEqual(wanted, apt_packages(stages(self.text)[0]))

    def test_final_stage_has_runtime_libraries_only_and_no_toolchain(self):
        final = stages(self.text)[1]
        packages = apt_packages(final)
        self.assertTrue(packages)
        self.assertEqual([p for p in packages if p.endswith("-dev") or p in ("swift", "pkg-config", "gcc", "clang")], [])
        for library in ("libxml2", "libssl3", "libcurl4", "zlib1g", "libmicrohttpd12", "libgnutls30", "libsqlite3-0", "libpq5"):
            self.assertIn(library, packages)
        self.assertTrue(any(line.startswith("COPY --from=build ") for line in final), "the binary comes from the build stage")

    def test_runs_as_non_root_with_healthcheck_and_ports(self):
        final = stages(self.text)[1]
        users = [line.split()[1] for line in final if line.startswith("USER ")]
        self.assertEqual(len(users), 1)
        self.assertNotIn(users[0].split(":")[0], ("root", "0"))
        health = [line for line in final if line.startswith("HEALTHCHECK ")]
        self.assertEqual(len(health), 1)
        self.assertIn("/healthz", health[0])
        self.assertIn("9090", health[0])
        exposed = {p for line in final if line.startswith("EXPOSE ") for p in line.split()[1:]}
        self.assertEqual(exposed, {"8443", "8080", "9090"})
        self.assertIn('CMD ["serve", "--config", "/etc/as4gw/gateway.json"]', final)

    def test_image_default_configuration_is_valid_and_matches_the_exposed_ports(self):
        config = DOCKER / "gateway.json"
        with tempfile.TemporaryDirectory() as data:
            r = subprocess.run([binary(), "serve", "--check-config", "--config", str(config), "--pmode", str(ROOT / "pmode"),
                                "--data", data], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        text = config.read_text()
        for port in ("8443", "8080", "9090"):
            self.assertIn(f'"port": {port}', text)


class ComposeTests(unittest.TestCase):
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())

    def test_services_and_volumes(self):
        services = self.compose["services"]
        self.assertLessEqual({"postgres", "hub", "node-1", "node-2"}, set(services))
        declared = set(self.compose.get("volumes") or {})
        for name, service in services.items():
            for volume in service.get("volumes", []):
                source = volume.split(":")[0]
                if source.startswith("."):
                    self.assertTrue((DOCKER / source).exists(), f"{name}: {source} does not exist")
                else:
                    self.assertIn(source, declared, f"{name}: volume {source} is not declared")

    def test_every_service_has_a_healthcheck_or_is_a_one_shot(self):
        for name, service in self.compose["services"].items():
            if service.get("restart") == "no":
                continue
            check = service.get("healthcheck")
            self.assertIsNotNone(check, f"{name} has no healthcheck")
            self.assertEqual(check["test"][0], "CMD", name)
        for name in GATEWAYS:
            self.assertIn("http://127.0.0.1:9090/readyz", self.compose["services"][name]["healthcheck"]["test"])

    def test_dependencies_wait_for_health(self):
        services = self.compose["services"]
        for name, service in services.items():
            for dependency, condition in (service.get("depends_on") or {}).items():
                self.assertIn(dependency, services, f"{name} depends on unknown {dependency}")
                self.assertIn(condition["condition"], ("service_healthy", "service_completed_successfully"), name)
        for node in ("node-1", "node-2"):
            self.assertEqual(services[node]["depends_on"]["postgres"]["condition"], "service_healthy")

    def test_published_ports_stay_on_loopback_and_do_not_collide(self):
        seen = set()
        for name, service in self.compose["services"].items():
            for mapping in service.get("ports", []):
                host, published, target = mapping.split(":")
                self.assertEqual(host, "127.0.0.1", f"{name} publishes {mapping} beyond loopback")
                self.assertNotIn(published, seen, f"{name}: host port {published} used twice")
                seen.add(published)

    def test_gateway_configurations_are_valid(self):
        services = self.compose["services"]
        for name in GATEWAYS:
            command = services[name]["command"]
            self.assertEqual(command[:2], ["serve", "--config"], name)
            mounted = {v.split(":")[1]: v.split(":")[0] for v in services[name]["volumes"] if v.startswith(".")}
            source = DOCKER / mounted[command[2]]
            config = yaml.safe_load(source.read_text())  # JSON is YAML
            self.assertEqual(config["adminListener"], {"address": "0.0.0.0", "port": 9090}, name)
            # The pmode volume holds docker/compose/pmode (copied by pmode-init).
            with tempfile.TemporaryDirectory() as data:
                r = subprocess.run([binary(), "serve", "--check-config", "--config", str(source),
                                    "--pmode", str(DOCKER / "compose" / "pmode"), "--data", data], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, f"{name}: {r.stderr}")
        ministry = yaml.safe_load((DOCKER / "compose" / "ministry.json").read_text())
        self.assertTrue(ministry["store"].startswith("postgres://"))
        self.assertIn("@postgres:5432/", ministry["store"])

    def test_ministry_nodes_share_one_payload_volume(self):
        # Both nodes may send what the other accepted: one named volume at payloadDirectory.
        ministry = yaml.safe_load((DOCKER / "compose" / "ministry.json").read_text())
        payloads = ministry.get("payloadDirectory")
        self.assertTrue(payloads, "without payloadDirectory each node writes to its own data volume")
        self.assertFalse(payloads.startswith(ministry["dataDirectory"] + "/"), "the data volume is per node")
        sources = set()
        for node in ("node-1", "node-2"):
            mounts = {v.split(":")[1]: v.split(":")[0] for v in self.compose["services"][node]["volumes"]}
            self.assertIn(payloads, mounts, f"{node} mounts nothing at {payloads}")
            sources.add(mounts[payloads])
        self.assertEqual(len(sources), 1, sources)
        self.assertIn(sources.pop(), set(self.compose["volumes"]))
        # The image creates the mount point owned by the gateway's user, so the volume is writable.
        self.assertIn(payloads, (DOCKER / "Dockerfile").read_text())

    def test_check_config_refuses_a_broken_configuration(self):
        # The check above must be able to fail: a store URL it cannot use is refused.
        with tempfile.TemporaryDirectory() as tmp:
            bad = Path(tmp) / "bad.json"
            bad.write_text('{"party": "hub", "store": "postgres://postgres:5432"}')
            r = subprocess.run([binary(), "serve", "--check-config", "--config", str(bad),
                                "--pmode", str(DOCKER / "compose" / "pmode"), "--data", tmp], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("names no database", r.stderr)


class SystemdUnitTests(unittest.TestCase):
    unit = (ROOT / "dist" / "as4gw.service").read_text()

    def verify(self, text: str) -> subprocess.CompletedProcess:
        analyze = shutil.which("systemd-analyze")
        self.assertIsNotNone(analyze, "systemd-analyze is missing: run scripts/deps")
        with tempfile.TemporaryDirectory() as tmp:
            # verify checks that the executables exist: point them at the built binary.
            path = Path(tmp) / "as4gw.service"
            path.write_text(text.replace("/usr/local/bin/as4gw", binary()))
            return subprocess.run([analyze, "verify", "--man=no", str(path)], capture_output=True, text=True)

    def test_systemd_analyze_verify_is_silent(self):
        r = self.verify(self.unit)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr.strip(), "", "systemd-analyze warns (it exits 0 on unknown keys)")

    def test_security_exposure_stays_low(self):
        # systemd's own hardening score (0 best, 10 worst); this unit scores 1.4 today.
        analyze = shutil.which("systemd-analyze")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "as4gw.service"
            path.write_text(self.unit.replace("/usr/local/bin/as4gw", binary()))
            r = subprocess.run([analyze, "security", "--offline=yes", "--threshold=20", str(path)], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr)

    def test_verify_reports_a_misspelt_directive(self):
        r = self.verify(self.unit.replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"))
        self.assertIn("Unknown key", r.stderr)

    def test_hardening_and_lifecycle(self):
        service = self.unit.split("[Service]")[1].split("[Install]")[0]
        settings = {}
        for line in service.splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                settings.setdefault(key, value)
        self.assertEqual(settings["ProtectSystem"], "strict")
        self.assertEqual(settings["NoNewPrivileges"], "yes")
        self.assertEqual(settings["User"], "as4gw")
        self.assertEqual(settings["ReadWritePaths"], "/var/lib/as4gw")
        self.assertEqual(settings["Restart"], "on-failure")
        self.assertEqual(settings["ExecReload"], "/bin/kill -HUP $MAINPID")
        self.assertIn("serve --config /etc/as4gw/gateway.json", settings["ExecStart"])
        self.assertIn("serve --check-config", settings["ExecStartPre"])


if __name__ == "__main__":
    unittest.main(verbosity=1)
