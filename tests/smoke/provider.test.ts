// The SmokeTest dynamic provider: its create/update/diff logic called directly, and the
// serialized provider text run the way `pulumi-resource-pulumi-nodejs` runs it (a plain Node
// process, no TypeScript loader, another working directory).
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultChecks } from "../../smoke";
import { SmokeFailedError, smokeCreate, smokeDiff, smokeUpdate, type SmokeRunInputs, type SmokeRunOutputs } from "../../smoke/provider";
import { smokeProvider } from "../../components/smokeTest";
import { healthyRoutes, json, REPO, startServer, type TestServer } from "./helpers/servers";

const TOKEN = "tok-5e1d0a77c2";

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

function inputs(baseUrl: string, overrides: Partial<SmokeRunInputs> = {}): SmokeRunInputs {
    return {
        baseUrl,
        trigger: "trigger-1",
        checks: JSON.stringify(defaultChecks),
        timeoutMs: 1000,
        deadlineMs: 1500,
        intervalMs: 50,
        consecutivePasses: 2,
        runOnEveryUp: false,
        headers: { Authorization: `Bearer ${TOKEN}` },
        ...overrides,
    };
}

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
        expect(message).toMatch(/^smoke checks failed \(trigger trigger-1\); nothing was rolled back, the next 'pulumi up' runs them again\nsmoke FAILED: 1 of 4 checks failed/);
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
            timeoutMs: 1000,
            deadlineMs: 1500,
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
        ] as [string, Partial<SmokeRunInputs>, boolean][])("%s -> changes %s", async (_label, change, expected) => {
            const d = await smokeDiff("id", olds, news(change));
            expect(d).toEqual({ changes: expected, replaces: [] });
        });

        it("the same CA compares equal through its hash", async () => {
            const pem = "-----BEGIN CERTIFICATE-----x-----END CERTIFICATE-----";
            const withCa = { ...olds, caSha256: createHash("sha256").update(pem).digest("hex") };
            expect((await smokeDiff("id", withCa, news({ caPem: pem }))).changes).toBe(false);
        });

        it("a state without passedAt runs again", async () => {
            const { passedAt: _drop, ...partial } = olds;
            expect((await smokeDiff("id", partial, news())).changes).toBe(true);
        });
    });
});

describe.concurrent("serialized provider", () => {
    let dir: string;
    let providerText: string;
    beforeAll(async () => {
        dir = mkdtempSync(path.join(tmpdir(), "smoke-provider-"));
        // Exactly what pulumi.dynamic.Resource stores in `__provider`.
        const serialized = await pulumi.runtime.serializeFunction(() => smokeProvider, { allowSecrets: true });
        providerText = serialized.text;
        writeFileSync(path.join(dir, "provider.js"), providerText);
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("captures only paths: no engine, no undici, no secrets in the serialized text", () => {
        expect(providerText).toContain(JSON.stringify(path.join(REPO, "smoke", "provider.ts")));
        expect(providerText).toMatch(/tsx[\\/]+dist[\\/]+cjs[\\/]+api[\\/]+index\.cjs/);
        expect(providerText).not.toMatch(/undici|runSmoke|Authorization/);
        expect(providerText.length).toBeLessThan(4000);
    });

    // The driver mimics the dynamic provider host: require-from-string, `.handler()`, call a method.
    async function inPlainNode(method: "create" | "diff", args: unknown[]): Promise<{ ok: boolean; value: unknown }> {
        const driver = `
            const requireFromString = require(${JSON.stringify(require.resolve("require-from-string", { paths: [path.join(REPO, "node_modules", "@pulumi", "pulumi")] }))});
            const fs = require("node:fs");
            const provider = requireFromString(fs.readFileSync(${JSON.stringify(path.join(dir, "provider.js"))}, "utf8")).handler();
            provider[${JSON.stringify(method)}](...${JSON.stringify(args)}).then(
                (v) => process.stdout.write(JSON.stringify({ ok: true, value: v })),
                (e) => process.stdout.write(JSON.stringify({ ok: false, value: { message: e.message, hasId: "id" in e } })),
            );`;
        const { stdout } = await promisify(execFile)(process.execPath, ["-e", driver], { cwd: dir, env: { PATH: process.env["PATH"] ?? "" } });
        return JSON.parse(stdout) as { ok: boolean; value: unknown };
    }

    it("create runs in a plain Node process from another directory", async () => {
        const result = await inPlainNode("create", [inputs(healthy.url)]);
        expect(result.ok).toBe(true);
        const { outs } = result.value as { outs: SmokeRunOutputs };
        expect(outs.trigger).toBe("trigger-1");
        expect(outs.results.every((r) => r.passed)).toBe(true);
    });

    it("a failing create there rejects with the report and no id", async () => {
        const result = await inPlainNode("create", [inputs(broken.url)]);
        expect(result.ok).toBe(false);
        const { message, hasId } = result.value as { message: string; hasId: boolean };
        expect(message).toMatch(/FAIL\s+db-status.*\[body\]/);
        expect(message).not.toContain(TOKEN);
        expect(hasId).toBe(false);
    });

    it("diff runs there too", async () => {
        const result = await inPlainNode("diff", ["id", { trigger: "a", passedAt: "x" }, inputs(healthy.url, { trigger: "b" })]);
        expect(result).toEqual({ ok: true, value: { changes: true, replaces: [] } });
    });
});
