// The local progression: the real Pulumi engine (built by toolchain/toolchain.sh), a local control
// plane with a real node or simulated ones (cluster/cluster.sh), a file state backend, and each
// environment's smoke target. `npm run demo` drives it; the end-to-end suite reuses every piece.
//
// The committed stack files are never rewritten: each run lays out a project directory under
// .local/ whose Pulumi.yaml points `main` back at this repository, and whose stack files are the
// committed ones plus local values (context, image, smoke URL, generated secrets).
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { parse, stringify } from "yaml";
import { ENVIRONMENTS, type EnvironmentName } from "../../config/environments";

export const REPO = path.resolve(__dirname, "../..");

/** `export K=V` lines from `toolchain/toolchain.sh --print-env`, applied to this process. */
export function useToolchain(): Record<string, string> {
    const out = execFileSync(path.join(REPO, "toolchain", "toolchain.sh"), ["--print-env"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    const env: Record<string, string> = {};
    for (const line of out.split("\n")) {
        const m = /^export ([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
        if (!m) continue;
        // Values are single-quoted or bare; expand $PATH the way the shell would.
        const value = m[2]!.replace(/^'(.*)'$/, "$1").replace(/^"(.*)"$/, "$1").replace(/\$\{?PATH\}?/g, process.env["PATH"] ?? "");
        env[m[1]!] = value;
        process.env[m[1]!] = value;
    }
    return env;
}

/** Where toolchain/toolchain.sh and cluster/cluster.sh keep their files. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
    return env["PROGRESSION_CACHE"] ?? path.join(env["XDG_CACHE_HOME"] ?? path.join(env["HOME"] ?? os.homedir(), ".cache"), "env-progression");
}

/** The images cluster/images.sh built and imported into the real node, as name:tag@sha256:digest. */
export interface LocalImages {
    /** The reference app (app/), Node from the npm registry. */
    readonly web: string;
    /** The same layers, exiting at start: a rollout that never becomes ready. */
    readonly "web-crash": string;
    /** The same layers, listening on 8081 whatever port it is given: readiness never passes. */
    readonly "web-wrong-port": string;
    /** The same layers, writing to its root filesystem first: fails under a read-only root. */
    readonly "web-writes-root": string;
    /** Node plus the ingress proxy and the connectivity probe (cluster/pods). */
    readonly tools: string;
    readonly coredns: string;
    readonly pause: string;
}

/** The real node's fixed addresses (cluster/cluster.sh). */
export const REAL_NODE = {
    nodeAddress: "198.18.0.1",
    podCidr: "198.18.0.0/24",
    serviceCidr: "198.19.0.0/16",
    dnsServiceIp: "198.19.0.10",
    /** The in-cluster ingress proxy's Service, reachable from this machine. */
    ingressUrl: "http://198.19.0.80",
    ingressNamespace: "ingress-nginx",
} as const;

export type NodeMode = "real" | "simulated";

export interface Cluster {
    readonly name: string;
    readonly kubeconfig: string;
    readonly context: string;
    readonly server: string;
    /** Real pods on a real node, or simulated ones (no container runs). */
    readonly mode: NodeMode;
    /** The node's images, in real mode. */
    readonly images?: LocalImages;
}

/**
 * Starts (or finds running, or restarts the stopped parts of) the local cluster `name`.
 * `nodes`: "real" fails when this machine cannot run the node; "auto" falls back to simulated
 * nodes, saying why. @default "simulated" - the fast mode, where pods are only simulated.
 */
export function clusterUp(name: string, kubeconfig: string, opts: { nodes?: NodeMode | "auto" } = {}): Cluster {
    const nodes = opts.nodes ?? "simulated";
    clusterScript(["up", ...(nodes === "auto" ? [] : [`--${nodes}`])], { ...process.env, PROGRESSION_CLUSTER: name, PROGRESSION_KUBECONFIG: kubeconfig, PROGRESSION_NODES: "auto" });
    const doc = parse(fs.readFileSync(kubeconfig, "utf8")) as {
        "current-context": string;
        contexts: { name: string; context: { cluster: string } }[];
        clusters: { name: string; cluster: { server: string } }[];
    };
    const context = doc["current-context"];
    const cluster = doc.contexts.find((c) => c.name === context)!.context.cluster;
    const dir = path.join(cacheDir(), "clusters", name);
    const mode = fs.readFileSync(path.join(dir, "mode"), "utf8").trim() === "real" ? "real" : "simulated";
    const images = mode === "real" ? (JSON.parse(fs.readFileSync(path.join(dir, "images.json"), "utf8")) as LocalImages) : undefined;
    return { name, kubeconfig, context, server: doc.clusters.find((c) => c.name === cluster)!.cluster.server, mode, ...(images ? { images } : {}) };
}

/** Deletes the cluster and undoes the node's changes; `purge` also removes the node's data (containerd's images). */
export function clusterDown(name: string, kubeconfig: string, opts: { purge?: boolean } = {}): void {
    clusterScript(["down", ...(opts.purge ? ["--purge"] : [])], { ...process.env, PROGRESSION_CLUSTER: name, PROGRESSION_KUBECONFIG: kubeconfig });
}

/** cluster/cluster.sh failed; it printed one line with the reason and the fix. */
export class ClusterScriptError extends Error {
    constructor(readonly args: readonly string[], readonly status: number | null) {
        super(`cluster/cluster.sh ${args.join(" ")} failed (exit ${String(status)}); the line above says why and how to fix it`);
        this.name = "ClusterScriptError";
    }
}

function clusterScript(args: string[], env: NodeJS.ProcessEnv): void {
    const run = spawnSync(path.join(REPO, "cluster", "cluster.sh"), args, { stdio: ["ignore", "inherit", "inherit"], env });
    if (run.error) throw run.error;
    if (run.status !== 0) throw new ClusterScriptError(args, run.status);
}

/** `cluster/cluster.sh status`: each part and whether it runs; ok is false when one is down. */
export function clusterStatus(name: string, kubeconfig: string): { ok: boolean; text: string } {
    const run = spawnSync(path.join(REPO, "cluster", "cluster.sh"), ["status"], {
        encoding: "utf8",
        env: { ...process.env, PROGRESSION_CLUSTER: name, PROGRESSION_KUBECONFIG: kubeconfig },
    });
    return { ok: run.status === 0, text: `${run.stdout}${run.stderr}` };
}

/** Where the smoke checks reach an app on the real node: through the ingress proxy to its Service. */
export function ingressUrl(namespace: string, service = "web", port = 8080): string {
    return `${REAL_NODE.ingressUrl}/${namespace}/${service}:${port}`;
}

/**
 * Stack values that fit an environment to the real node: the app image the node holds, and
 * requests scaled to a 2-core machine (prod asks 250m CPU per replica, 12.5 cores for 50; 10m
 * each lets all 54 pods schedule while limits stay as configured).
 */
export function realNodeOverrides(cluster: Cluster, image: keyof LocalImages = "web"): Record<string, unknown> {
    if (!cluster.images) throw new Error(`cluster ${cluster.name} runs simulated nodes; it has no images`);
    return { image: cluster.images[image], cpuRequest: "10m", memoryRequest: "64Mi" };
}

/** kubectl against a cluster, parsed from JSON. */
export function kubectlJson<T = any>(cluster: Cluster, args: string[]): T {
    const out = execFileSync("kubectl", ["--kubeconfig", cluster.kubeconfig, "--context", cluster.context, ...args, "-o", "json"], { encoding: "utf8" });
    return JSON.parse(out) as T;
}

export interface RunningApp {
    readonly url: string;
    readonly pid: number;
    stop(): Promise<void>;
}

/**
 * Starts the reference app on 127.0.0.1 (`fail` as in `app/server.ts --fail`). With `pidFile`,
 * the app outlives this process (the demo leaves it running for curl); without, it is a child.
 */
export async function startApp(opts: { port: number; fail?: string; version?: string; pidFile?: string; logFile?: string }): Promise<RunningApp> {
    const args = [path.join(REPO, "app", "server.ts"), "--host", "127.0.0.1", "--port", String(opts.port)];
    if (opts.fail) args.push("--fail", opts.fail);
    if (opts.version) args.push("--version", opts.version);
    const detached = opts.pidFile !== undefined;
    const log = opts.logFile ? fs.openSync(opts.logFile, "a") : "ignore";
    const child: ChildProcess = spawn(process.execPath, args, { detached, stdio: ["ignore", log, log] });
    if (detached) {
        child.unref();
        fs.writeFileSync(opts.pidFile!, String(child.pid));
    }
    const url = `http://127.0.0.1:${opts.port}`;
    await waitForPort(opts.port, 10_000);
    return {
        url,
        pid: child.pid!,
        stop: async () => {
            try {
                process.kill(child.pid!, "SIGTERM");
            } catch {
                return;
            }
            await new Promise((r) => setTimeout(r, 100));
        },
    };
}

/** Stops an app started with a pid file, if it is still running. */
export function stopApp(pidFile: string): void {
    if (!fs.existsSync(pidFile)) return;
    const pid = Number(fs.readFileSync(pidFile, "utf8"));
    try {
        process.kill(pid, "SIGTERM");
    } catch {
        /* already gone */
    }
    fs.rmSync(pidFile, { force: true });
}

export function waitForPort(port: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
        const attempt = () => {
            const socket = net.connect({ host: "127.0.0.1", port });
            socket.once("connect", () => {
                socket.destroy();
                resolve();
            });
            socket.once("error", () => {
                socket.destroy();
                if (Date.now() > deadline) reject(new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs}ms`));
                else setTimeout(attempt, 100);
            });
        };
        attempt();
    });
}

export interface Workspace {
    /** Directory holding the generated Pulumi.yaml and stack files. */
    readonly projectDir: string;
    /** file:// state backend directory. */
    readonly stateDir: string;
    readonly envVars: Record<string, string>;
    /** The project's promotionKey: one for every stack of this workspace, set by prepareStack. */
    readonly promotionKey: string;
}

/**
 * Lays out a project directory whose program is this repository, a file backend, a passphrase
 * and a promotionKey (each generated once and kept, so re-runs can decrypt and verify).
 */
export function workspace(dir: string, extraEnv: Record<string, string> = {}): Workspace {
    const projectDir = path.join(dir, "project");
    const stateDir = path.join(dir, "state");
    fs.mkdirSync(projectDir, { recursive: true });
    fs.mkdirSync(stateDir, { recursive: true });
    const project = parse(fs.readFileSync(path.join(REPO, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
    project["main"] = path.relative(projectDir, REPO) || ".";
    // A path in nodeargs is relative to the program's directory, where the language host starts
    // Node: made absolute, it still names the repository's file when a test points main elsewhere.
    const options = (project["runtime"] as { options?: Record<string, unknown> } | undefined)?.options;
    if (typeof options?.["nodeargs"] === "string") {
        options["nodeargs"] = options["nodeargs"]
            .split(/\s+/)
            .map((arg) => (arg.startsWith("./") ? path.join(REPO, arg) : arg))
            .join(" ");
    }
    fs.writeFileSync(path.join(projectDir, "Pulumi.yaml"), `# Generated by tests/harness/local.ts from ${path.join(REPO, "Pulumi.yaml")}; do not edit.\n${stringify(project)}`);
    const passphraseFile = path.join(dir, "passphrase");
    if (!fs.existsSync(passphraseFile)) fs.writeFileSync(passphraseFile, crypto.randomBytes(24).toString("base64url"), { mode: 0o600 });
    return {
        projectDir,
        stateDir,
        promotionKey: localPromotionKey(path.join(dir, "promotion-key")),
        envVars: {
            PULUMI_BACKEND_URL: `file://${stateDir}`,
            PULUMI_CONFIG_PASSPHRASE_FILE: passphraseFile,
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            ...extraEnv,
        },
    };
}

/** Drops the stacks' state (and their local stack files); the cluster's objects are not touched. */
export async function forgetStacks(ws: Workspace, names: readonly string[]): Promise<void> {
    const w = await LocalWorkspace.create({ workDir: ws.projectDir, envVars: ws.envVars });
    const known = new Set((await w.listStacks()).map((s) => s.name));
    for (const name of names) if (known.has(name)) await w.removeStack(name, { force: true });
}

/**
 * The preview route that goes with a live route: through the ingress proxy, the preview Service
 * (`<service>-preview`) in place of the live one; for a reference app on the host (simulated
 * pods), the same app under /preview, which it serves alike.
 */
export function previewRoute(liveUrl: string): string {
    const url = new URL(liveUrl);
    const m = /^\/([a-z0-9-]+)\/([a-z0-9-]+):(\d+)\/?$/.exec(url.pathname);
    if (m) return `${url.origin}/${m[1]}/${m[2]}-preview:${m[3]}`;
    return `${url.origin}${url.pathname.replace(/\/$/, "")}/preview`;
}

/** Local values layered over a committed stack file. */
export interface LocalStackValues {
    readonly cluster: Cluster;
    readonly smokeBaseUrl: string;
    /** Where the checks reach the candidate. @default - previewRoute(smokeBaseUrl) */
    readonly smokePreviewUrl?: string;
    /** Extra config (key without namespace -> value). */
    readonly overrides?: Record<string, unknown>;
    /** Plain env vars added to the committed stack's `env` map (e.g. the app's FAIL switch). */
    readonly extraEnv?: Record<string, string>;
    /** Secret values by key, set encrypted. */
    readonly secrets: Record<string, string>;
    /** Stack name. @default - the environment's name */
    readonly stackName?: string;
    /** The promotionKey to set; null leaves it unset (to see the program refuse). @default - the workspace's */
    readonly promotionKey?: string | null;
}

/**
 * The encryption salt of another stack file in `projectDir`, for a new stack there to share.
 *
 * The passphrase secrets manager derives its key from the passphrase and the stack's salt with a
 * million rounds of PBKDF2 (about 0.2 s), once per salt in each engine run. The local stacks share
 * one passphrase, so one salt gives them the same key and nothing weaker: an `up` that reads its
 * upstream's record then derives one key, not two. Undefined when no sibling has a salt.
 */
export function siblingSalt(projectDir: string, stackFile: string): string | undefined {
    for (const name of fs.readdirSync(projectDir).sort()) {
        const file = path.join(projectDir, name);
        if (!/^Pulumi\.[^.]+\.yaml$/.test(name) || file === stackFile) continue;
        const salt = (parse(fs.readFileSync(file, "utf8")) as Record<string, unknown> | null)?.["encryptionsalt"];
        if (typeof salt === "string" && salt !== "") return salt;
    }
    return undefined;
}

/** Creates or selects the stack and writes its config: the committed file plus local values. */
export async function prepareStack(ws: Workspace, environment: EnvironmentName, values: LocalStackValues): Promise<Stack> {
    const stackName = values.stackName ?? environment;
    const file = path.join(ws.projectDir, `Pulumi.${stackName}.yaml`);
    if (!fs.existsSync(file)) {
        // `pulumi stack init` keeps a salt already in the stack file.
        const salt = siblingSalt(ws.projectDir, file);
        if (salt !== undefined) fs.writeFileSync(file, stringify({ encryptionsalt: salt }));
    }
    const stack = await LocalWorkspace.createOrSelectStack({ stackName, workDir: ws.projectDir }, { envVars: ws.envVars });
    const committed = parse(fs.readFileSync(path.join(REPO, `Pulumi.${environment}.yaml`), "utf8")) as { config: Record<string, unknown> };
    const existing = fs.existsSync(file) ? ((parse(fs.readFileSync(file, "utf8")) ?? {}) as Record<string, unknown>) : {};
    const config: Record<string, unknown> = { ...committed.config };
    const local: Record<string, unknown> = {
        kubeContext: values.cluster.context,
        kubeServer: values.cluster.server,
        kubeconfig: values.cluster.kubeconfig,
        smokeBaseUrl: values.smokeBaseUrl,
        smokePreviewUrl: values.smokePreviewUrl ?? previewRoute(values.smokeBaseUrl),
        ...(stackName !== environment ? { allowStackMismatch: true } : {}),
        ...values.overrides,
    };
    if (values.extraEnv && Object.keys(values.extraEnv).length > 0) {
        const committedEnv = committed.config["env-progression:env"];
        local["env"] = { ...(typeof committedEnv === "object" && committedEnv !== null ? committedEnv : {}), ...values.extraEnv };
    }
    for (const [k, v] of Object.entries(local)) {
        if (v === undefined) delete config[`env-progression:${k}`];
        else config[`env-progression:${k}`] = v;
    }
    const doc: Record<string, unknown> = { ...(existing["encryptionsalt"] ? { encryptionsalt: existing["encryptionsalt"] } : {}), config };
    fs.writeFileSync(file, `# Generated from ${path.join(REPO, `Pulumi.${environment}.yaml`)} plus local values; do not edit.\n${stringify(doc)}`);
    const promotionKey = values.promotionKey === undefined ? ws.promotionKey : values.promotionKey;
    const secrets = { ...values.secrets, ...(promotionKey !== null ? { promotionKey } : {}) };
    await stack.setAllConfig(Object.fromEntries(Object.entries(secrets).map(([k, v]) => [`env-progression:${k}`, { value: v, secret: true }])));
    return stack;
}

/**
 * The promotionKey of local stacks: 32 random bytes, base64 (as `openssl rand -base64 32`
 * gives), generated once into `file` and kept, so records stay verifiable across runs. Every
 * stack gets the same one, as every stack of a real project does.
 */
export function localPromotionKey(file: string): string {
    if (!fs.existsSync(file)) fs.writeFileSync(file, crypto.randomBytes(32).toString("base64"), { mode: 0o600 });
    return fs.readFileSync(file, "utf8").trim();
}

/** Secrets for local stacks: random, different per environment, kept across runs. */
export function localSecrets(file: string): Record<EnvironmentName, Record<string, string>> {
    if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, "utf8")) as Record<EnvironmentName, Record<string, string>>;
    const make = (env: string) => ({
        DATABASE_URL: `postgres://app:${crypto.randomBytes(12).toString("base64url")}@db.${env}.internal:5432/app`,
        API_TOKEN: crypto.randomBytes(24).toString("base64url"),
    });
    const secrets = Object.fromEntries(ENVIRONMENTS.map((e) => [e, make(e)])) as unknown as Record<EnvironmentName, Record<string, string>>;
    fs.writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
    return secrets;
}

export interface ProgressionResult {
    /** Environments whose `up` succeeded, in order. */
    readonly deployed: EnvironmentName[];
    /** The environment that failed, with the engine's output; the rest were not attempted. */
    readonly failed?: { readonly environment: EnvironmentName; readonly output: string };
    readonly outputs: Partial<Record<EnvironmentName, Record<string, unknown>>>;
}

/** `pulumi up` each stack in order, stopping at the first failure: the progression's gate. */
export async function progress(stacks: readonly (readonly [EnvironmentName, Stack])[], onOutput?: (text: string) => void): Promise<ProgressionResult> {
    const deployed: EnvironmentName[] = [];
    const outputs: Partial<Record<EnvironmentName, Record<string, unknown>>> = {};
    for (const [env, stack] of stacks) {
        let output = "";
        try {
            const result = await stack.up({ color: "never", onOutput: (s) => ((output += s), onOutput?.(s)) });
            outputs[env] = Object.fromEntries(Object.entries(result.outputs).map(([k, v]) => [k, v.value]));
            deployed.push(env);
        } catch (err) {
            return { deployed, outputs, failed: { environment: env, output: `${output}\n${(err as Error).message}` } };
        }
    }
    return { deployed, outputs };
}

/**
 * Gives `stackName` a `verified` output, as if its smoke checks had passed, without deploying it:
 * for previews of the next environment in tests that are not about promotion. Creates the stack
 * when needed; replaces its state with the root Stack resource holding that output (and `outputs`,
 * e.g. a `verifiedHistory`).
 */
export async function seedVerified(ws: Workspace, stackName: string, verified: unknown, outputs: Record<string, unknown> = {}): Promise<void> {
    const stack = await LocalWorkspace.createOrSelectStack({ stackName, workDir: ws.projectDir }, { envVars: ws.envVars });
    const project = (parse(fs.readFileSync(path.join(ws.projectDir, "Pulumi.yaml"), "utf8")) as { name: string }).name;
    const state = await stack.exportStack();
    (state.deployment as { resources?: unknown[] }).resources = [
        { urn: `urn:pulumi:${stackName}::${project}::pulumi:pulumi:Stack::${project}-${stackName}`, custom: false, type: "pulumi:pulumi:Stack", outputs: { ...outputs, verified } },
    ];
    await stack.importStack(state);
}
