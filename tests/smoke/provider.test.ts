// The SmokeTest dynamic provider's create/update/diff logic, called directly against real
// local servers and, in command mode, real shell processes. The serialized form is tested in
// provider-serialized.test.ts.
import { createHash } from "node:crypto";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultChecks } from "../../smoke";
import {
    OUTPUT_CAP_BYTES,
    SmokeCommandError,
    SmokeFailedError,
    smokeCreate,
    smokeDiff,
    smokeUpdate,
    type ChecksRunInputs,
    type CommandRunInputs,
    type CommandRunOutputs,
    type SmokeRunOutputs,
} from "../../smoke/provider";
import { commandInputs, providerInputs as inputs, TOKEN } from "./helpers/provider";
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

    it("the outputs of a run that passed diff as unchanged against the same inputs (rule 4: the engine's plugin skips such a diff)", async () => {
        const http = inputs(healthy.url);
        expect(smokeDiff("id", (await smokeCreate(http)).outs, http).changes).toBe(false);
        const cmd = commandInputs("true");
        expect(smokeDiff("id", (await smokeCreate(cmd)).outs, cmd).changes).toBe(false);
    });

    it("a failing create throws the formatted report, secrets redacted, and carries no id (nothing is recorded)", async () => {
        const err = await smokeCreate(inputs(broken.url)).then(
            () => undefined,
            (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(SmokeFailedError);
        const message = (err as Error).message;
        expect(message).toMatch(
            /^smoke checks failed \(trigger trigger-1\); live traffic did not move to the candidate: it stays on the last verified revision \(on a first deploy there is none, and the live Service selects nothing yet\), and the candidate keeps running behind the preview route for inspection\. The next 'pulumi up' checks it again\nsmoke FAILED: 1 of 4 checks failed/,
        );
        expect(message).toMatch(/FAIL\s+db-status\s+GET\s+\S+\/api\/db-status\s+\[body\]/);
        expect(message).toContain("seen:     JSON field connected is false, not true");
        expect(message).not.toContain(TOKEN);
        // The dynamic provider host turns an error with `id` into a partially created resource.
        expect(err).not.toHaveProperty("id");
        expect(err).not.toHaveProperty("properties");
    });

    it("update runs the checks again and returns fresh outputs; a failing update throws", async () => {
        // A server of its own: the other tests of this concurrent block hit the shared one meanwhile.
        const own = await startServer(healthyRoutes());
        try {
            const first = await smokeCreate(inputs(own.url));
            const hitsBefore = own.hits.get("/healthz") ?? 0;
            const { outs } = await smokeUpdate("id", first.outs, inputs(own.url, { trigger: "trigger-2" }));
            expect(own.hits.get("/healthz")).toBe(hitsBefore + 2);
            expect(outs.trigger).toBe("trigger-2");
            expect(Date.parse(outs.passedAt)).toBeGreaterThanOrEqual(Date.parse(first.outs.passedAt));
            await expect(smokeUpdate("id", first.outs, inputs(broken.url, { trigger: "trigger-3" }))).rejects.toThrow(/\[body\]/);
        } finally {
            await own.close();
        }
    });

    it("returns the subject only from a run that passed: a failing run throws, so state keeps the old one", async () => {
        const verified = { image: "registry/app:1.2.3", manifestDigest: "m1" };
        const { outs } = await smokeCreate(inputs(healthy.url, { subject: verified }));
        expect(outs.subject).toEqual(verified);
        const candidate = { image: "registry/app:1.2.4", manifestDigest: "m2" };
        await expect(smokeUpdate("id", outs, inputs(broken.url, { trigger: "trigger-2", subject: candidate }))).rejects.toThrow(SmokeFailedError);
        expect((await smokeCreate(inputs(healthy.url))).outs.subject).toBeNull();
    });

    describe("diff", () => {
        const olds: SmokeRunOutputs = {
            baseUrl: "http://app:8080",
            trigger: "t1",
            subject: null,
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
        const news = (o: Partial<ChecksRunInputs> = {}) => inputs("http://app:8080", { trigger: "t1", ...o });
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
        ] as [string, Partial<ChecksRunInputs>, boolean][])("%s -> changes %s", (_label, change, expected) => {
            const d = smokeDiff("id", olds, news(change));
            expect(d).toEqual({ changes: expected, replaces: [] });
        });

        it("the same CA compares equal through its hash", () => {
            const pem = "-----BEGIN CERTIFICATE-----x-----END CERTIFICATE-----";
            const withCa = { ...olds, caSha256: createHash("sha256").update(pem).digest("hex") };
            expect(smokeDiff("id", withCa, news({ caPem: pem })).changes).toBe(false);
        });

        it("a subject asked for and never recorded runs again; one that changed alone does not", () => {
            const subject = { image: "registry/app:1.2.3", commit: "a".repeat(40) };
            expect(smokeDiff("id", olds, news({ subject })).changes).toBe(true);
            const recorded = { ...olds, subject };
            expect(smokeDiff("id", recorded, news({ subject })).changes).toBe(false);
            // The trigger covers what runs; a new commit alone keeps the record of the run that passed.
            expect(smokeDiff("id", recorded, news({ subject: { ...subject, commit: "b".repeat(40) } })).changes).toBe(false);
        });

        it("a state without passedAt runs again", () => {
            const { passedAt: _drop, ...partial } = olds;
            expect(smokeDiff("id", partial, news()).changes).toBe(true);
        });

        describe("command mode", () => {
            const cmdOlds: CommandRunOutputs = {
                baseUrl: "http://app:8080",
                trigger: "t1",
                subject: null,
                command: "./scripts/smoke-test.sh",
                deadlineMs: 3000,
                runOnEveryUp: false,
                passedAt: "2026-01-01T00:00:00.000Z",
                elapsedMs: 10,
                results: [],
                commandOutput: "ok\n",
            };
            const cmdNews = (o: Partial<CommandRunInputs> = {}) =>
                commandInputs("./scripts/smoke-test.sh", { baseUrl: "http://app:8080", trigger: "t1", deadlineMs: 3000, ...o });

            it.each([
                ["nothing changed", {}, false],
                ["only the working directory changed (another checkout)", { cwd: "/elsewhere" }, false],
                ["the command changed", { command: "./scripts/other.sh" }, true],
                ["the trigger changed", { trigger: "t2" }, true],
                ["the deadline changed", { deadlineMs: 5000 }, true],
                ["runOnEveryUp is set", { runOnEveryUp: true }, true],
            ] as [string, Partial<CommandRunInputs>, boolean][])("%s -> changes %s", (_label, change, expected) => {
                expect(smokeDiff("id", cmdOlds, cmdNews(change))).toEqual({ changes: expected, replaces: [] });
            });

            it("switching between checks and a command runs again, both ways", () => {
                expect(smokeDiff("id", olds, cmdNews()).changes).toBe(true);
                expect(smokeDiff("id", cmdOlds, news()).changes).toBe(true);
            });
        });
    });
});

/** The rejection of `p`, or a failure when it resolved. */
async function rejection(p: Promise<unknown>): Promise<Error> {
    const settled = await p.then(
        (v) => ({ ok: true as const, v }),
        (e: unknown) => ({ ok: false as const, e }),
    );
    if (settled.ok) throw new Error(`expected a rejection, got ${JSON.stringify(settled.v)}`);
    return settled.e as Error;
}

describe.concurrent("provider logic, command mode (real /bin/sh processes)", () => {
    it("a passing command records passedAt, no results and a short output tail; the command stays in outputs, the cwd does not", async () => {
        const before = Date.now();
        const { id, outs } = await smokeCreate(commandInputs("echo hi", { subject: { image: "registry/app:1.2.3" } }));
        expect(id).toMatch(/^smoke-[0-9a-f]{16}$/);
        expect(outs).toEqual({
            baseUrl: "http://app.test:8080",
            trigger: "trigger-1",
            subject: { image: "registry/app:1.2.3" },
            command: "echo hi",
            deadlineMs: 10_000,
            runOnEveryUp: false,
            passedAt: expect.any(String),
            elapsedMs: expect.any(Number),
            results: [],
            commandOutput: "hi\n",
        });
        expect(Date.parse(outs.passedAt)).toBeGreaterThanOrEqual(before - 5);
    });

    it("a failing create rejects with the command, its exit status and its output, and carries no id (nothing is recorded)", async () => {
        const err = await rejection(smokeCreate(commandInputs("echo checking $SMOKE_BASE_URL; echo 'db: down' >&2; exit 3", { trigger: "0123456789abcdef" })));
        expect(err).toBeInstanceOf(SmokeCommandError);
        expect(err.message).toBe(
            "smoke command failed (trigger 0123456789ab): `echo checking $SMOKE_BASE_URL; echo 'db: down' >&2; exit 3` exited with status 3; " +
                "live traffic did not move to the candidate: it stays on the last verified revision (on a first deploy there is none, and the live Service selects nothing yet), " +
                    "and the candidate keeps running behind the preview route for inspection. The next 'pulumi up' checks it again\n" +
                `output (stdout and stderr, last ${OUTPUT_CAP_BYTES / 1024} KiB at most):\nchecking http://app.test:8080\ndb: down`,
        );
        // What the end-to-end suite looks for in `pulumi up`'s output.
        expect(err.message).toMatch(/exit (status|code) 3|exited with 3|status 3/);
        expect(err).not.toHaveProperty("id");
        expect(err).not.toHaveProperty("properties");
    });

    it("hands the command SMOKE_BASE_URL, SMOKE_TRIGGER and the inherited environment, and runs it in cwd", async () => {
        const dir = realpathSync(mkdtempSync(path.join(tmpdir(), "smoke-cwd-")));
        try {
            const { outs } = await smokeCreate(
                commandInputs(`echo "url=$SMOKE_BASE_URL trigger=$SMOKE_TRIGGER path-set=\${PATH:+yes} pwd=$(pwd)"`, { cwd: dir, trigger: "abc" }),
            );
            expect((outs as CommandRunOutputs).commandOutput).toBe(`url=http://app.test:8080 trigger=abc path-set=yes pwd=${dir}\n`);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it("keeps stdout and stderr interleaved in the order they were written", async () => {
        const err = await rejection(smokeCreate(commandInputs("echo one; sleep 0.3; echo two >&2; sleep 0.3; echo three; exit 1")));
        expect(err.message).toMatch(/exited with status 1;.*\n.*:\none\ntwo\nthree$/s);
    });

    it("kills a command still running at the deadline, quickly, and says so", async () => {
        const started = Date.now();
        const err = await rejection(smokeCreate(commandInputs("echo started; sleep 10", { deadlineMs: 500 })));
        expect(Date.now() - started).toBeLessThan(2500);
        expect(err.message).toMatch(/^smoke command failed \(trigger trigger-1\): `echo started; sleep 10` killed at the deadline after 0\.5s; /);
        expect(err.message).toMatch(/\nstarted$/);
    });

    it("SIGKILLs, after a grace period, a command that ignores SIGTERM", async () => {
        const started = Date.now();
        // An ignored signal stays ignored across exec, so `sleep` ignores SIGTERM too.
        const err = await rejection(smokeCreate(commandInputs("trap '' TERM; sleep 30", { deadlineMs: 300 })));
        expect(Date.now() - started).toBeLessThan(8000);
        expect(err.message).toContain("killed at the deadline after 0.3s");
    });

    it("reports a command killed by a signal", async () => {
        const err = await rejection(smokeCreate(commandInputs("echo bye; kill -9 $$")));
        expect(err.message).toMatch(/`echo bye; kill -9 \$\$` was killed by signal SIGKILL; .*\nbye$/s);
    });

    it("does not wait for a background process that keeps the output pipes open", async () => {
        const started = Date.now();
        const { outs } = await smokeCreate(commandInputs("sleep 5 & echo done"));
        expect(Date.now() - started).toBeLessThan(3000);
        expect((outs as CommandRunOutputs).commandOutput).toBe("done\n");
    });

    it("keeps only the tail of a long output, so the end (usually the reason) survives", async () => {
        const err = (await rejection(smokeCreate(commandInputs("head -c 200000 /dev/zero | tr '\\0' x; echo; echo the-reason; exit 2")))) as SmokeCommandError;
        expect(Buffer.byteLength(err.output)).toBe(OUTPUT_CAP_BYTES);
        expect(err.output.endsWith("x\nthe-reason\n")).toBe(true);
        expect(err.message).toContain("exited with status 2");
    });

    it("a missing working directory fails with where it looked", async () => {
        const err = await rejection(smokeCreate(commandInputs("true", { cwd: "/nonexistent/project" })));
        expect(err.message).toContain(
            "`true` could not start: its working directory /nonexistent/project (the Pulumi project directory when the program ran) does not exist here",
        );
        expect(err).not.toHaveProperty("id");
    });

    it("update runs the command again with the new trigger; a failing update throws", async () => {
        const first = await smokeCreate(commandInputs('echo "$SMOKE_TRIGGER"'));
        const { outs } = await smokeUpdate("id", first.outs, commandInputs('echo "$SMOKE_TRIGGER"', { trigger: "trigger-2" }));
        expect(outs.trigger).toBe("trigger-2");
        expect((outs as CommandRunOutputs).commandOutput).toBe("trigger-2\n");
        await expect(smokeUpdate("id", first.outs, commandInputs("exit 3", { trigger: "trigger-3" }))).rejects.toThrow(
            /`exit 3` exited with status 3; .*\n\(no output\)$/s,
        );
    });
});
