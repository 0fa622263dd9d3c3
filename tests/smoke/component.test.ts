// SmokeTest wiring under Pulumi mocks: which children it registers, with which inputs, and what
// its outputs resolve to. The provider logic itself is tested in provider.test.ts.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { defaultChecks, validateChecks } from "../../smoke";

interface Recorded {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
}
const recorded: Recorded[] = [];
const PASSED_AT = "2026-05-01T10:00:00.000Z";

let mod: typeof import("../../components/smokeTest");

beforeAll(async () => {
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                recorded.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown> });
                if (args.type === "pulumi-nodejs:dynamic/progression:SmokeRun") {
                    // What the provider's create returns, minus the fields this test does not read.
                    const results = [
                        { name: "healthz", method: "GET", url: `${args.inputs.baseUrl}healthz`, passed: true, status: 200, latencyMs: 3, attempts: 3 },
                    ];
                    return { id: "smoke-1", state: { ...args.inputs, passedAt: PASSED_AT, results } };
                }
                return { id: `${args.name}-id`, state: args.inputs };
            },
            call(args) {
                throw new Error(`unexpected call to ${args.token}: nothing in SmokeTest should invoke a provider function`);
            },
        },
        "progression",
        "dev",
        false,
    );
    mod = await import("../../components/smokeTest");
});

// How the mock monitor shows a secret input: Pulumi's secret signature around the value.
const secretValue = (value: unknown) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value });
const resolve = <T>(o: pulumi.Output<T>) => new Promise<T>((r) => o.apply(r));
const byName = (name: string) => {
    const r = recorded.find((x) => x.name === name);
    if (!r) throw new Error(`no resource ${name}; recorded: ${recorded.map((x) => x.name).join(", ")}`);
    return r;
};

describe("SmokeTest (checks mode)", () => {
    it("registers one dynamic SmokeRun child with the validated checks and timings, the headers as a secret", async () => {
        const smoke = new mod.SmokeTest("dev-smoke", {
            baseUrl: "http://app.dev.svc.cluster.local:8080/",
            trigger: pulumi.output("abc123"),
            deadlineMs: 60_000,
            consecutivePasses: 2,
            headers: { Authorization: "Bearer s3cr3t-value" },
        });
        expect(await resolve(smoke.passedAt)).toBe(PASSED_AT);
        expect(await resolve(smoke.trigger)).toBe("abc123");
        expect(await resolve(smoke.results)).toEqual([expect.objectContaining({ name: "healthz", passed: true, latencyMs: 3 })]);

        expect(byName("dev-smoke").type).toBe("progression:verify:SmokeTest");
        const run = byName("dev-smoke-run");
        expect(run.type).toBe("pulumi-nodejs:dynamic/progression:SmokeRun");
        const { __provider, headers, ...rest } = run.inputs;
        expect(rest).toEqual({
            baseUrl: "http://app.dev.svc.cluster.local:8080/",
            trigger: "abc123",
            checks: JSON.stringify(defaultChecks),
            timeoutMs: 5000,
            deadlineMs: 60000,
            intervalMs: 1000,
            consecutivePasses: 2,
            failureLimit: 3,
            runOnEveryUp: false,
        });
        expect(headers).toEqual(secretValue({ Authorization: "Bearer s3cr3t-value" }));
        expect(typeof __provider).toBe("string");
        expect(__provider as string).not.toContain("s3cr3t-value");
        expect(__provider as string).toContain("dist/provider-smoke.js");
    });

    it("marks headers secret even when handed over as a plain Output", async () => {
        const smoke = new mod.SmokeTest("plain-headers-smoke", { baseUrl: "http://a:1", trigger: "t", headers: pulumi.output({ "X-Api-Key": "k-1" }) });
        await resolve(smoke.passedAt);
        expect(byName("plain-headers-smoke-run").inputs["headers"]).toEqual(secretValue({ "X-Api-Key": "k-1" }));
    });

    it("passes checks judged by validateChecks, normalized, and the CA as inputs", async () => {
        const smoke = new mod.SmokeTest("custom-smoke", {
            baseUrl: "https://app.example",
            trigger: "t",
            checks: validateChecks([{ name: "ping", path: "/ping", expect: { status: 204 } }]),
            caPem: "-----BEGIN CERTIFICATE-----...",
            runOnEveryUp: true,
        });
        await resolve(smoke.passedAt);
        const run = byName("custom-smoke-run");
        expect(JSON.parse(run.inputs["checks"] as string)).toEqual([{ name: "ping", method: "GET", path: "/ping", expect: { status: [204] } }]);
        expect(run.inputs["caPem"]).toBe("-----BEGIN CERTIFICATE-----...");
        expect(run.inputs["runOnEveryUp"]).toBe(true);
        expect(run.inputs).not.toHaveProperty("headers");
    });

    it("takes only judged checks: validateChecks, where checks written in code are read, refuses invalid ones naming every problem and the fix", () => {
        expect(() => validateChecks([{ name: "x", path: "nope" }], "bad-smoke.checks")).toThrow(
            /bad-smoke\.checks\[0\]\.path: missing or invalid path; got "nope"; allowed: .*; fix: /,
        );
    });

    it("takes timings as validated at the edge: applies defaults and never re-judges them mid-program", async () => {
        // Config validation owns every smoke setting and reports it with the other config problems
        // before anything is registered; the component would otherwise throw after the app exists.
        const smoke = new mod.SmokeTest("edge-timing", { baseUrl: "http://a:1", trigger: "t", deadlineMs: 2_000, intervalMs: 1_000, consecutivePasses: 5 });
        await resolve(smoke.passedAt);
        expect(byName("edge-timing-run").inputs).toMatchObject({ deadlineMs: 2_000, intervalMs: 1_000, consecutivePasses: 5, timeoutMs: 5_000 });
        const defaults = new mod.SmokeTest("default-timing", { baseUrl: "http://a:1", trigger: "t" });
        await resolve(defaults.passedAt);
        expect(byName("default-timing-run").inputs).toMatchObject({ deadlineMs: 120_000, intervalMs: 1_000, consecutivePasses: 3, timeoutMs: 5_000 });
    });

    it("echoes the subject only from the run's outputs, and names the checks that passed", async () => {
        const smoke = new mod.SmokeTest("subject-smoke", { baseUrl: "http://a:1", trigger: "t", subject: { image: "registry/app:1.2.3" } });
        expect(await resolve(smoke.subject)).toEqual({ image: "registry/app:1.2.3" });
        expect(await resolve(smoke.verifiedBy)).toEqual(["healthz"]);
        expect(byName("subject-smoke-run").inputs["subject"]).toEqual({ image: "registry/app:1.2.3" });
    });
});

describe("SmokeTest (command mode)", () => {
    it("registers the same dynamic SmokeRun child with the command, the project directory and the deadline, and no checks or headers", async () => {
        const smoke = new mod.SmokeTest(
            "cmd-smoke",
            { baseUrl: "http://app:8080", trigger: pulumi.output("abc123"), command: "./scripts/smoke-test.sh", deadlineMs: 500 },
            { dependsOn: [] },
        );
        expect(await resolve(smoke.passedAt)).toBe(PASSED_AT);
        expect(await resolve(smoke.trigger)).toBe("abc123");
        expect(await resolve(smoke.verifiedBy)).toEqual(["command: ./scripts/smoke-test.sh"]);
        const runs = recorded.filter((r) => r.name.startsWith("cmd-smoke-"));
        expect(runs.map((r) => [r.type, r.name])).toEqual([["pulumi-nodejs:dynamic/progression:SmokeRun", "cmd-smoke-run"]]);
        const { __provider, ...rest } = runs[0]!.inputs;
        expect(rest).toEqual({
            baseUrl: "http://app:8080",
            trigger: "abc123",
            command: "./scripts/smoke-test.sh",
            cwd: process.cwd(),
            deadlineMs: 500,
            runOnEveryUp: false,
        });
        expect(recorded.some((r) => r.type.startsWith("command:"))).toBe(false);
    });

    it("refuses the arguments only the HTTP checks use, rather than ignoring them", () => {
        expect(
            () =>
                new mod.SmokeTest("cmd-headers", {
                    baseUrl: "http://app:8080",
                    trigger: "t",
                    command: "./scripts/smoke-test.sh",
                    headers: { Authorization: "Bearer s3cr3t-value" },
                    consecutivePasses: 5,
                }),
        ).toThrow(
            "cmd-headers: consecutivePasses, headers apply only to the HTTP checks, and command is set; allowed with command: baseUrl, trigger, subject, deadlineMs, runOnEveryUp; " +
                "fix: drop consecutivePasses, headers (the command replaces the checks) or drop the command",
        );
        for (const arg of mod.HTTP_ONLY_ARGS) {
            const value = arg === "checks" ? [...defaultChecks] : arg === "headers" ? { A: "b" } : arg === "caPem" ? "pem" : 1;
            expect(() => new mod.SmokeTest(`cmd-${arg}`, { baseUrl: "http://a", trigger: "t", command: "true", [arg]: value }), arg).toThrow(`cmd-${arg}: ${arg} applies only to the HTTP checks`);
        }
    });

    it("defaults the deadline and passes runOnEveryUp on, for the provider's diff to re-run every up", async () => {
        const smoke = new mod.SmokeTest("every-smoke", { baseUrl: "http://app:8080", trigger: "abc", command: "true", runOnEveryUp: true });
        await resolve(smoke.passedAt);
        const run = byName("every-smoke-run");
        expect(run.inputs["runOnEveryUp"]).toBe(true);
        expect(run.inputs["deadlineMs"]).toBe(120_000);
        // Unchanged inputs are no change to the engine's plugin: every program run brings a new id.
        const again = new mod.SmokeTest("every-smoke-2", { baseUrl: "http://app:8080", trigger: "abc", command: "true", runOnEveryUp: true });
        await resolve(again.passedAt);
        expect(run.inputs["runId"]).toMatch(/^[0-9a-f-]{36}$/);
        expect(byName("every-smoke-2-run").inputs["runId"]).not.toBe(run.inputs["runId"]);
        const once = new mod.SmokeTest("once-smoke", { baseUrl: "http://app:8080", trigger: "abc", command: "true" });
        await resolve(once.passedAt);
        expect(byName("once-smoke-run").inputs).not.toHaveProperty("runId");
    });

    it("refuses an empty command", () => {
        expect(() => new mod.SmokeTest("empty", { baseUrl: "http://a", trigger: "t", command: "  " })).toThrow(/command is empty/);
    });
});
