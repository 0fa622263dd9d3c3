// Promotion and parity end to end: the real `pulumi` engine and a real kube-apiserver (kwok
// simulates the pods), the reference app as each environment's smoke target. prod deploys only
// what a signed record of staging vouches for, refuses already at preview and creates nothing
// when it refuses: a foreign upstream (promoteFrom dev), a digest no pod ran where staging
// verified a tag, a weakened gate (smokeCommand), a record edited in exported state, one signed
// with another key, one too old. An override lets one digest through and is reported;
// `progression parity` finds a dev secret reused in prod. Every line the engine and the CLI print
// is kept, and no secret value (the promotionKey included) may appear in any of it.
// Its own cluster, backend and stacks; everything is torn down in afterAll.
//
// prod's refusal cases seed staging's state with a record signed with the workspace's
// promotionKey (as a staging that verified a tag, or ran its checks by a command, would have
// exported it): the pods here are simulated, and staging's own program refuses smokeCommand.
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
import { parseVerifiedRecord, type SignedVerifiedRecord, signRecord } from "../../promotion/record";
import { OTHER_KEY, stackConfigWith, upstreamRecordFor } from "../records";
import {
    type Cluster,
    clusterDown,
    clusterUp,
    kubectlJson,
    prepareStack,
    REPO,
    type RunningApp,
    seedVerified,
    startApp,
    useToolchain,
    type Workspace,
    workspace,
} from "../../tests/harness/local";

const CLUSTER = `progression-promo-${process.pid}`;
const STAGING = "organization/env-progression/staging";
const VERIFIED = readStackConfig("prod").app.image; // the committed staging and prod images are the same
const UNVERIFIED = "ghcr.io/env-progression/web:1.4.3@sha256:" + "4d".repeat(32);
const FAILED = "ghcr.io/env-progression/web:1.4.4@sha256:" + "5e".repeat(32);
const REASON = "INC-4711: checkout outage hotfix, approved by alice";
const TAG = VERIFIED.slice(0, VERIFIED.indexOf("@"));
const RAN = VERIFIED.slice(VERIFIED.indexOf("@") + 1);
const NEVER_RAN = "sha256:" + "6f".repeat(32);
const DAY = 24 * 3600_000;

/** The image of the revision the live Service selects: what prod's users are served. */
function liveImage(namespace: string): string {
    const revision = kubectlJson<{ spec: { selector: Record<string, string> } }>(cluster, ["get", "service", "web", "-n", namespace]).spec.selector["progression.dev/revision"];
    return kubectlJson(cluster, ["get", "deployment", `web-${revision}`, "-n", namespace]).spec.template.spec.containers[0].image as string;
}

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

const extraStacks: Stack[] = [];

async function stackFor(env: EnvironmentName, overrides: Record<string, unknown> = {}, opts: { stackName?: string; promotionKey?: string | null } = {}): Promise<Stack> {
    const stack = await prepareStack(ws, env, {
        cluster,
        smokeBaseUrl: `http://127.0.0.1:${ports[env]}`,
        secrets: secrets[env],
        // Three replicas in prod too: the rollouts stay short, and prod's minimum is three.
        overrides: { smokeDeadline: "6s", smokeInterval: "200ms", replicas: 3, ...overrides },
        ...(opts.stackName ? { stackName: opts.stackName } : {}),
        ...(opts.promotionKey !== undefined ? { promotionKey: opts.promotionKey } : {}),
    });
    if (opts.stackName) extraStacks.push(stack);
    else stacks[env] = stack;
    return stack;
}

/** A prod stack of its own, never deployed: each refusal case starts from nothing. */
const freshProd = (name: string, overrides: Record<string, unknown> = {}, opts: { promotionKey?: string | null } = {}) =>
    stackFor("prod", overrides, { stackName: name, ...opts });

/** staging's record as a staging that verified prod's committed config (and whose pods ran its digest) exports it, signed with the workspace's key. */
const stagingRecord = (changes: Parameters<typeof upstreamRecordFor>[3] = {}, key?: string) =>
    upstreamRecordFor(stackConfigWith("prod", { replicas: 3 }), "staging", key ?? ws.promotionKey, changes);

/** Nothing of the stack's in state but the stack and its reads, no Kubernetes object, no namespace. */
async function expectNothingCreated(stack: Stack): Promise<void> {
    const state = ((await stack.exportStack()).deployment.resources ?? []) as { type: string; external?: boolean }[];
    expect(state.filter((r) => r.type !== "pulumi:pulumi:Stack" && r.type !== "pulumi:providers:pulumi" && r.external !== true)).toEqual([]);
    expect(await kubernetesResources(stack)).toEqual([]);
    expect(namespaceExists("web-prod")).toBe(false);
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
        for (const stack of extraStacks) {
            await stack.destroy({ color: "never" }).catch(() => undefined);
            await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
        }
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
    it("a stack reads its own last outputs through a StackReference; one with none yet previews (staging's history below needs the read at up)", async () => {
        // Covered by every up below: each stack reads organization/env-progression/<itself>; here, before any up, the read of a
        // stack that has no outputs yet does not fail it.
        const dev = await stackFor("dev");
        const preview = await attempt(dev, "preview");
        expect(preview.ok, preview.output).toBe(true);
    });

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

    it("staging's up exports a record signed with the project's key: what ran, how it was verified, who ran it; and its history", async () => {
        expect((await attempt(stacks.dev!, "up")).ok).toBe(true);
        const up = await attempt(stacks.staging!, "up");
        expect(up.ok, up.output).toBe(true);
        const verified = up.outputs["verified"] as SignedVerifiedRecord;
        expect(verified).toEqual({
            format: 2,
            environment: "staging",
            project: "env-progression",
            image: VERIFIED,
            imageDigest: RAN,
            // The digest the reference pins, which the runtime verifies content by.
            ranDigest: RAN,
            manifestDigest: expect.stringMatching(/^[0-9a-f]{64}$/),
            featureFlags: { newCheckout: true, searchV2: false },
            env: { LOG_LEVEL: "info" },
            migrationImage: null,
            migrationCommand: null,
            migrationJobCommand: null,
            verification: { mode: "http", checksDigest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), passes: 3 },
            checks: ["healthz", "version", "db-status", "test-action"],
            passedAt: (up.outputs["smoke"] as { passedAt: string }).passedAt,
            trigger: (up.outputs["smoke"] as { trigger: string }).trigger,
            // The revision that went live, whose pods ran that digest.
            revision: (up.outputs["release"] as { live: string }).live,
            commit: expect.stringMatching(/^[0-9a-f]{40}(-dirty)?$/),
            actor: expect.any(String),
            runUrl: null,
            signature: expect.stringMatching(/^hmac-sha256:[0-9a-f]{64}$/),
        });
        expect(parseVerifiedRecord(verified, ws.promotionKey)).toEqual({ record: verified });
        expect(up.outputs["verifiedHistory"]).toEqual([verified]);
        expect(up.outputs["promotion"]).toMatchObject({ source: "organization/env-progression/dev", status: "verified" });
        // A second up that runs no checks keeps one entry: the history lists verifications, not updates.
        const again = await attempt(stacks.staging!, "up");
        expect(again.outputs["verifiedHistory"]).toEqual([verified]);
        // One whose checks run again on the same revision replaces that revision's record: the
        // history holds one record per revision that went live, the newest verification of each.
        const rerun = await attempt(await stackFor("staging", { smokeEveryUp: true }), "up");
        expect(rerun.ok, rerun.output).toBe(true);
        const newer = rerun.outputs["verified"] as SignedVerifiedRecord;
        expect(newer.passedAt > verified.passedAt).toBe(true);
        expect(newer.revision).toBe(verified.revision);
        expect(rerun.outputs["verifiedHistory"]).toEqual([newer]);
        // And again with the same config: every up runs them, though no input of the program changed.
        const third = await attempt(await stackFor("staging", { smokeEveryUp: true }), "up");
        expect(third.ok, third.output).toBe(true);
        expect((third.outputs["verified"] as SignedVerifiedRecord).passedAt > newer.passedAt).toBe(true);
        await stackFor("staging");
    });

    it("staging may not weaken its gate: smokeCommand (with FAIL=db behind it) is refused at staging's own preview", async () => {
        const weak = await stackFor("staging", { smokeCommand: "true", env: { LOG_LEVEL: "info", FAIL: "db" } }, { stackName: "staging-weak" });
        const r = await attempt(weak, "preview");
        expect(r.ok).toBe(false);
        expect(r.output).toContain('env-progression:smokeCommand: "true" replaces the HTTP smoke checks, and staging is verified by the project\'s standard HTTP checks only');
        expect(r.output).toContain("Fix: pulumi config rm smokeCommand -s staging-weak");
    });

    it("after staging's up fails its checks, staging's record is unchanged and prod refuses what failed", async () => {
        const before = (await outputsOf(stacks.staging!))["verified"] as SignedVerifiedRecord;
        await restartApp("staging", "db");
        const failed = await attempt(await stackFor("staging", { image: FAILED }), "up");
        expect(failed.ok).toBe(false);
        expect(failed.output).toMatch(/db-status/);
        // The engine keeps the outputs of the last successful update, and the record comes from the
        // smoke run's outputs, which only a passing run changes: staging still vouches for VERIFIED.
        expect((await outputsOf(stacks.staging!))["verified"]).toEqual(before);
        const r = await attempt(await freshProd("prod-failed", { image: FAILED }), "preview");
        expect(r.ok).toBe(false);
        expect(r.output).toContain(`prod-failed refuses to deploy what staging has not verified (promotion from ${STAGING}); nothing was created:`);
        expect(r.output).toContain(`image: prod-failed would run ${FAILED}, but staging's pods ran ${VERIFIED}`);
        await restartApp("staging");
        await stackFor("staging");
    });

    it("a foreign upstream: prod with promoteFrom dev is refused at preview, naming staging, and creates nothing", async () => {
        const prod = await freshProd("prod-foreign", { promoteFrom: "dev" });
        const r = await attempt(prod, "preview");
        expect(r.ok).toBe(false);
        expect(r.output).toContain(
            "prod-foreign may deploy only what staging of project env-progression verified (the environment table's upstream), but the record at organization/env-progression/dev was verified by dev. " +
                "Fix: pulumi config rm promoteFrom -s prod-foreign (promotes from staging of this project), or point promoteFrom at staging's stack; then pulumi up -s staging first",
        );
        await expectNothingCreated(prod);
    });

    it("a tag verified, a digest no pod ran pinned: refused at preview, naming the digest staging's pods ran", async () => {
        await seedVerified(ws, "staging", stagingRecord({ image: TAG, ranDigest: RAN }));
        const prod = await freshProd("prod-digest", { image: `${TAG}@${NEVER_RAN}` });
        const r = await attempt(prod, "preview");
        expect(r.ok).toBe(false);
        expect(r.output).toContain(
            `image: prod-digest would run ${TAG}@${NEVER_RAN}, but staging's pods ran ${TAG}@${RAN} (it verified ${TAG}, checks passed `,
        );
        expect(r.output).toContain(`Fix: deploy what staging ran: pulumi config set image ${TAG}@${RAN} -s prod-digest`);
        await expectNothingCreated(prod);
        // The digest staging's pods ran is what prod may pin.
        const ok = await attempt(await freshProd("prod-digest", { image: `${TAG}@${RAN}` }), "preview");
        expect(ok.ok, ok.output).toBe(true);
    });

    it("a weakened gate: a record of checks run by a command alone is refused at prod's preview", async () => {
        await seedVerified(ws, "staging", stagingRecord({ verification: { mode: "command", checksDigest: "sha256:" + "1".repeat(64), passes: 1 }, checks: ["command: true"], env: { LOG_LEVEL: "info", FAIL: "db" } }));
        const prod = await freshProd("prod-weak");
        const r = await attempt(prod, "preview");
        expect(r.ok).toBe(false);
        expect(r.output).toContain(
            'verification: staging was verified by a command alone (smokeCommand; checks ["command: true"]), whose exit status says nothing about what it tested; ' +
                "prod-weak needs staging to have passed the project's standard HTTP checks. Fix: pulumi config rm smokeCommand -s staging && pulumi up -s staging",
        );
        expect(r.output).toContain("env.FAIL must match in staging and prod, but staging (verified) has db, prod-weak has (unset)");
        await expectNothingCreated(prod);
    });

    it("a record edited with pulumi stack export/import is refused before anything is compared; so is one signed with another key", async () => {
        await seedVerified(ws, "staging", stagingRecord());
        const staging = stacks.staging!;
        const state = await staging.exportStack();
        const root = (state.deployment.resources as { type: string; outputs: { verified: Record<string, unknown> } }[]).find((r) => r.type === "pulumi:pulumi:Stack")!;
        root.outputs.verified = { ...root.outputs.verified, image: UNVERIFIED, imageDigest: UNVERIFIED.slice(UNVERIFIED.indexOf("@") + 1), ranDigest: UNVERIFIED.slice(UNVERIFIED.indexOf("@") + 1) };
        await staging.importStack(state);
        const prod = await freshProd("prod-forged", { image: UNVERIFIED });
        const r = await attempt(prod, "preview");
        expect(r.ok).toBe(false);
        expect(r.output).toContain(
            "its verified record's signature does not match its content under this stack's promotionKey (the record was edited after it was signed, e.g. in exported state, or it was signed with another key)",
        );
        expect(r.output).toContain('Fix: make sure every stack of the project holds the same promotionKey (pulumi config set --secret promotionKey "<the project\'s key>" -s staging)');
        await expectNothingCreated(prod);
        await seedVerified(ws, "staging", signRecord(stagingRecord({ image: UNVERIFIED, ranDigest: UNVERIFIED.slice(UNVERIFIED.indexOf("@") + 1) }), OTHER_KEY));
        const other = await attempt(prod, "preview");
        expect(other.ok).toBe(false);
        expect(other.output).toContain("its verified record's signature does not match its content under this stack's promotionKey");
    });

    it("a record older than promotionMaxAge is refused with the fix; a stack without promotionKey is refused naming how to set it", async () => {
        await seedVerified(ws, "staging", stagingRecord({ passedAt: new Date(Date.now() - 40 * DAY).toISOString() }));
        const r = await attempt(await freshProd("prod-stale"), "preview");
        expect(r.ok).toBe(false);
        expect(r.output).toMatch(/staging's record is 40(\.0)?d old \(checks passed [^)]+\), older than promotionMaxAge 30d/);
        expect(r.output).toContain("Fix: run staging's checks again, so it exports a fresh record: pulumi config set smokeEveryUp true -s staging && pulumi up -s staging");
        const keyless = await attempt(await freshProd("prod-keyless", {}, { promotionKey: null }), "preview");
        expect(keyless.ok).toBe(false);
        expect(keyless.output).toContain("promotionKey");
    });

    it("prod refuses an image staging never verified, at preview and at up, naming both, and creates nothing", async () => {
        await seedVerified(ws, "staging", stagingRecord());
        const prod = await stackFor("prod", { image: UNVERIFIED });
        for (const op of ["preview", "up"] as const) {
            const r = await attempt(prod, op);
            expect(r.ok, op).toBe(false);
            expect(r.output).toContain(`prod refuses to deploy what staging has not verified (promotion from ${STAGING}); nothing was created:`);
            expect(r.output).toContain(`image: prod would run ${UNVERIFIED}, but staging's pods ran ${VERIFIED} (it verified ${VERIFIED}, checks passed `);
            expect(r.output).toContain(
                `Fix: deploy what staging ran: pulumi config set image ${VERIFIED} -s prod; or verify it in staging first: pulumi config set image ${UNVERIFIED} -s staging && pulumi up -s staging`,
            );
        }
        // The state holds the stack itself and its reads (of staging and of itself), nothing it created.
        await expectNothingCreated(prod);
        expect(((await prod.exportStack()).deployment.resources as { type: string; external?: boolean }[]).filter((r) => r.type === "pulumi:pulumi:StackReference").every((r) => r.external === true)).toBe(true);
    });

    it("prod refuses a flag that is on in staging and off in prod, at preview", async () => {
        const prod = await stackFor("prod", { featureFlags: { newCheckout: false, searchV2: false } });
        const r = await attempt(prod, "preview");
        expect(r.ok).toBe(false);
        expect(r.output).toContain("featureFlags.newCheckout must match in staging and prod, but staging (verified) has true, prod has false");
        expect(r.output).toContain("Fix: pulumi config set --path 'featureFlags.newCheckout' true -s prod, or allow the difference in parity-rules.json");
    });

    it("prod accepts what staging verified and ran, and its promotion output names the record and who produced it", async () => {
        const record = stagingRecord();
        await seedVerified(ws, "staging", record);
        const up = await attempt(await stackFor("prod"), "up");
        expect(up.ok, up.output).toBe(true);
        expect(up.outputs["promotion"]).toEqual({
            source: STAGING,
            status: "verified",
            override: null,
            overridden: [],
            checkedAgainst: {
                origin: "staging",
                environment: "staging",
                passedAt: record.passedAt,
                trigger: record.trigger,
                image: VERIFIED,
                ranDigest: RAN,
                revision: record.revision,
                commit: record.commit,
                actor: record.actor,
                runUrl: null,
            },
        });
        expect((up.outputs["verified"] as SignedVerifiedRecord).image).toBe(VERIFIED);
        expect(liveImage("web-prod")).toBe(VERIFIED);
    });

    it("an override lets its one digest through, warned, exported, and reported by the policy pack as advisory; another digest is refused", async () => {
        const digest = FAILED.slice(FAILED.indexOf("@") + 1);
        const override = { reason: REASON, digest, expires: new Date(Date.now() + DAY).toISOString() };
        const other = await attempt(await stackFor("prod", { image: UNVERIFIED, promotionOverride: override }), "preview");
        expect(other.ok).toBe(false);
        expect(other.output).toContain(`The override does not apply: promotionOverride names ${digest}, but prod would run ${UNVERIFIED.slice(UNVERIFIED.indexOf("@") + 1)}`);
        const prod = await stackFor("prod", { image: FAILED, promotionOverride: override });
        const up = await attempt(prod, "up");
        expect(up.ok, up.output).toBe(true);
        expect(up.output).toContain(`PROMOTION OVERRIDDEN for prod ("${REASON}", digest ${digest}, until ${override.expires}): deploying what staging did not verify:`);
        expect(up.outputs["promotion"]).toMatchObject({
            source: STAGING,
            status: "overridden",
            override,
            overridden: [expect.stringContaining(`image: prod would run ${FAILED}`)],
        });
        expect(liveImage("web-prod")).toBe(FAILED);
        const preview = await attempt(prod, "preview", { policyPack: true });
        expect(preview.ok, preview.output).toBe(true);
        expect(preview.output).toMatch(/\[advisory\].*promotion-override/);
        expect(preview.output).toContain(`prod deploys with env-progression:promotionOverride (reason "${REASON}", digest ${digest}, expires ${override.expires})`);
    });

    it("prod goes back to what staging verified before, from staging's verifiedHistory, without an override", async () => {
        const earlier = stagingRecord({ passedAt: new Date(Date.now() - 3 * DAY).toISOString() });
        const current = stagingRecord({ image: UNVERIFIED, ranDigest: UNVERIFIED.slice(UNVERIFIED.indexOf("@") + 1) });
        await seedVerified(ws, "staging", current, { verifiedHistory: [current, earlier] });
        const back = await attempt(await freshProd("prod-back"), "preview");
        expect(back.ok, back.output).toBe(true);
    });

    it("prod goes back to what it verified itself, from its own verifiedHistory, without an override", async () => {
        // prod's last record is FAILED's (overridden); its history still holds VERIFIED's, and staging now vouches for neither.
        await seedVerified(ws, "staging", stagingRecord({ image: UNVERIFIED, ranDigest: UNVERIFIED.slice(UNVERIFIED.indexOf("@") + 1) }));
        const history = (await outputsOf(stacks.prod!))["verifiedHistory"] as SignedVerifiedRecord[];
        expect(history.map((r) => [r.environment, r.image, r.ranDigest])).toEqual([
            ["prod", FAILED, FAILED.slice(FAILED.indexOf("@") + 1)],
            ["prod", VERIFIED, RAN],
        ]);
        const up = await attempt(await stackFor("prod", { promotionOverride: undefined }), "up");
        expect(up.ok, up.output).toBe(true);
        expect(up.outputs["promotion"]).toMatchObject({ status: "verified", checkedAgainst: { origin: "prod's own verifiedHistory[1]", environment: "prod", image: VERIFIED } });
        expect(liveImage("web-prod")).toBe(VERIFIED);
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
        // The one key every stack shares is held the same everywhere: no violation.
        expect(text.stdout).toMatch(/\npromotionKey +must-match +<secret> +<secret> +<secret> +same\n/);
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
        expect(all.includes(ws.promotionKey), "the promotionKey was printed").toBe(false);
    });
});
