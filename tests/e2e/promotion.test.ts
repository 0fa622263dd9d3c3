// Promotion and parity end to end: the real `pulumi` engine and a real kube-apiserver (kwok
// simulates the pods), the reference app as each environment's smoke target. prod deploys only
// what staging verified, refuses already at preview and creates nothing when it refuses; an
// override goes through and is reported; `progression parity` finds a dev secret reused in prod.
// Every line the engine and the CLI print is kept, and no secret value may appear in any of it.
// Its own cluster, backend and stacks; everything is torn down in afterAll.
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENVIRONMENTS, type EnvironmentName } from "../../config/environments";
import { readStackConfig } from "../../config/stackFile";
import type { VerifiedRecord } from "../../promotion/record";
import {
    type Cluster,
    clusterDown,
    clusterUp,
    kubectlJson,
    prepareStack,
    REPO,
    type RunningApp,
    startApp,
    useToolchain,
    type Workspace,
    workspace,
} from "../../scripts/local";

const CLUSTER = `progression-promo-${process.pid}`;
const STAGING = "organization/env-progression/staging";
const VERIFIED = readStackConfig("prod").app.image; // the committed staging and prod images are the same
const UNVERIFIED = "ghcr.io/env-progression/web:1.4.3@sha256:" + "4d".repeat(32);
const FAILED = "ghcr.io/env-progression/web:1.4.4@sha256:" + "5e".repeat(32);
const REASON = "INC-4711: checkout outage hotfix, approved by alice";

let tmp: string;
let cluster: Cluster;
let ws: Workspace;
const apps: Partial<Record<EnvironmentName, RunningApp>> = {};
const ports: Partial<Record<EnvironmentName, number>> = {};
const stacks: Partial<Record<EnvironmentName, Stack>> = {};
// Different per environment, as operators set them; the test reuses dev's token in prod later.
const secretsOf = (e: EnvironmentName) => ({
    DATABASE_URL: `postgres://app:${crypto.randomBytes(9).toString("hex")}@db.${e}.internal:5432/app`,
    API_TOKEN: `tok-${crypto.randomBytes(12).toString("hex")}`,
});
const secrets: Record<EnvironmentName, Record<string, string>> = { dev: secretsOf("dev"), staging: secretsOf("staging"), prod: secretsOf("prod") };
/** Everything the engine and the CLI printed, stdout and stderr: no secret may be in it. */
const transcript: string[] = [];

async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer().listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
        server.on("error", reject);
    });
}

async function restartApp(env: EnvironmentName, fail?: string): Promise<void> {
    await apps[env]?.stop();
    apps[env] = await startApp({ port: ports[env]!, ...(fail ? { fail } : {}), logFile: path.join(tmp, `app-${env}.log`) });
}

async function stackFor(env: EnvironmentName, overrides: Record<string, unknown> = {}): Promise<Stack> {
    const stack = await prepareStack(ws, env, {
        cluster,
        smokeBaseUrl: `http://127.0.0.1:${ports[env]}`,
        secrets: secrets[env],
        // Three replicas in prod too: the rollouts stay short, and prod's minimum is three.
        overrides: { smokeDeadline: "6s", smokeInterval: "200ms", replicas: 3, ...overrides },
    });
    stacks[env] = stack;
    return stack;
}

interface Attempt {
    readonly ok: boolean;
    /** stdout and stderr of the engine, and the error, if any. */
    readonly output: string;
    readonly outputs: Record<string, unknown>;
}

/** `pulumi up` or `pulumi preview`, keeping everything it printed. */
async function attempt(stack: Stack, op: "up" | "preview", opts: { policyPack?: boolean } = {}): Promise<Attempt> {
    let output = "";
    const sink = { color: "never" as const, onOutput: (s: string) => (output += s), onError: (s: string) => (output += s) };
    try {
        if (op === "up") {
            const r = await stack.up(sink);
            transcript.push(output);
            return { ok: true, output, outputs: Object.fromEntries(Object.entries(r.outputs).map(([k, v]) => [k, v.value])) };
        }
        await stack.preview({ ...sink, ...(opts.policyPack ? { policyPacks: [path.join(REPO, "policy")] } : {}) });
        transcript.push(output);
        return { ok: true, output, outputs: {} };
    } catch (err) {
        output += `\n${(err as Error).message}`;
        transcript.push(output);
        return { ok: false, output, outputs: {} };
    }
}

const outputsOf = async (stack: Stack) => Object.fromEntries(Object.entries(await stack.outputs()).map(([k, v]) => [k, v.value])) as Record<string, unknown>;
const kubernetesResources = async (stack: Stack) =>
    ((await stack.exportStack()).deployment.resources ?? []).filter((r: { type: string }) => r.type.startsWith("kubernetes:"));
const namespaceExists = (name: string) =>
    kubectlJson<{ items: { metadata: { name: string } }[] }>(cluster, ["get", "namespaces"]).items.some((n) => n.metadata.name === name);

/** `progression parity` as a user runs it, in the project directory, with the backend's environment. */
function parity(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(path.join(REPO, "bin", "progression"), ["parity", "-C", ws.projectDir, ...args], {
            env: { ...process.env, ...ws.envVars },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (status) => {
            transcript.push(stdout, stderr);
            resolve({ status, stdout, stderr });
        });
    });
}

beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "progression-promo-"));
    const toolEnv = useToolchain();
    const home = path.join(tmp, "pulumi-home");
    fs.mkdirSync(home);
    if (toolEnv["PULUMI_HOME"]) fs.symlinkSync(path.join(toolEnv["PULUMI_HOME"], "plugins"), path.join(home, "plugins"));
    cluster = clusterUp(CLUSTER, path.join(tmp, "kubeconfig"));
    ws = workspace(tmp, { PATH: process.env["PATH"] ?? "", PULUMI_HOME: home });
    for (const env of ENVIRONMENTS) {
        ports[env] = await freePort();
        await restartApp(env);
    }
});

afterAll(async () => {
    try {
        for (const env of [...ENVIRONMENTS].reverse()) {
            const stack = stacks[env];
            if (!stack) continue;
            await stack.destroy({ color: "never" }).catch(() => undefined);
            await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
        }
    } finally {
        for (const app of Object.values(apps)) await app?.stop();
        // Also after a cluster that failed to come up: what it started must not outlive the suite.
        if (tmp) clusterDown(CLUSTER, path.join(tmp, "kubeconfig"));
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    }
});

describe("promotion and parity on a real engine and API server", () => {
    it("prod refuses at preview while staging does not exist, or has verified nothing, and says what to run first", async () => {
        const prod = await stackFor("prod");
        const missing = await attempt(prod, "preview");
        expect(missing.ok).toBe(false);
        expect(missing.output).toContain(
            `prod promotes from staging (${STAGING}), and it does not exist in this backend (create it first: pulumi stack init staging, and set its config): ` +
                "nothing proves that what prod is about to run works. Fix: pulumi up -s staging first",
        );
        await stackFor("staging");
        const unverified = await attempt(prod, "preview");
        expect(unverified.output).toContain(
            `prod promotes from staging (${STAGING}), and it has no verified record: nothing proves that what prod is about to run works. Fix: pulumi up -s staging first`,
        );
        // The message alone, as the program's RunError prints it: no stack trace.
        expect(unverified.output).not.toMatch(/\n\s+at .*\(.*\.ts:\d+:\d+\)/);
    });

    it("staging's up verifies what it runs and exports the record: image, digests, flags, checks, commit", async () => {
        await stackFor("dev");
        expect((await attempt(stacks.dev!, "up")).ok).toBe(true);
        const up = await attempt(stacks.staging!, "up");
        expect(up.ok).toBe(true);
        const verified = up.outputs["verified"] as VerifiedRecord;
        expect(verified).toEqual({
            format: 1,
            environment: "staging",
            image: VERIFIED,
            imageDigest: VERIFIED.slice(VERIFIED.indexOf("@") + 1),
            manifestDigest: expect.stringMatching(/^[0-9a-f]{64}$/),
            featureFlags: { newCheckout: true, searchV2: false },
            checks: ["healthz", "version", "db-status", "test-action"],
            passedAt: (up.outputs["smoke"] as { passedAt: string }).passedAt,
            trigger: (up.outputs["smoke"] as { trigger: string }).trigger,
            commit: expect.stringMatching(/^[0-9a-f]{40}(-dirty)?$/),
        });
        expect(up.outputs["promotion"]).toMatchObject({ source: "organization/env-progression/dev", status: "verified" });
    });

    it("prod refuses an image staging never verified, at preview and at up, naming both, and creates nothing", async () => {
        const prod = await stackFor("prod", { image: UNVERIFIED });
        for (const op of ["preview", "up"] as const) {
            const r = await attempt(prod, op);
            expect(r.ok, op).toBe(false);
            expect(r.output).toContain(`prod refuses to deploy what staging has not verified (promotion from ${STAGING}); nothing was created:`);
            expect(r.output).toContain(`image: prod would run ${UNVERIFIED}, but staging verified ${VERIFIED} (checks passed `);
            expect(r.output).toContain(
                `Fix: verify it in staging first: pulumi config set image ${UNVERIFIED} -s staging && pulumi up -s staging; or deploy what staging verified: pulumi config set image ${VERIFIED} -s prod`,
            );
        }
        // The state holds the stack itself and its read of staging's outputs, nothing it created.
        const state = ((await prod.exportStack()).deployment.resources ?? []) as { type: string; external?: boolean }[];
        expect(state.filter((r) => r.type !== "pulumi:pulumi:Stack" && r.type !== "pulumi:providers:pulumi" && r.external !== true)).toEqual([]);
        expect(state.find((r) => r.type === "pulumi:pulumi:StackReference")?.external).toBe(true);
        expect(await kubernetesResources(prod)).toEqual([]);
        expect(namespaceExists("web-prod")).toBe(false);
    });

    it("prod refuses a flag that is on in staging and off in prod, at preview", async () => {
        const prod = await stackFor("prod", { featureFlags: { newCheckout: false, searchV2: false } });
        const r = await attempt(prod, "preview");
        expect(r.ok).toBe(false);
        expect(r.output).toContain("featureFlags.newCheckout must match in staging and prod, but staging (verified) has true, prod has false");
        expect(r.output).toContain("Fix: pulumi config set --path 'featureFlags.newCheckout' true -s prod, or allow the difference in parity-rules.json");
    });

    it("prod accepts the image and flags staging verified", async () => {
        const up = await attempt(await stackFor("prod"), "up");
        expect(up.ok).toBe(true);
        const staging = (await outputsOf(stacks.staging!))["verified"] as VerifiedRecord;
        expect(up.outputs["promotion"]).toMatchObject({
            source: STAGING,
            status: "verified",
            override: null,
            overridden: [],
            checkedAgainst: { passedAt: staging.passedAt, trigger: staging.trigger, image: VERIFIED },
        });
        expect((up.outputs["verified"] as VerifiedRecord).image).toBe(VERIFIED);
        expect(kubectlJson(cluster, ["get", "deployment", "web", "-n", "web-prod"]).spec.template.spec.containers[0].image).toBe(VERIFIED);
    });

    it("after staging's up fails its checks, staging's record is unchanged and prod refuses what failed", async () => {
        await restartApp("staging", "db");
        const failed = await attempt(await stackFor("staging", { image: FAILED }), "up");
        expect(failed.ok).toBe(false);
        expect(failed.output).toMatch(/db-status/);
        // The engine keeps the outputs of the last successful update, and the record comes from the
        // smoke run's outputs, which only a passing run changes: staging still vouches for VERIFIED.
        expect(((await outputsOf(stacks.staging!))["verified"] as VerifiedRecord).image).toBe(VERIFIED);
        const r = await attempt(await stackFor("prod", { image: FAILED }), "preview");
        expect(r.ok).toBe(false);
        expect(r.output).toContain(`image: prod would run ${FAILED}, but staging verified ${VERIFIED}`);
        expect(r.output).toContain("pulumi up -s staging");
        await restartApp("staging");
    });

    it("an override lets prod through, warned, exported with its reason, and reported by the policy pack as advisory", async () => {
        const prod = await stackFor("prod", { image: FAILED, promotionOverride: REASON });
        const up = await attempt(prod, "up");
        expect(up.ok).toBe(true);
        expect(up.output).toContain(`PROMOTION OVERRIDDEN for prod ("${REASON}"): deploying what staging did not verify:`);
        expect(up.outputs["promotion"]).toMatchObject({
            source: STAGING,
            status: "overridden",
            override: REASON,
            overridden: [expect.stringContaining(`image: prod would run ${FAILED}`)],
        });
        expect(kubectlJson(cluster, ["get", "deployment", "web", "-n", "web-prod"]).spec.template.spec.containers[0].image).toBe(FAILED);
        const preview = await attempt(prod, "preview", { policyPack: true });
        expect(preview.ok).toBe(true);
        expect(preview.output).toMatch(/\[advisory\].*promotion-override/);
        expect(preview.output).toContain(`prod deploys with env-progression:promotionOverride "${REASON}"`);
    });

    it("progression parity finds dev's secret reused in prod and prints neither the value nor a hash", async () => {
        await stacks.prod!.setConfig("env-progression:API_TOKEN", { value: secrets.dev.API_TOKEN!, secret: true });
        const text = await parity([]);
        expect(text.stderr).toBe("");
        expect(text.status).toBe(1);
        expect(text.stdout).toMatch(/\nAPI_TOKEN +must-differ +<secret> +<secret> +<secret> +secret-reused {2}VIOLATION\n/);
        expect(text.stdout).toContain(
            "API_TOKEN holds the same secret value in dev and prod (compared as keyed hashes in memory; neither the value nor a hash is shown)",
        );
        const json = await parity(["--json"]);
        expect(json.status).toBe(1);
        const report = JSON.parse(json.stdout) as { ok: boolean; violations: { key: string; stacks: string[] }[] };
        expect(report.ok).toBe(false);
        expect(report.violations.map((v) => [v.key, v.stacks])).toContainEqual(["API_TOKEN", ["dev", "prod"]]);
        // No hash of a secret: the only 64-hex strings may be the images' own digests.
        for (const out of [text.stdout, json.stdout]) expect(out.replace(/sha256:[0-9a-f]{64}/g, "")).not.toMatch(/[0-9a-f]{64}/);
    });

    it("no secret value appears in anything the engine or the CLI printed", () => {
        expect(transcript.length).toBeGreaterThan(10);
        const all = transcript.join("\n");
        for (const env of ENVIRONMENTS) for (const value of Object.values(secrets[env])) expect(all.includes(value), `a ${env} secret was printed`).toBe(false);
    });
});
