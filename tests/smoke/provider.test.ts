// The SmokeTest dynamic provider's create/update/diff logic, called directly against real
// local servers. The serialized form is tested in provider-serialized.test.ts.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultChecks } from "../../smoke";
import { SmokeFailedError, smokeCreate, smokeDiff, smokeUpdate, type SmokeRunInputs, type SmokeRunOutputs } from "../../smoke/provider";
import { providerInputs as inputs, TOKEN } from "./helpers/provider";
import { healthyRoutes, json, startServer, type TestServer } from "./helpers/servers";

let healthy: TestServer;
let broken: TestServer;
beforeAll(async () => {
    healthy = await startServer(healthyRoutes());
    broken = await startServer({
        ...healthyRoutes(),
        "/api/db-status": (req, res) => json(res, 200, { connected: false, auth: req.headers["authorization"] }),
    });
});
afterAll(async () => {
    await Promise.all([healthy.close(), broken.close()]);
});

describe.concurrent("provider logic", () => {
    it("create runs the checks and records results, latency, passedAt and the verified trigger, never the headers", async () => {
        const before = Date.now();
        const { id, outs } = await smokeCreate(inputs(healthy.url));
        expect(id).toMatch(/^smoke-[0-9a-f]{16}$/);
        expect(outs.trigger).toBe("trigger-1");
        expect(Date.parse(outs.passedAt)).toBeGreaterThanOrEqual(before - 5);
        expect(outs.results.map((r) => [r.name, r.method, r.passed, r.status, r.attempts])).toEqual([
            ["healthz", "GET", true, 200, 2],
            ["version", "GET", true, 200, 2],
            ["db-status", "GET", true, 200, 2],
            ["test-action", "POST", true, 200, 2],
        ]);
        for (const r of outs.results) expect(r.latencyMs).toBeGreaterThanOrEqual(0);
        expect(outs.results[0]!.url).toBe(`${healthy.url}/healthz`);
        expect(JSON.stringify(outs)).not.toContain(TOKEN);
        expect(Object.keys(outs)).not.toContain("headers");
    });

    it("a failing create throws the formatted report, secrets redacted, and carries no id (nothing is recorded)", async () => {
        const err = await smokeCreate(inputs(broken.url)).then(
            () => undefined,
            (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(SmokeFailedError);
        const message = (err as Error).message;
        expect(message).toMatch(
            /^smoke checks failed \(trigger trigger-1\); nothing was rolled back, the next 'pulumi up' runs them again\nsmoke FAILED: 1 of 4 checks failed/,
        );
        expect(message).toMatch(/FAIL\s+db-status\s+GET\s+\S+\/api\/db-status\s+\[body\]/);
        expect(message).toContain("seen:     JSON field connected is false, not true");
        expect(message).not.toContain(TOKEN);
        // The dynamic provider host turns an error with `id` into a partially created resource.
        expect(err).not.toHaveProperty("id");
        expect(err).not.toHaveProperty("properties");
    });

    it("update runs the checks again and returns fresh outputs; a failing update throws", async () => {
        const first = await smokeCreate(inputs(healthy.url));
        const hitsBefore = healthy.hits.get("/healthz") ?? 0;
        const { outs } = await smokeUpdate("id", first.outs, inputs(healthy.url, { trigger: "trigger-2" }));
        expect(healthy.hits.get("/healthz")).toBe(hitsBefore + 2);
        expect(outs.trigger).toBe("trigger-2");
        expect(Date.parse(outs.passedAt)).toBeGreaterThanOrEqual(Date.parse(first.outs.passedAt));
        await expect(smokeUpdate("id", first.outs, inputs(broken.url, { trigger: "trigger-3" }))).rejects.toThrow(/\[body\]/);
    });

    describe("diff", () => {
        const olds: SmokeRunOutputs = {
            baseUrl: "http://app:8080",
            trigger: "t1",
            checks: JSON.stringify(defaultChecks),
            timeoutMs: 2500,
            deadlineMs: 3000,
            intervalMs: 50,
            consecutivePasses: 2,
            runOnEveryUp: false,
            caSha256: null,
            passedAt: "2026-01-01T00:00:00.000Z",
            elapsedMs: 10,
            results: [],
        };
        const news = (o: Partial<SmokeRunInputs> = {}) => inputs("http://app:8080", { trigger: "t1", ...o });
        const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

        it.each([
            ["nothing changed", {}, false],
            ["only the secret headers changed", { headers: { Authorization: "Bearer other" } }, false],
            ["the trigger changed (a new rollout)", { trigger: "t2" }, true],
            ["the trigger is unknown during preview", { trigger: UNKNOWN }, true],
            ["the base URL changed", { baseUrl: "http://app:9090" }, true],
            ["the checks changed", { checks: JSON.stringify(defaultChecks.slice(0, 2)) }, true],
            ["the deadline changed", { deadlineMs: 2000 }, true],
            ["a CA was added", { caPem: "-----BEGIN CERTIFICATE-----x-----END CERTIFICATE-----" }, true],
            ["runOnEveryUp is set", { runOnEveryUp: true }, true],
        ] as [string, Partial<SmokeRunInputs>, boolean][])("%s -> changes %s", (_label, change, expected) => {
            const d = smokeDiff("id", olds, news(change));
            expect(d).toEqual({ changes: expected, replaces: [] });
        });

        it("the same CA compares equal through its hash", () => {
            const pem = "-----BEGIN CERTIFICATE-----x-----END CERTIFICATE-----";
            const withCa = { ...olds, caSha256: createHash("sha256").update(pem).digest("hex") };
            expect(smokeDiff("id", withCa, news({ caPem: pem })).changes).toBe(false);
        });

        it("a state without passedAt runs again", () => {
            const { passedAt: _drop, ...partial } = olds;
            expect(smokeDiff("id", partial, news()).changes).toBe(true);
        });
    });
});
