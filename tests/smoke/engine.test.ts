// The smoke engine against real local servers: healthy, POST-only test-action, and each way a
// check can fail (TLS is in tls.test.ts). Every case asserts the verdict, the
// failing check and its class in the report, and that no pause ran past its deadline: the runs
// use a pause clock (helpers/clock.ts), so none of it depends on the machine's load.
import { createRequire } from "node:module";
import type * as Undici from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultChecks, formatReport, REDACTED, systemClock, type Check } from "../../smoke";
import { UNDICI_MODULES } from "../../smoke/transport";
import { check, expectVerdict, FAST, timedRun, UNTIL_DEADLINE } from "./helpers/expect";
import { closedPort, fakeLookup, healthyRoutes, json, startApp, startServer, type Handler, type RunningApp, type TestServer } from "./helpers/servers";

const servers: TestServer[] = [];
async function serve(overrides: Record<string, Handler> = {}): Promise<TestServer> {
    const s = await startServer({ ...healthyRoutes(), ...overrides });
    servers.push(s);
    return s;
}
afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
});

describe.concurrent("reference app", () => {
    let healthy: RunningApp;
    let brokenDb: RunningApp;
    let brokenAction: RunningApp;
    beforeAll(async () => {
        [healthy, brokenDb, brokenAction] = await Promise.all([startApp(), startApp(["--fail", "db"]), startApp([], { FAIL: "action" })]);
    });
    afterAll(async () => {
        await Promise.all([healthy, brokenDb, brokenAction].map((a) => a?.stop()));
    });

    it("healthy: every default check passes with the required consecutive passes", async () => {
        const run = await timedRun(healthy.url, defaultChecks, FAST);
        expectVerdict(run, {}, FAST.deadlineMs);
        for (const c of run.report.checks) {
            expect(c.consecutivePasses).toBe(FAST.consecutivePasses);
            expect(c.attempts).toBe(FAST.consecutivePasses);
            expect(c.failures).toBe(0);
            expect(c.latencyMs).toBeGreaterThanOrEqual(0);
        }
        expect(formatReport(run.report)).toMatch(/^smoke PASSED: 4 checks against http:\/\/127\.0\.0\.1:\d+\//);
    });

    it("/api/db-status answering connected:false fails db-status with class body", async () => {
        const run = await timedRun(brokenDb.url, defaultChecks, FAST);
        const text = expectVerdict(run, { "db-status": "body" }, FAST.deadlineMs);
        expect(check(run.report, "db-status").seen).toContain("JSON field connected is false, not true");
        expect(text).toContain("expected: status 2xx; content-type application/json; JSON connected === true");
    });

    it("/api/test-action answering success:false fails test-action with class body", async () => {
        const run = await timedRun(brokenAction.url, defaultChecks, FAST);
        expectVerdict(run, { "test-action": "body" }, FAST.deadlineMs);
        expect(check(run.report, "test-action").seen).toContain("JSON field success is false, not true");
    });

    it("POST-only test-action: the default check POSTs and passes; a GET is answered 405 (class status)", async () => {
        const get: Check = { name: "test-action-get", method: "GET", path: "/api/test-action" };
        const run = await timedRun(healthy.url, [...defaultChecks, get], FAST);
        expectVerdict(run, { "test-action-get": "status" }, FAST.deadlineMs);
        expect(check(run.report, "test-action-get").seen).toMatch(/^status 405; body: .*POST only/);
        expect(check(run.report, "test-action").method).toBe("POST");
    });
});

describe.concurrent("faults", () => {
    it('POST-only test-action sends {"test": true} as JSON', async () => {
        let seen: { method?: string; type?: string } = {};
        const s = await serve({
            "/api/test-action": (req, res) => {
                seen = { method: req.method!, type: req.headers["content-type"]! };
                json(res, req.method === "POST" ? 200 : 405, { success: req.method === "POST" });
            },
        });
        const run = await timedRun(s.url, defaultChecks, FAST);
        expectVerdict(run, {}, FAST.deadlineMs);
        expect(seen).toEqual({ method: "POST", type: "application/json" });
        expect(s.bodies.get("/api/test-action")!.map((b) => JSON.parse(b))).toEqual([{ test: true }, { test: true }]);
    });

    it("DNS failure (injected resolver) fails every check with class dns, retried until the deadline", async () => {
        const calls: string[] = [];
        const run = await timedRun("http://app.invalid:8080", defaultChecks, { ...UNTIL_DEADLINE, lookup: fakeLookup({}, calls) });
        const text = expectVerdict(run, { healthz: "dns", version: "dns", "db-status": "dns", "test-action": "dns" }, UNTIL_DEADLINE.deadlineMs);
        expect(check(run.report, "healthz").seen).toContain("DNS lookup of app.invalid failed");
        expect(check(run.report, "healthz").attempts).toBeGreaterThan(1);
        expect(calls.every((h) => h === "app.invalid")).toBe(true);
        expect(text).toContain("http://app.invalid:8080/healthz");
    });

    it("connection refused fails with class refused", async () => {
        const port = await closedPort();
        const run = await timedRun(`http://127.0.0.1:${port}`, defaultChecks, UNTIL_DEADLINE);
        expectVerdict(run, { healthz: "refused", version: "refused", "db-status": "refused", "test-action": "refused" }, UNTIL_DEADLINE.deadlineMs);
        expect(check(run.report, "version").seen).toContain(`connection to 127.0.0.1:${port} refused`);
    });

    it("a slow endpoint times out per request, several attempts fit in the deadline", async () => {
        const s = await serve({ "/api/version": (_q, res) => setTimeout(() => json(res, 200, { version: "1" }), 10_000) });
        // Only the slow check: a 250 ms budget would make the others flaky on a loaded box.
        const run = await timedRun(s.url, [defaultChecks[1]!], { ...UNTIL_DEADLINE, timeoutMs: 250 });
        expectVerdict(run, { version: "timeout" }, UNTIL_DEADLINE.deadlineMs);
        expect(check(run.report, "version").seen).toBe("no response within 250 ms");
        expect(check(run.report, "version").attempts).toBeGreaterThanOrEqual(2);
    });

    it("a slow but in-time endpoint passes", async () => {
        const s = await serve({ "/api/version": (_q, res) => setTimeout(() => json(res, 200, { version: "1" }), 100) });
        // The system clock: the latency is the point here, and only its lower bound is asserted.
        const run = await timedRun(s.url, defaultChecks, { ...FAST, clock: systemClock });
        expect(run.report.ok, formatReport(run.report)).toBe(true);
        expect(check(run.report, "version").latencyMs).toBeGreaterThanOrEqual(90);
    });

    it("an app healthy only after a while passes by polling until the deadline", async () => {
        // 503 for each path's first three requests: pauses of 100, 200 and 400 ms on the run's clock.
        const warming =
            (ok: Handler): Handler =>
            (q, res, n) =>
                n <= 3 ? json(res, 503, { starting: true }) : ok(q, res, n);
        const h = healthyRoutes();
        const s = await serve(Object.fromEntries(Object.entries(h).map(([p, fn]) => [p, warming(fn)])));
        const opts = { ...FAST, deadlineMs: 4000, intervalMs: 100 };
        const run = await timedRun(s.url, defaultChecks, opts);
        expectVerdict(run, {}, opts.deadlineMs);
        const hz = check(run.report, "healthz");
        expect(hz.failuresByClass.status).toBeGreaterThanOrEqual(1);
        expect(hz.consecutivePasses).toBe(2);
    });

    it("an app that becomes healthy only after the deadline fails with its last failure (status 503)", async () => {
        const s = await serve({ "/healthz": (_q, res) => json(res, 503, { starting: true }) });
        const run = await timedRun(s.url, defaultChecks, UNTIL_DEADLINE);
        expectVerdict(run, { healthz: "status" }, UNTIL_DEADLINE.deadlineMs);
        expect(check(run.report, "healthz").seen).toMatch(/^status 503/);
    });

    it("/healthz answering 500 fails healthz with class status", async () => {
        const s = await serve({ "/healthz": (_q, res) => json(res, 500, { error: "boom" }) });
        const run = await timedRun(s.url, defaultChecks, UNTIL_DEADLINE);
        const text = expectVerdict(run, { healthz: "status" }, UNTIL_DEADLINE.deadlineMs);
        expect(check(run.report, "healthz").seen).toBe('status 500; body: {"error":"boom"}');
        expect(check(run.report, "healthz").status).toBe(500);
        expect(text).toContain("expected: status 2xx");
    });

    it.each([
        ["invalid JSON", (_q, res) => json(res, 200, "{version: 1.2", "application/json"), /^invalid JSON/],
        ["wrong content type", (_q, res) => json(res, 200, { version: "1" }, "text/html"), /^content-type "text\/html", not application\/json/],
        ["missing field", (_q, res) => json(res, 200, { name: "app" }), /^JSON field version is missing$/],
        ["empty version", (_q, res) => json(res, 200, { version: "" }), /^JSON field version is empty \(""\)$/],
    ] as [string, Handler, RegExp][])("/api/version with %s fails version with class body", async (_label, handler, seen) => {
        const s = await serve({ "/api/version": handler });
        const run = await timedRun(s.url, defaultChecks, FAST);
        expectVerdict(run, { version: "body" }, FAST.deadlineMs);
        expect(check(run.report, "version").seen).toMatch(seen);
    });

    it("a redirect to another host is never followed (class redirect)", async () => {
        const other = await serve();
        const s = await serve({
            "/healthz": (_q, res) => {
                res.writeHead(302, { location: `http://localhost:${other.port}/healthz` });
                res.end();
            },
        });
        const run = await timedRun(s.url, defaultChecks, FAST);
        expectVerdict(run, { healthz: "redirect" }, FAST.deadlineMs);
        expect(check(run.report, "healthz").seen).toBe(
            `302 redirect to http://localhost:${other.port}/healthz: another host or a downgrade to http, never followed`,
        );
        expect(other.hits.size).toBe(0);
    });

    it("a same-host redirect is followed; a redirect loop fails after the limit", async () => {
        const s = await serve({
            "/healthz": (_q, res) => {
                res.writeHead(301, { location: "/healthz/" });
                res.end();
            },
            "/healthz/": (_q, res) => json(res, 200, { status: "ok" }),
            "/loop": (_q, res) => {
                res.writeHead(307, { location: "/loop" });
                res.end();
            },
        });
        const loop: Check = { name: "loop", path: "/loop" };
        const run = await timedRun(s.url, [...defaultChecks, loop], FAST);
        expectVerdict(run, { loop: "redirect" }, FAST.deadlineMs);
        expect(check(run.report, "loop").seen).toBe(`more than 3 same-host redirects (last to ${s.url}/loop)`);
        expect(s.hits.get("/healthz/")).toBe(2);
    });

    it("flapping (pass, fail, pass, ...) never reaches 2 consecutive passes and fails", async () => {
        const s = await serve({ "/healthz": (_q, res, n) => json(res, n % 2 === 1 ? 200 : 500, { n }) });
        const run = await timedRun(s.url, defaultChecks, UNTIL_DEADLINE);
        expectVerdict(run, { healthz: "status" }, UNTIL_DEADLINE.deadlineMs);
        const hz = check(run.report, "healthz");
        expect(hz.attempts).toBeGreaterThanOrEqual(3);
        expect(hz.failuresByClass.status).toBeGreaterThanOrEqual(1);
        expect(hz.seen).toMatch(/^status 500/);
    });

    it("the same flapping app passes when one pass is enough, so the requirement is what catches it", async () => {
        const s = await serve({ "/healthz": (_q, res, n) => json(res, n % 2 === 1 ? 200 : 500, { n }) });
        const run = await timedRun(s.url, defaultChecks, { ...FAST, consecutivePasses: 1 });
        expectVerdict(run, {}, FAST.deadlineMs);
    });

    it("a huge body is not read past the cap (class body)", async () => {
        const big = JSON.stringify({ version: "1", pad: "x".repeat(5 * 1024 * 1024) });
        const s = await serve({ "/api/version": (_q, res) => json(res, 200, big) });
        const run = await timedRun(s.url, defaultChecks, { ...FAST, maxBodyBytes: 64 * 1024 });
        expectVerdict(run, { version: "body" }, FAST.deadlineMs);
        expect(check(run.report, "version").seen).toBe("response body exceeds the 65536-byte cap; reading stopped there");
    });

    it("an endless body is cut at the cap and the connection dropped (class body)", async () => {
        let closed = 0;
        const s = await serve({
            "/healthz": (_q, res) => {
                res.writeHead(200, { "content-type": "text/plain" });
                const chunk = Buffer.alloc(16 * 1024, "y");
                const timer = setInterval(() => res.write(chunk), 1);
                res.on("close", () => {
                    clearInterval(timer);
                    closed += 1;
                });
            },
        });
        const run = await timedRun(s.url, defaultChecks, { ...FAST, maxBodyBytes: 256 * 1024 });
        expectVerdict(run, { healthz: "body" }, FAST.deadlineMs);
        const hz = check(run.report, "healthz");
        expect(hz.seen).toContain("exceeds the 262144-byte cap");
        await new Promise((r) => setTimeout(r, 50));
        expect(closed).toBe(hz.attempts);
    });

    it("a body that trickles forever ends with the per-request timeout (class timeout)", async () => {
        const s = await serve({
            "/healthz": (_q, res) => {
                res.writeHead(200, { "content-type": "text/plain" });
                const timer = setInterval(() => res.write("."), 20);
                res.on("close", () => clearInterval(timer));
            },
        });
        const run = await timedRun(s.url, [defaultChecks[0]!], { ...FAST, timeoutMs: 300 });
        expectVerdict(run, { healthz: "timeout" }, FAST.deadlineMs);
        expect(check(run.report, "healthz").seen).toBe("status 200 but the body did not finish within 300 ms");
    });

    it("a connection reset is a transport failure with class reset", async () => {
        const s = await serve({ "/api/db-status": (req) => req.socket.destroy() });
        const run = await timedRun(s.url, defaultChecks, UNTIL_DEADLINE);
        expectVerdict(run, { "db-status": "reset" }, UNTIL_DEADLINE.deadlineMs);
    });

    it("secret header values never appear in the report, even when the server echoes them", async () => {
        const token = "tok-3f9a7c1e5b";
        const s = await serve({ "/healthz": (req, res) => json(res, 500, { youSent: req.headers["authorization"], key: req.headers["x-api-key"] }) });
        const checks: Check[] = [...defaultChecks.slice(1), { name: "healthz", path: "/healthz", headers: { "X-Api-Key": "key-81be2c" } }];
        const run = await timedRun(s.url, checks, { ...UNTIL_DEADLINE, headers: { Authorization: `Bearer ${token}` } });
        const text = expectVerdict(run, { healthz: "status" }, UNTIL_DEADLINE.deadlineMs);
        const jsonText = JSON.stringify(run.report);
        for (const out of [text, jsonText]) {
            expect(out).not.toContain(token);
            expect(out).not.toContain("key-81be2c");
            expect(out).toContain(REDACTED);
        }
    });

    it("custom checks: expected status list, nested JSON fields and bodyContains", async () => {
        const s = await serve({
            "/api/items": (_q, res) => json(res, 201, { data: { items: [{ id: 7 }], ok: true } }),
            "/text": (_q, res) => json(res, 200, "all good", "text/plain"),
        });
        const checks: Check[] = [
            {
                name: "items",
                method: "PUT",
                path: "/api/items",
                body: { a: 1 },
                expect: {
                    status: [200, 201],
                    json: [{ path: "data.items.0.id", equals: 7 }, { path: "data.items", type: "array", nonEmpty: true }, { path: "data.ok" }],
                },
            },
            { name: "text", path: "/text?x=1", expect: { bodyContains: "all good" } },
            { name: "text-wrong", path: "/text", expect: { bodyContains: "bad" } },
        ];
        const run = await timedRun(s.url, checks, FAST);
        expectVerdict(run, { "text-wrong": "body" }, FAST.deadlineMs);
        expect(check(run.report, "text").url).toBe(`${s.url}/text?x=1`);
    });
});

describe.concurrent("failure limit", () => {
    const SLOW = { ...FAST, deadlineMs: 30_000, intervalMs: 50 };

    it("an assertion failing the same way 3 times in a row is final: the run fails without waiting for the deadline", async () => {
        const s = await serve({ "/api/db-status": (_q, res) => json(res, 200, { connected: false }) });
        const run = await timedRun(s.url, defaultChecks, SLOW);
        expectVerdict(run, { "db-status": "body" }, SLOW.deadlineMs);
        const db = check(run.report, "db-status");
        expect(db).toMatchObject({ final: true, attempts: 3, failures: 3, seen: "JSON field connected is false, not true" });
        expect(run.report.stoppedBy).toBe("db-status");
        expect(run.report.elapsedMs).toBeLessThan(SLOW.deadlineMs / 2);
        expect(formatReport(run.report)).toContain("(db-status failed for good before the deadline)");
        expect(formatReport(run.report)).toContain("(final: the same failure 3 times in a row)");
    });

    it("a 404 counts; a 500 never does (it keeps retrying until the deadline)", async () => {
        const s = await serve({ "/healthz": (_q, res) => json(res, 404, {}), "/api/version": (_q, res) => json(res, 500, {}) });
        const notFound = await timedRun(s.url, [defaultChecks[0]!], SLOW);
        expect(check(notFound.report, "healthz")).toMatchObject({ final: true, errorClass: "status", attempts: 3 });
        const opts = UNTIL_DEADLINE;
        const serverError = await timedRun(s.url, [defaultChecks[1]!], opts);
        expectVerdict(serverError, { version: "status" }, opts.deadlineMs);
        expect(check(serverError.report, "version").final).toBeUndefined();
        expect(check(serverError.report, "version").attempts).toBeGreaterThan(3);
        expect(serverError.report.stoppedBy).toBeUndefined();
    });

    it("different failures in a row are not 'the same way'; failureLimit 0 waits for the deadline", async () => {
        const s = await serve({ "/api/version": (_q, res, n) => json(res, 200, n % 2 === 0 ? { version: "" } : { name: "x" }) });
        const opts = UNTIL_DEADLINE;
        const alternating = await timedRun(s.url, [defaultChecks[1]!], opts);
        expect(check(alternating.report, "version").final).toBeUndefined();
        expect(check(alternating.report, "version").attempts).toBeGreaterThan(3);
        const db = await serve({ "/api/db-status": (_q, res) => json(res, 200, { connected: false }) });
        const off = await timedRun(db.url, [defaultChecks[2]!], { ...opts, failureLimit: 0 });
        expect(check(off.report, "db-status").final).toBeUndefined();
        expect(check(off.report, "db-status").attempts).toBeGreaterThan(3);
    });

    it("a check still waiting when another fails for good is reported as stopped, not as failed by the app", async () => {
        const s = await serve({
            "/api/db-status": (_q, res) => json(res, 200, { connected: false }),
            "/api/version": (_q, res) => setTimeout(() => json(res, 200, { version: "1" }), 20_000),
        });
        const run = await timedRun(s.url, defaultChecks, SLOW);
        expectVerdict(run, { "db-status": "body", version: "stopped" }, SLOW.deadlineMs);
        expect(check(run.report, "version").seen).toBe("not settled when db-status failed for good");
    });
});

describe.concurrent("transport classes", () => {
    it("a body cut off mid-stream is class reset", async () => {
        const s = await serve({
            "/api/version": (_q, res) => {
                res.writeHead(200, { "content-type": "application/json", "content-length": 100 });
                res.write('{"version":');
                setTimeout(() => res.socket?.destroy(), 20);
            },
        });
        const run = await timedRun(s.url, [defaultChecks[1]!], FAST);
        expectVerdict(run, { version: "reset" }, FAST.deadlineMs);
        expect(check(run.report, "version").seen).toMatch(
            /^connection to 127\.0\.0\.1:\d+ reset or closed early: Response body length does not match content-length header \[UND_ERR_RES_CONTENT_LENGTH_MISMATCH\]$/,
        );
    });

    it("a chunked body cut off mid-stream is class reset too", async () => {
        const s = await serve({
            "/api/version": (_q, res) => {
                res.writeHead(200, { "content-type": "application/json" });
                res.write('{"version":');
                setTimeout(() => res.socket?.destroy(), 20);
            },
        });
        const run = await timedRun(s.url, [defaultChecks[1]!], FAST);
        expectVerdict(run, { version: "reset" }, FAST.deadlineMs);
        expect(check(run.report, "version").seen).toMatch(
            /^connection to 127\.0\.0\.1:\d+ reset or closed early: Response does not match the HTTP\/1\.1 protocol \(Invalid EOF state\)$/,
        );
    });
});

describe("undici", () => {
    it("the engine's two modules of undici are the ones its entry point exports", () => {
        const load = createRequire(__filename);
        const undici = load("undici") as typeof Undici;
        expect(load(UNDICI_MODULES.Client)).toBe(undici.Client);
        // The entry point adds `request` to every dispatcher: the same function.
        expect(load(UNDICI_MODULES.request)).toBe(Object.getOwnPropertyDescriptor(undici.Dispatcher.prototype, "request")?.value);
    });
});

describe.concurrent("connections", () => {
    it("every attempt opens a connection of its own and asks the server to close it, though the server would keep it alive", async () => {
        const s = await serve();
        const run = await timedRun(s.url, [defaultChecks[0]!], { ...FAST, consecutivePasses: 5 });
        expectVerdict(run, {}, FAST.deadlineMs);
        expect(s.hits.get("/healthz")).toBe(5);
        expect(s.connections.accepted).toBe(5);
        expect(s.connections.headers).toEqual(Array(5).fill("close"));
    });

    it("a same-host redirect is followed on a fresh connection too", async () => {
        const s = await serve({ "/old": (_q, res) => res.writeHead(302, { location: "/healthz" }).end() });
        const run = await timedRun(s.url, [{ name: "moved", path: "/old" }], { ...FAST, consecutivePasses: 2 });
        expectVerdict(run, {}, FAST.deadlineMs);
        expect(s.hits.get("/old")).toBe(2);
        expect(s.hits.get("/healthz")).toBe(2);
        expect(s.connections.accepted).toBe(4);
    });
});
