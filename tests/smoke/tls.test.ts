// TLS is always verified. Certificates are made here with openssl, per run.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultChecks } from "../../smoke";
import { check, expectVerdict, FAST, timedRun, UNTIL_DEADLINE } from "./helpers/expect";
import { fakeLookup, healthyRoutes, makePki, startServer, type Pki, type TestServer } from "./helpers/servers";

const ALL_TLS = { healthz: "tls", version: "tls", "db-status": "tls", "test-action": "tls" } as const;

describe.concurrent("TLS", () => {
    let pki: Pki;
    let valid: TestServer, wrongHost: TestServer, expired: TestServer, selfSigned: TestServer;
    beforeAll(async () => {
        pki = makePki();
        [valid, wrongHost, expired, selfSigned] = await Promise.all([
            startServer(healthyRoutes(), pki.valid),
            startServer(healthyRoutes(), pki.wrongHost),
            startServer(healthyRoutes(), pki.expired),
            startServer(healthyRoutes(), pki.selfSigned),
        ]);
    });
    afterAll(async () => {
        await Promise.all([valid, wrongHost, expired, selfSigned].map((s) => s?.close()));
        pki?.cleanup();
    });

    it("a certificate from the custom CA verifies and every check passes", async () => {
        const run = await timedRun(valid.url, defaultChecks, { ...FAST, caPem: pki.caPem });
        expectVerdict(run, {}, FAST.deadlineMs);
        expect(run.report.settings.customCa).toBe(true);
    });

    it("the host name is verified against the certificate for a resolved name too (SNI via an injected resolver)", async () => {
        const lookup = fakeLookup({ "app.test": "127.0.0.1" });
        const run = await timedRun(`https://app.test:${valid.port}`, defaultChecks, { ...FAST, caPem: pki.caPem, lookup });
        expectVerdict(run, {}, FAST.deadlineMs);
    });

    it("the same certificate without the CA fails with class tls (no silent rejectUnauthorized:false)", async () => {
        const run = await timedRun(valid.url, defaultChecks, UNTIL_DEADLINE);
        expectVerdict(run, ALL_TLS, UNTIL_DEADLINE.deadlineMs);
        expect(check(run.report, "healthz").seen).toMatch(/TLS verification of 127\.0\.0\.1:\d+ failed: .*UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
    });

    it("a self-signed certificate fails with class tls", async () => {
        const run = await timedRun(selfSigned.url, defaultChecks, { ...UNTIL_DEADLINE, caPem: pki.caPem });
        expectVerdict(run, ALL_TLS, UNTIL_DEADLINE.deadlineMs);
        const seen = check(run.report, "version").seen;
        expect(seen).toContain("DEPTH_ZERO_SELF_SIGNED_CERT");
        // The fix is ours to name; Node's hint about its own --use-system-ca flag is not.
        expect(seen).toMatch(/; fix: trust the CA that signed it \(progression smoke --ca FILE, or the SmokeTest's caPem\)$/);
        expect(seen).not.toContain("use-system-ca");
    });

    it("an expired certificate fails with class tls", async () => {
        const run = await timedRun(expired.url, defaultChecks, { ...UNTIL_DEADLINE, caPem: pki.caPem });
        expectVerdict(run, ALL_TLS, UNTIL_DEADLINE.deadlineMs);
        expect(check(run.report, "db-status").seen).toContain("CERT_HAS_EXPIRED");
    });

    it("a certificate for another host name fails with class tls", async () => {
        const run = await timedRun(wrongHost.url, defaultChecks, { ...UNTIL_DEADLINE, caPem: pki.caPem });
        expectVerdict(run, ALL_TLS, UNTIL_DEADLINE.deadlineMs);
        expect(check(run.report, "test-action").seen).toContain("ERR_TLS_CERT_ALTNAME_INVALID");
    });

    it("plain HTTP on an https URL fails with class tls", async () => {
        const plain = await startServer(healthyRoutes());
        try {
            const run = await timedRun(plain.url.replace("http:", "https:"), defaultChecks, UNTIL_DEADLINE);
            expectVerdict(run, ALL_TLS, UNTIL_DEADLINE.deadlineMs);
        } finally {
            await plain.close();
        }
    });
});
