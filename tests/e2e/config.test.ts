// The config edge and secrets under the real engine (the Pulumi CLI of toolchain/versions.env): what the engine itself
// checks before the program runs (Pulumi.yaml's declarations), what the program's one report
// says, and that state keeps no credential of the kubeconfig. Own cluster, torn down in afterAll.
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, clusterDown, clusterUp, prepareStack, type RunningApp, startApp, useToolchain, type Workspace, workspace } from "../../tests/harness/local";

const CLUSTER = `progression-e2e-config-${process.pid}`;
let tmp: string;
let ws: Workspace;
const stacks: Stack[] = [];

/** A stack whose file is exactly `config` (keys without the namespace), plus secrets set encrypted: the workspace's promotionKey unless `secrets` says (null leaves one unset). */
async function rawStack(name: string, config: Record<string, unknown>, given: Record<string, string | null> = {}): Promise<Stack> {
    const secrets = Object.fromEntries(Object.entries({ promotionKey: ws.promotionKey, ...given }).filter((e): e is [string, string] => e[1] !== null));
    const stack = await LocalWorkspace.createOrSelectStack({ stackName: name, workDir: ws.projectDir }, { envVars: ws.envVars });
    stacks.push(stack);
    const file = path.join(ws.projectDir, `Pulumi.${name}.yaml`);
    const existing = (parse(fs.readFileSync(file, "utf8")) ?? {}) as Record<string, unknown>;
    const doc = { ...(existing["encryptionsalt"] ? { encryptionsalt: existing["encryptionsalt"] } : {}), config: Object.fromEntries(Object.entries(config).map(([k, v]) => [`env-progression:${k}`, v])) };
    fs.writeFileSync(file, stringify(doc));
    await stack.setAllConfig(Object.fromEntries(Object.entries(secrets).map(([k, v]) => [`env-progression:${k}`, { value: v, secret: true }])));
    return stack;
}

/** Text written verbatim into the stack file (for YAML the engine would reinterpret). */
function appendToStackFile(name: string, text: string): void {
    fs.appendFileSync(path.join(ws.projectDir, `Pulumi.${name}.yaml`), text);
}

async function previewError(stack: Stack): Promise<string> {
    try {
        await stack.preview({ color: "never" });
    } catch (err) {
        return String((err as Error).message);
    }
    throw new Error(`preview of ${stack.name} succeeded`);
}

const SECRETS = { DATABASE_URL: "postgres://app:pw@db.dev.internal:5432/app", API_TOKEN: "tok" };
const DEV = {
    environment: "dev",
    kubeContext: "dev",
    replicas: "1",
    smokeBaseUrl: "https://dev.web.example.com",
    smokePreviewUrl: "https://preview.dev.web.example.com",
    secretEnv: ["DATABASE_URL", "API_TOKEN"],
};

beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "progression-e2e-config-"));
    const toolEnv = useToolchain();
    const home = path.join(tmp, "pulumi-home");
    fs.mkdirSync(home);
    if (toolEnv["PULUMI_HOME"]) fs.symlinkSync(path.join(toolEnv["PULUMI_HOME"], "plugins"), path.join(home, "plugins"));
    ws = workspace(tmp, { PATH: process.env["PATH"] ?? "", PULUMI_HOME: home });
});

afterAll(async () => {
    for (const stack of stacks.reverse()) {
        await stack.destroy({ color: "never" }).catch(() => undefined);
        await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
    }
    fs.rmSync(tmp, { recursive: true, force: true });
});

describe("config under the real engine, before any resource", () => {
    it("reports a missing image in the program's one report with its fix, not as the engine's bare error; env and featureFlags may be omitted", async () => {
        const out = await previewError(await rawStack("dev", DEV, SECRETS));
        expect(out).not.toContain("missing configuration value");
        expect(out).toContain("stack 'dev' has 1 configuration problem:");
        expect(out).toContain("env-progression:image is required and missing. Allowed: an image reference such as registry/app:1.2.3 or registry/app@sha256:<digest>. Fix: pulumi config set image registry.example.com/app:1.2.3 -s dev");
    });

    it("reports every problem together, each named by its key, before registering anything", async () => {
        const stack = await rawStack("dev-many", { ...DEV, environment: "dev", allowStackMismatch: true, image: "web:1", smokeDeadline: "120m", cpuRequest: "2", egress: [":::/8"] }, SECRETS);
        const out = await previewError(stack);
        expect(out).toContain("stack 'dev-many' has 3 configuration problems:");
        for (const key of ["cpuRequest", "egress", "smokeDeadline"]) expect(out).toContain(`- env-progression:${key}:`);
        expect(out).not.toContain("__pulumiResourceError");
    });

    it("validates replicas as the stack file writes it: 0x10 is not 16", async () => {
        const { replicas: _replicas, ...rest } = DEV;
        await rawStack("dev-hex", { ...rest, allowStackMismatch: true, image: "web:1" }, SECRETS);
        appendToStackFile("dev-hex", "  env-progression:replicas: 0x10\n");
        const stack = await LocalWorkspace.selectStack({ stackName: "dev-hex", workDir: ws.projectDir }, { envVars: ws.envVars });
        expect(await previewError(stack)).toContain('env-progression:replicas: "0x10" is not allowed.');
    });

    it("leaves a plaintext secret to the engine, which refuses it (Pulumi.yaml: secret: true)", async () => {
        const stack = await rawStack("dev-plain", { ...DEV, allowStackMismatch: true, image: "web:1", DATABASE_URL: "postgres://plain" }, { API_TOKEN: "tok" });
        expect(await previewError(stack)).toContain("Stack 'dev-plain' with configuration key 'DATABASE_URL' must be encrypted as it's secret");
    });

    it("has the engine require every declared secret on every stack, whatever its secretEnv lists", async () => {
        const stack = await rawStack("dev-nosecrets", { ...DEV, allowStackMismatch: true, image: "web:1", secretEnv: [] });
        expect(await previewError(stack)).toContain("Stack 'dev-nosecrets' is missing configuration values 'API_TOKEN' and 'DATABASE_URL'");
    });

    it("has the engine require the promotionKey, and the program refuse a short one with how to make one", async () => {
        const keyless = await rawStack("dev-nokey", { ...DEV, allowStackMismatch: true, image: "web:1" }, { ...SECRETS, promotionKey: null });
        expect(await previewError(keyless)).toContain("Stack 'dev-nokey' is missing configuration value 'promotionKey'");
        const short = await rawStack("dev-shortkey", { ...DEV, allowStackMismatch: true, image: "web:1" }, { ...SECRETS, promotionKey: "too-short-a-key" });
        const out = await previewError(short);
        expect(out).toContain("env-progression:promotionKey is 15 characters (its value is not shown); a short key can be guessed, and then records forged.");
        expect(out).toContain('pulumi config set --secret promotionKey "$(openssl rand -base64 32)" -s dev-shortkey');
        expect(out).not.toContain("too-short-a-key");
    });

    it("says plainly that a setting stored with --secret cannot stay secret", async () => {
        const { smokeBaseUrl: _url, ...rest } = DEV;
        const stack = await rawStack("dev-secret-url", { ...rest, allowStackMismatch: true, image: "web:1" }, { ...SECRETS, smokeBaseUrl: "https://dev.web.example.com" });
        expect(await previewError(stack)).toContain("env-progression:smokeBaseUrl is stored as a secret, but it is a setting");
    });
});

describe("state keeps no credential of the kubeconfig", () => {
    let cluster: Cluster;
    let app: RunningApp;
    const canary = `leak-canary-${crypto.randomBytes(8).toString("hex")}`;

    beforeAll(async () => {
        cluster = clusterUp(CLUSTER, path.join(tmp, "kubeconfig"));
        const port = await new Promise<number>((resolve) => {
            const s = net.createServer().listen(0, "127.0.0.1", () => {
                const { port: p } = s.address() as net.AddressInfo;
                s.close(() => resolve(p));
            });
        });
        app = await startApp({ port, logFile: path.join(tmp, "app.log") });
    });
    afterAll(async () => {
        try {
            for (const stack of stacks.reverse()) {
                await stack.destroy({ color: "never" }).catch(() => undefined);
                await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
            }
            stacks.length = 0;
        } finally {
            await app?.stop();
            if (cluster) clusterDown(CLUSTER, cluster.kubeconfig);
        }
    });

    it("keeps the provider's and the live switch's kubeconfig secret, with only the stack's context, and a check header's secret", async () => {
        // The cluster's kubeconfig, its user given a token too (the API server authenticates the
        // client certificate first), plus another environment's context whose user has a token, as
        // a real kubeconfig with several clusters does.
        const ownToken = `own-token-${crypto.randomBytes(8).toString("hex")}`;
        const doc = parse(fs.readFileSync(cluster.kubeconfig, "utf8")) as Record<string, any[]>;
        const ownUserName = doc["contexts"]!.find((c) => c.name === cluster.context)!.context.user as string;
        doc["users"] = (doc["users"] ?? []).map((u) => (u.name === ownUserName ? { ...u, user: { ...u.user, token: ownToken } } : u));
        doc["clusters"]!.push({ name: "other-cluster", cluster: { server: "https://10.255.0.1:6443" } });
        doc["users"].push({ name: "other-admin", user: { token: canary } });
        doc["contexts"]!.push({ name: "other", context: { cluster: "other-cluster", user: "other-admin" } });
        const kubeconfig = path.join(tmp, "kubeconfig-with-token");
        fs.writeFileSync(kubeconfig, stringify(doc));

        // A check sending the API token, referenced from the stack's secrets.
        const apiToken = `api-token-${crypto.randomBytes(8).toString("hex")}`;
        const checks = path.join(tmp, "checks.json");
        fs.writeFileSync(checks, JSON.stringify({ includeDefaults: true, checks: [{ name: "authorized", path: "/healthz", headers: { Authorization: { secret: "API_TOKEN" } } }] }));

        const stack = await prepareStack(ws, "dev", {
            cluster: { ...cluster, kubeconfig },
            stackName: "dev-state",
            smokeBaseUrl: app.url,
            secrets: { ...SECRETS, API_TOKEN: apiToken },
            overrides: { namespace: "web-dev-state", smokeDeadline: "20s", smokeChecksFile: checks },
        });
        stacks.push(stack);
        await stack.up({ color: "never" });

        // What anyone with the state file sees: `pulumi stack export` (the Automation API's
        // exportStack shows secrets decrypted, so the CLI is asked directly).
        const exportStack = (...flags: string[]) =>
            execFileSync("pulumi", ["stack", "export", "-s", "dev-state", ...flags], { cwd: ws.projectDir, env: { ...process.env, ...ws.envVars }, encoding: "utf8" });
        const exported = exportStack();
        for (const credential of [canary, ownToken, apiToken]) expect(exported).not.toContain(credential);
        type State = { deployment: { resources: { type: string; inputs: Record<string, unknown>; outputs: Record<string, unknown> }[] } };
        const resources = (JSON.parse(exported) as State).deployment.resources;
        const secretInState = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ciphertext: expect.any(String) };
        const provider = resources.find((r) => r.type === "pulumi:providers:kubernetes")!;
        const smokeRun = resources.find((r) => r.type === "pulumi-nodejs:dynamic/progression:SmokeRun")!;
        for (const where of ["inputs", "outputs"] as const) {
            expect(provider[where]["kubeconfig"], `provider ${where}.kubeconfig`).toMatchObject(secretInState);
            expect(smokeRun[where]["checks"], `smoke run ${where}.checks`).toMatchObject(secretInState);
        }
        // The live switch talks to the cluster itself and runs the checks once more on the live
        // route: its kubeconfig is secret, and so is its check, which carries the header.
        const liveSwitch = resources.find((r) => r.type === "pulumi-nodejs:dynamic/progression:LiveSwitch")!;
        expect(liveSwitch.inputs["kubeconfig"], "live switch inputs.kubeconfig").toMatchObject(secretInState);
        expect(liveSwitch.inputs["check"], "live switch inputs.check").toMatchObject(secretInState);
        expect(liveSwitch.outputs["live"], "the switch ran").toMatch(/^[0-9a-f]{10}$/);
        // Decrypted, the provider's kubeconfig holds the stack's context alone, with its own user.
        const shown = (JSON.parse(exportStack("--show-secrets")) as State).deployment.resources;
        // Shown, a secret is {<signature>, plaintext: <the value as JSON>}.
        const shownKubeconfig = shown.find((r) => r.type === "pulumi:providers:kubernetes")!.inputs["kubeconfig"] as { plaintext: string };
        const decrypted = parse(JSON.parse(shownKubeconfig.plaintext) as string) as Record<string, { name: string }[]>;
        expect(decrypted["contexts"]!.map((c) => c.name)).toEqual([cluster.context]);
        expect(decrypted["users"]!.map((u) => u.name)).toEqual([ownUserName]);
        const shownSwitch = shown.find((r) => r.type === "pulumi-nodejs:dynamic/progression:LiveSwitch")!.inputs["kubeconfig"] as { plaintext: string };
        const switchConfig = parse(JSON.parse(shownSwitch.plaintext) as string) as Record<string, { name: string }[]>;
        expect(switchConfig["contexts"]!.map((c) => c.name)).toEqual([cluster.context]);
        expect(switchConfig["users"]!.map((u) => u.name)).toEqual([ownUserName]);
        expect(JSON.stringify(shown)).not.toContain(canary);
    });
});
