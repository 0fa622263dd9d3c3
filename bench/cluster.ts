// The scenarios that need the local cluster: the full progression against the seed's kubectl
// pipeline and Helm, a no-change `up` against a bare preview, the smoke gate's overhead, how
// long a deterministic break takes to fail `up` once the rollout is done, and what the live
// switch adds to a passing `up` and how fast `progression rollback` brings the previous revision back.
// The full progression runs again on real pods (scenario `real`).
//
// Everything runs against a cluster of its own. With simulated nodes (`bench`, beside the
// demo's), the reference app on 127.0.0.1 is each environment's smoke target, as in the demo.
// With the real node (`bench-real`, which needs the machine's one real node), pods run the
// project's app image and the checks go through the in-cluster ingress proxy to each namespace's
// Service, as in the end-to-end tests. The program under test is `repo` (this checkout, or another
// one for before/after figures); kubectl and Helm apply the same rendered manifests,
// environmentManifests(config), in namespaces of their own.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import { LocalWorkspace, type EngineEvent, type Stack } from "@pulumi/pulumi/automation";
import { parse, stringify } from "yaml";
import { environmentManifests } from "../components/manifests";
import { ENVIRONMENTS, type EnvironmentName } from "../config/environments";
import { readStackConfig } from "../config/stackFile";
import { type KubeApi, kubeApi, labelSelector } from "../kube/api";
import {
    clusterDown,
    clusterUp,
    ingressUrl,
    type NodeMode,
    prepareStack,
    realNodeOverrides,
    startApp,
    useToolchain,
    type Cluster,
    type RunningApp,
    type Workspace,
} from "../tests/harness/local";
import { hostChanges, hostState, realNodeBusy, type HostState } from "./host";
import { log, must, type Recorder, REPO, timed } from "./lib";

const PORTS: Record<EnvironmentName, number> = { dev: 18181, staging: 18182, prod: 18183 };
const FAILING_PORT = 18184;
const CLUSTERS: Record<NodeMode, string> = { simulated: "bench", real: "bench-real" };
/** How long `up`, `kubectl rollout status` and `helm --wait` may wait for a rollout. */
const ROLLOUT_TIMEOUT_S = 300;

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ClusterContext {
    readonly cluster: Cluster;
    readonly toolEnv: Record<string, string>;
    /** The bench's files for this cluster: stacks, charts, kubeconfig. */
    readonly work: string;
    readonly apps: RunningApp[];
    /** Which kind of nodes the cluster has, for docs/performance.md. */
    readonly nodes: string;
    /**
     * Where the checks reach an environment's app deployed in `namespace`: the reference app on
     * 127.0.0.1 beside simulated nodes, the ingress proxy to the namespace's Service on the real node.
     */
    smokeUrl(env: EnvironmentName, namespace: string): string;
    /** Config values (keys without the project's namespace) that fit the nodes: the same for Pulumi, kubectl and Helm. */
    readonly overrides: Readonly<Record<string, string>>;
    /** The machine before the real node started, to compare after teardown. */
    readonly hostBefore?: HostState;
}

/** Starts a fresh cluster of the bench's: simulated nodes, or the machine's real node (refused when one runs). */
export async function startCluster(work: string, mode: NodeMode = "simulated"): Promise<ClusterContext> {
    const name = CLUSTERS[mode];
    const dir = mode === "real" ? path.join(work, "real") : work;
    const kubeconfig = path.join(dir, "kubeconfig");
    let hostBefore: HostState | undefined;
    if (mode === "real") {
        const busy = realNodeBusy();
        if (busy) throw new Error(`scenario real: not starting a real node: ${busy}`);
        hostBefore = hostState();
    }
    const toolEnv = useToolchain();
    fs.mkdirSync(dir, { recursive: true });
    log(`starting a fresh bench cluster (cluster/cluster.sh up --${mode}, PROGRESSION_CLUSTER=${name})`);
    let cluster: Cluster;
    try {
        // Fresh every time: objects an earlier bench left behind would collide with this one's.
        clusterDown(name, kubeconfig);
        cluster = clusterUp(name, kubeconfig, { nodes: mode });
    } catch (err) {
        if (mode === "real") {
            clusterDown(name, kubeconfig);
            const changed = hostBefore ? hostChanges(hostBefore, hostState()) : [];
            if (changed.length > 0) log(`the host differs from before the failed start:\n  ${changed.join("\n  ")}`);
        }
        throw err;
    }
    const nodes = await must("kubectl", ["--kubeconfig", cluster.kubeconfig, "get", "nodes", "-o", "json"]);
    const items = (
        JSON.parse(nodes.stdout) as {
            items: { metadata: { annotations?: Record<string, string> }; status?: { nodeInfo?: { kubeletVersion?: string; containerRuntimeVersion?: string } } }[];
        }
    ).items;
    const simulated = items.filter((n) => n.metadata.annotations?.["kwok.x-k8s.io/node"] === "fake").length;
    const real = items.find((n) => n.metadata.annotations?.["kwok.x-k8s.io/node"] !== "fake")?.status?.nodeInfo;
    const description =
        simulated === items.length
            ? `${items.length} node${items.length === 1 ? "" : "s"}, all simulated by kwok (no container runs)`
            : `${items.length - simulated} real node (kubelet ${real?.kubeletVersion ?? "?"}, ${real?.containerRuntimeVersion ?? "?"})${simulated > 0 ? ` and ${simulated} simulated by kwok` : ""}`;
    const apps: RunningApp[] = [];
    if (mode === "real") {
        // The node's app image and requests scaled to this machine (tests/harness/local.ts).
        const overrides = Object.fromEntries(Object.entries(realNodeOverrides(cluster)).map(([k, v]) => [k, String(v)]));
        return {
            cluster,
            toolEnv,
            work: dir,
            apps,
            nodes: description,
            smokeUrl: (env, namespace) => ingressUrl(namespace, readStackConfig(env).app.name, readStackConfig(env).app.port),
            overrides: { ...overrides, rolloutTimeout: `${ROLLOUT_TIMEOUT_S}s` },
            ...(hostBefore ? { hostBefore } : {}),
        };
    }
    for (const env of ENVIRONMENTS) apps.push(await startApp({ port: PORTS[env] }));
    apps.push(await startApp({ port: FAILING_PORT, fail: "db" }));
    return { cluster, toolEnv, work: dir, apps, nodes: description, smokeUrl: (env) => `http://127.0.0.1:${PORTS[env]}`, overrides: {} };
}

/**
 * Stops the apps and deletes the cluster (unless `keep`). For the real node, returns how the
 * machine differs from before it started (empty when it is as it was).
 */
export async function stopCluster(ctx: ClusterContext, keep: boolean): Promise<string[]> {
    await Promise.all(ctx.apps.map((a) => a.stop()));
    if (keep) return [];
    clusterDown(ctx.cluster.name, ctx.cluster.kubeconfig);
    return ctx.hostBefore ? hostChanges(ctx.hostBefore, hostState()) : [];
}

/** A project directory whose program is `repo`, with a file backend and a passphrase. */
function workspace(dir: string, repo: string, toolEnv: Record<string, string>): Workspace {
    const projectDir = path.join(dir, "project");
    const stateDir = path.join(dir, "state");
    fs.mkdirSync(projectDir, { recursive: true });
    fs.mkdirSync(stateDir, { recursive: true });
    const project = fs.readFileSync(path.join(repo, "Pulumi.yaml"), "utf8").replace(/^main:.*$/m, "");
    fs.writeFileSync(path.join(projectDir, "Pulumi.yaml"), `${project.trimEnd()}\nmain: ${path.relative(projectDir, repo) || "."}\n`);
    const passphrase = path.join(dir, "passphrase");
    if (!fs.existsSync(passphrase)) fs.writeFileSync(passphrase, crypto.randomBytes(24).toString("base64url"), { mode: 0o600 });
    return {
        projectDir,
        stateDir,
        // One promotionKey for the bench's stacks, which never outlive the run.
        promotionKey: crypto.randomBytes(32).toString("base64"),
        envVars: {
            PULUMI_BACKEND_URL: `file://${stateDir}`,
            PULUMI_CONFIG_PASSPHRASE_FILE: passphrase,
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            PATH: process.env["PATH"] ?? "",
            ...(toolEnv["PULUMI_HOME"] ? { PULUMI_HOME: toolEnv["PULUMI_HOME"] } : {}),
        },
    };
}

const secretsFor = (env: string) => ({
    DATABASE_URL: `postgres://app:${crypto.randomBytes(9).toString("base64url")}@db.${env}.internal:5432/app`,
    API_TOKEN: crypto.randomBytes(18).toString("base64url"),
});

interface Stacks {
    readonly ws: Workspace;
    readonly stacks: Record<EnvironmentName, Stack>;
    configure(env: EnvironmentName, overrides: Record<string, unknown>): Promise<Stack>;
}

const UPSTREAM: Record<EnvironmentName, EnvironmentName | undefined> = { dev: undefined, staging: "dev", prod: "staging" };

async function benchStacks(ctx: ClusterContext, repo: string, label: string): Promise<Stacks> {
    const ws = workspace(path.join(ctx.work, label), repo, ctx.toolEnv);
    const secrets = { dev: secretsFor("dev"), staging: secretsFor("staging"), prod: secretsFor("prod") } satisfies Record<
        EnvironmentName,
        Record<string, string>
    >;
    const configure = (env: EnvironmentName, overrides: Record<string, unknown>) =>
        prepareStack(ws, env, {
            cluster: ctx.cluster,
            smokeBaseUrl: ctx.smokeUrl(env, readStackConfig(env).namespace),
            secrets: secrets[env],
            stackName: `bench-${env}`,
            // A real stack checks only when what is deployed changed; the demo's every-up gate is not
            // what a no-change `up` costs. Staging and prod promote from the bench's own upstream
            // stacks: the default upstream is named after the environment (dev, staging).
            overrides: { ...ctx.overrides, smokeEveryUp: false, ...(UPSTREAM[env] ? { promoteFrom: `bench-${UPSTREAM[env]}` } : {}), ...overrides },
        });
    const stacks = {} as Record<EnvironmentName, Stack>;
    for (const env of ENVIRONMENTS) stacks[env] = await configure(env, {});
    return { ws, stacks, configure };
}

/**
 * A `pulumi` command as a user, CI or Pulumi Deployments runs it (`pulumi up -s staging`): the CLI
 * alone in the stack's project directory, timed from start to exit. The Automation API's
 * `Stack.up()` runs three more commands after the update (two `stack output`, one `stack
 * history`), each a CLI start and a key derivation, which no user pays; figures of rounds before
 * these were taken through it, and `nochange.auto.*` still is.
 */
async function cli(ws: Workspace, cwd: string, args: readonly string[]): Promise<{ seconds: number; stdout: string }> {
    const r = await must("pulumi", [...args, "--non-interactive", "--color", "never"], { cwd, env: { ...process.env, ...ws.envVars } });
    return { seconds: r.seconds, stdout: r.stdout };
}

/** What an `up`'s summary says changed (anything but unchanged and the stack references' reads). */
function changedBy(stdout: string): string[] {
    return [...stdout.matchAll(/^\s*[-+~]+\s*(\d+) (created|updated|deleted|replaced)/gm)].map((m) => `${m[1]} ${m[2]}`);
}

/** Every resource's step, from the engine's events: when it started and when its outputs came. */
function stepTimes(): { onEvent: (e: EngineEvent) => void; done: Map<string, number>; started: Map<string, number> } {
    const started = new Map<string, number>();
    const done = new Map<string, number>();
    return {
        started,
        done,
        onEvent: (e) => {
            const now = performance.now();
            const pre = e.resourcePreEvent?.metadata;
            if (pre) started.set(pre.type, now);
            const out = e.resOutputsEvent?.metadata;
            if (out) done.set(out.type, now);
        },
    };
}

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const SMOKE_RUN = "pulumi-nodejs:dynamic/progression:SmokeRun";

// ---------------------------------------------------------------------------------------------
// The seed's pipeline and Helm, over the same rendered manifests.

/**
 * The environment's manifests as the program renders them, in `namespace`, with the cluster's
 * overrides applied to the committed stack file the way the bench's stacks get them.
 */
function manifestsFor(ctx: ClusterContext, env: EnvironmentName, namespace: string): Record<string, unknown>[] {
    let file: string | undefined;
    if (Object.keys(ctx.overrides).length > 0) {
        const committed = parse(fs.readFileSync(path.join(REPO, `Pulumi.${env}.yaml`), "utf8")) as { config: Record<string, unknown> };
        const extra = Object.entries(ctx.overrides).map(([k, v]) => [`env-progression:${k}`, v] as const);
        file = path.join(ctx.work, `manifests-${env}.yaml`);
        fs.writeFileSync(file, stringify({ config: { ...committed.config, ...Object.fromEntries(extra) } }));
    }
    const config = readStackConfig(env, file ? { file } : {});
    const manifests = environmentManifests({ ...config, namespace });
    // The rendered live Service has no selector: the program's live switch points it at a revision
    // once that revision's checks pass. kubectl and Helm have no switch, so their live Service
    // selects the revision's pods from the start, as the switch leaves it: the preview Service's
    // selector.
    type Service = { kind: string; metadata: { name: string }; spec: { selector?: Record<string, string> } };
    const services = manifests.filter((o) => o["kind"] === "Service") as unknown as Service[];
    const live = services.find((o) => o.metadata.name === config.app.name);
    const preview = services.find((o) => o.metadata.name === `${config.app.name}-preview`);
    if (live && preview?.spec.selector && !live.spec.selector) live.spec.selector = { ...preview.spec.selector };
    return manifests;
}

/** The seed's smoke script: each check once, with curl and jq. */
const SEED_SMOKE = `set -e
curl -fsS "$URL/healthz" > /dev/null
curl -fsS "$URL/api/version" | jq -e '.version | length > 0' > /dev/null
curl -fsS "$URL/api/db-status" | jq -e '.connected == true' > /dev/null
curl -fsS -X POST -H 'content-type: application/json' -d '{"test": true}' "$URL/api/test-action" | jq -e '.success == true' > /dev/null
`;
/** How long the seed's checks are tried again, 100 ms apart, before the run fails. */
const SEED_SMOKE_DEADLINE_MS = 60_000;

/**
 * The seed's checks against `url`. On the real node the first request can come before
 * kube-proxy and the NetworkPolicy firewall have programmed the pods the rollout just made Ready,
 * so the script runs again 100 ms after a failure, as the project's smoke gate retries its
 * passes, up to a deadline; beside simulated nodes the reference app answers the first time.
 */
async function seedSmoke(url: string): Promise<void> {
    const deadline = performance.now() + SEED_SMOKE_DEADLINE_MS;
    for (let tries = 1; ; tries++) {
        const r = await timed("bash", ["-c", SEED_SMOKE], { env: { ...process.env, URL: url } });
        if (r.code === 0) {
            if (tries > 1) log(`  the seed's checks passed at try ${tries} (${url})`);
            return;
        }
        if (performance.now() > deadline) throw new Error(`the seed's checks against ${url} still failed after ${tries} tries:\n${r.stderr.slice(-2000)}`);
        await pause(100);
    }
}

async function kubectlProgression(ctx: ClusterContext, dir: string): Promise<number> {
    const kc = ["--kubeconfig", ctx.cluster.kubeconfig, "--context", ctx.cluster.context];
    const files = ENVIRONMENTS.map((env) => {
        const file = path.join(dir, `kubectl-${env}.yaml`);
        const manifests = manifestsFor(ctx, env, `kubectl-${env}`);
        fs.writeFileSync(file, manifests.map((o) => stringify(o)).join("---\n"));
        // The app's Deployment is its revision's: web-<revision>.
        const deployment = manifests.find((o) => o["kind"] === "Deployment") as { metadata: { name: string } };
        return [env, file, deployment.metadata.name] as const;
    });
    const t0 = performance.now();
    for (const [env, file, deployment] of files) {
        await must("kubectl", [...kc, "apply", "-f", file]);
        await must("kubectl", [...kc, "rollout", "status", `deployment/${deployment}`, "-n", `kubectl-${env}`, `--timeout=${ROLLOUT_TIMEOUT_S}s`]);
        await seedSmoke(ctx.smokeUrl(env, `kubectl-${env}`));
    }
    const total = (performance.now() - t0) / 1000;
    await must("kubectl", [...kc, "delete", "namespace", ...ENVIRONMENTS.map((e) => `kubectl-${e}`), "--wait=true", "--timeout=300s"]);
    return total;
}

/** A chart per environment whose templates are the rendered manifests, as they are. */
function writeChart(ctx: ClusterContext, dir: string, env: EnvironmentName): string {
    const chart = path.join(dir, `chart-${env}`);
    fs.rmSync(chart, { recursive: true, force: true });
    fs.mkdirSync(path.join(chart, "templates"), { recursive: true });
    fs.writeFileSync(path.join(chart, "Chart.yaml"), stringify({ apiVersion: "v2", name: "web", version: "1.0.0", description: `web in ${env}` }));
    // Helm templates with Go templates: the manifests hold no "{{", so they pass through unchanged.
    fs.writeFileSync(
        path.join(chart, "templates", "manifests.yaml"),
        manifestsFor(ctx, env, `helm-${env}`)
            .map((o) => stringify(o))
            .join("---\n"),
    );
    return chart;
}

/** The Helm the bench built (bench/helm.sh): its binary and the version it reports. */
export interface Helm {
    readonly bin: string;
    readonly version: string;
}

/**
 * Helm 4's `--wait` takes a strategy: `watcher` (what `--wait` alone means) follows each object's
 * status until it is current, as kstatus reads it (a Deployment's updated, available replicas);
 * `legacy` is Helm 3's poll.
 */
const HELM_WAIT = "--wait=watcher";

async function helmProgression(ctx: ClusterContext, helm: Helm, dir: string): Promise<number> {
    const kc = ["--kubeconfig", ctx.cluster.kubeconfig, "--kube-context", ctx.cluster.context];
    const charts = ENVIRONMENTS.map((env) => [env, writeChart(ctx, dir, env)] as const);
    const t0 = performance.now();
    for (const [env, chart] of charts) {
        // The release is stored in default; the chart's objects carry their own namespace.
        await must(helm.bin, [...kc, "upgrade", "--install", `web-${env}`, chart, "-n", "default", HELM_WAIT, "--timeout", `${ROLLOUT_TIMEOUT_S}s`]);
        // `helm test` runs a test pod to completion, which simulated nodes never do: the seed's
        // curl/jq checks stand in for it, on both kinds of node, as in the kubectl pipeline.
        await seedSmoke(ctx.smokeUrl(env, `helm-${env}`));
    }
    const total = (performance.now() - t0) / 1000;
    for (const [env] of charts) await must(helm.bin, [...kc, "uninstall", `web-${env}`, "-n", "default", HELM_WAIT]);
    await must("kubectl", [
        "--kubeconfig",
        ctx.cluster.kubeconfig,
        "--context",
        ctx.cluster.context,
        "delete",
        "namespace",
        ...ENVIRONMENTS.map((e) => `helm-${e}`),
        "--ignore-not-found",
        "--wait=true",
        "--timeout=300s",
    ]);
    return total;
}

/**
 * An empty TypeScript program as `pulumi new typescript` lays it out (Pulumi.yaml, package.json,
 * tsconfig.json, index.ts), outside this repository so nothing of it (its package.json main, its
 * tsconfig) applies; node_modules links to this repository's, for @pulumi/pulumi.
 */
function emptyProgram(): string {
    const dir = path.join(os.tmpdir(), "env-progression-bench", "empty-program");
    // Its stack file holds the encryption salt of an earlier bench's passphrase: start over.
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
        path.join(dir, "Pulumi.yaml"),
        "name: bench-empty\nruntime:\n  name: nodejs\n  options:\n    typescript: true\ndescription: An empty program, for a bare preview.\n",
    );
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "bench-empty", main: "index.ts", private: true }, null, 2));
    fs.writeFileSync(
        path.join(dir, "tsconfig.json"),
        JSON.stringify({ compilerOptions: { strict: true, target: "es2023", module: "commonjs", moduleResolution: "node10" }, files: ["index.ts"] }, null, 2),
    );
    fs.writeFileSync(path.join(dir, "index.ts"), "export {};\n");
    const modules = path.join(dir, "node_modules");
    if (!fs.existsSync(modules)) fs.symlinkSync(path.join(REPO, "node_modules"), modules);
    return dir;
}

// ---------------------------------------------------------------------------------------------

export interface ClusterRunOptions {
    readonly runs: number;
    readonly repo: string;
    readonly label: string;
    /** Helm, or undefined when it could not be built. */
    readonly helm: Helm | undefined;
    /** Runs of the deterministic-failure scenario (each may wait out a deadline on old code). */
    readonly failureRuns: number;
    /** Leave the stacks deployed (with --keep-cluster), to look around afterwards. */
    readonly keep: boolean;
    /** Which of progression, nochange, smoke, failure, release to run. */
    readonly scenarios: ReadonlySet<string>;
}

/** What a progression scenario measures, and where its figures go. */
interface ProgressionPlan {
    /** The measures' id prefix: progression on simulated nodes, real.progression on real pods. */
    readonly prefix: string;
    /** Added to the measures' titles after "full progression" (e.g. " on real pods"). */
    readonly where: string;
    readonly runs: number;
    readonly helm: Helm | undefined;
    /**
     * Leave the stacks deployed after the last run, for the scenarios that follow. Otherwise
     * they are destroyed once their `up`s are timed, so kubectl and Helm find the node without
     * them, as Pulumi found it.
     */
    readonly keepDeployed: boolean;
}

/**
 * The full first progression, `runs` times: `pulumi up` dev, staging, prod from empty stacks, then
 * the seed's kubectl pipeline and Helm over the same rendered manifests, each with the seed's
 * curl/jq checks. The same on simulated nodes and on real pods; `ctx` says which.
 */
async function progressionScenario(ctx: ClusterContext, s: Stacks, rec: Recorder, dir: string, plan: ProgressionPlan): Promise<void> {
    const quiet = { color: "never" as const };
    const { prefix, where, runs } = plan;
    const helmTitle = `full progression${where}: helm ${plan.helm ? `${plan.helm.version} ` : ""}upgrade --install ${HELM_WAIT}, curl/jq`;
    for (let r = 1; r <= runs; r++) {
        log(`${prefix} run ${r}/${runs}: pulumi up dev, staging, prod`);
        const t0 = performance.now();
        for (const env of ENVIRONMENTS) {
            const up = await cli(s.ws, s.ws.projectDir, ["up", "--yes", "--skip-preview", "--stack", s.stacks[env].name]);
            rec.add(`${prefix}.pulumi.${env}`, `pulumi up -s ${env} from empty${where}`, "s", up.seconds);
        }
        rec.add(`${prefix}.pulumi`, `full progression${where}: pulumi up dev, staging, prod`, "s", (performance.now() - t0) / 1000);
        if (r < runs || !plan.keepDeployed) {
            for (const env of [...ENVIRONMENTS].reverse()) await s.stacks[env].destroy(quiet);
        }
        log(`${prefix} run ${r}/${runs}: the seed's kubectl pipeline`);
        rec.add(`${prefix}.kubectl`, `full progression${where}: kubectl apply, rollout status, curl/jq`, "s", await kubectlProgression(ctx, dir));
        if (plan.helm) {
            log(`${prefix} run ${r}/${runs}: helm ${plan.helm.version} upgrade --install ${HELM_WAIT}`);
            rec.add(`${prefix}.helm`, helmTitle, "s", await helmProgression(ctx, plan.helm, dir));
        } else {
            rec.note(`${prefix}.helm`, helmTitle, "s", "Helm not built (bench/helm.sh failed)");
        }
    }
}

/**
 * Scenario `real`: the full first progression on the real node's pods (the project's app image,
 * the checks through the ingress proxy), measured as on simulated nodes.
 */
export async function realScenario(ctx: ClusterContext, rec: Recorder, opts: Pick<ClusterRunOptions, "runs" | "repo" | "label" | "helm">): Promise<void> {
    const dir = path.join(ctx.work, opts.label);
    // State of an earlier bench describes a cluster that is gone (each bench starts its own).
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const s = await benchStacks(ctx, opts.repo, opts.label);
    await progressionScenario(ctx, s, rec, dir, { prefix: "real.progression", where: " on real pods", runs: opts.runs, helm: opts.helm, keepDeployed: false });
}

/** Kept as one function: the scenarios run in this order on one cluster and one set of stacks, each a few lines. */
export async function clusterScenarios(ctx: ClusterContext, rec: Recorder, opts: ClusterRunOptions): Promise<void> {
    const dir = path.join(ctx.work, opts.label);
    // State of an earlier bench describes a cluster that is gone (each bench starts its own).
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const s = await benchStacks(ctx, opts.repo, opts.label);
    const quiet = { color: "never" as const };

    // 1. The full first progression, from empty stacks, against the seed's pipeline and Helm.
    const progressionRuns = opts.scenarios.has("progression") ? opts.runs : 0;
    if (progressionRuns === 0) {
        log("deploying the three stacks for the other scenarios (not timed)");
        for (const env of ENVIRONMENTS) await s.stacks[env].up(quiet);
    }
    await progressionScenario(ctx, s, rec, dir, { prefix: "progression", where: "", runs: progressionRuns, helm: opts.helm, keepDeployed: true });

    // 2. A no-change `up` of each stack against a bare preview of an empty program.
    const empty = emptyProgram();
    const emptyStack = await LocalWorkspace.createOrSelectStack({ stackName: "bench-empty", workDir: empty }, { envVars: s.ws.envVars });
    for (let r = 1; r <= (opts.scenarios.has("nochange") ? opts.runs : 0); r++) {
        log(`no-change run ${r}/${opts.runs}`);
        const preview = await cli(s.ws, empty, ["preview", "--stack", emptyStack.name]);
        rec.add("preview.empty", "pulumi preview of an empty TypeScript program", "s", preview.seconds);
        for (const env of ENVIRONMENTS) {
            const up = await cli(s.ws, s.ws.projectDir, ["up", "--yes", "--skip-preview", "--stack", s.stacks[env].name]);
            rec.add(`nochange.up.${env}`, `pulumi up -s ${env}, nothing changed`, "s", up.seconds);
            const changed = changedBy(up.stdout);
            if (changed.length > 0) log(`warning: the no-change up of ${env} changed: ${changed.join(", ")}`);
            const t = performance.now();
            await s.stacks[env].up(quiet);
            rec.add(`nochange.auto.${env}`, `pulumi up -s ${env}, nothing changed, through the Automation API's up() (as earlier rounds measured)`, "s", (performance.now() - t) / 1000);
        }
        const tr = performance.now();
        await s.stacks.staging.refresh(quiet);
        rec.add("refresh.staging", "pulumi refresh -s staging (the demo refreshes before each up)", "s", (performance.now() - tr) / 1000);
    }

    // 3. The smoke gate's overhead on a healthy app: an up that runs the checks against one that
    // does not, back to back, and the SmokeRun step itself.
    for (let r = 1; r <= (opts.scenarios.has("smoke") ? opts.runs : 0); r++) {
        log(`smoke overhead run ${r}/${opts.runs}`);
        for (const env of ENVIRONMENTS) {
            await s.configure(env, { smokeEveryUp: true });
            const steps = stepTimes();
            const t = performance.now();
            await s.stacks[env].up({ ...quiet, onEvent: steps.onEvent });
            const withSmoke = (performance.now() - t) / 1000;
            await s.configure(env, { smokeEveryUp: false });
            const t2 = performance.now();
            await s.stacks[env].up(quiet);
            const without = (performance.now() - t2) / 1000;
            rec.add(`smoke.overhead.${env}`, `smoke gate overhead in ${env} (up with the checks minus up without)`, "s", withSmoke - without);
            const a = steps.started.get(SMOKE_RUN);
            const b = steps.done.get(SMOKE_RUN);
            if (a !== undefined && b !== undefined)
                rec.add(`smoke.step.${env}`, `smoke gate in ${env}: the SmokeRun update step, checks included (engine events)`, "s", (b - a) / 1000);
            else log(`warning: no SmokeRun step seen in ${env}'s events`);
        }
    }

    // 4. A deterministic break (db-status answers connected:false) after a change that rolls the
    // pods: the time from the Deployment's rollout end to the failed `up`.
    for (let r = 1; r <= opts.failureRuns; r++) {
        log(`deterministic failure run ${r}/${opts.failureRuns} (staging)`);
        // The checks judge the candidate on the preview route: that is where the broken app answers.
        // The live route stays on the healthy app, as live traffic stays on the verified revision.
        await s.configure("staging", { smokePreviewUrl: `http://127.0.0.1:${FAILING_PORT}/preview`, env: { BENCH_RUN: `${opts.label}-${r}-${Date.now()}` } });
        const steps = stepTimes();
        const t = performance.now();
        let failed = false;
        try {
            await s.stacks.staging.up({ ...quiet, onEvent: steps.onEvent });
        } catch {
            failed = true;
        }
        const end = performance.now();
        const rolled = steps.done.get(DEPLOYMENT);
        if (!failed) log("warning: the up against the broken app did not fail");
        if (rolled !== undefined) rec.add("failure.afterRollout", "deterministic break: rollout end to failed up (staging)", "s", (end - rolled) / 1000);
        rec.add("failure.up", "deterministic break: whole failed up (staging)", "s", (end - t) / 1000);
    }
    // 5. The live switch in a passing update, and `progression rollback` (releaseScenario below).
    if (opts.scenarios.has("release")) await releaseScenario(ctx, s, rec, opts);

    await s.configure("staging", {});
    await s.stacks.staging.up(quiet).catch(() => undefined);

    if (!opts.keep) {
        for (const env of [...ENVIRONMENTS].reverse())
            await s.stacks[env].destroy(quiet).catch((err: Error) => log(`destroy ${env}: ${err.message.split("\n")[0]}`));
    }
    await emptyStack.workspace.removeStack("bench-empty").catch(() => undefined);
}

// ---------------------------------------------------------------------------------------------
// The live switch and the rollback.
//
// Each run gives the three stacks a new revision (an env var the app does not read, the same
// value in all three, so staging and prod stay at parity) and runs a passing `up` of dev, staging
// and prod, in order; then `progression rollback -s bench-prod` takes prod back to the revision
// that was live before (release.previous, kept warm by the switch). The next run's `up` drops
// rollbackTo again, so every run starts from a prod that follows its candidate.
//
// switch.added.<env>: from the SmokeRun's outputs event (the candidate's checks passed, the last
// thing the LiveSwitch waits for) to the LiveSwitch's outputs event (its provider returned), as
// this process receives the engine's events. With this Pulumi (newer than 3.205) they stream over
// gRPC as the engine emits them; their own timestamps are whole seconds, too coarse for a 1 s
// budget. The span holds all the switch costs the update: the LiveSwitch's registration and diff
// (where its provider process first loads release/switch.ts), then its step: reading the
// revision's pods, the selector patch, the endpoints' move, the live check, scaling the revision
// that was live down to its warm count (its pods keep serving through their preStop pause),
// removing older revisions and writing the history. Reported beside it:
// switch.step.<env> (the step alone, the LiveSwitch's pre-event to its outputs event) and
// switch.live.<env> (the output release.switchMs: selector patch to the live check's pass).
//
// rollback.live: from spawning `progression rollback` to the live Service's ready endpoints being
// only pods of the previous revision, watched from this process through the API server. On
// simulated nodes no packet flows and the reference app on 127.0.0.1 answers the live route for
// every revision, so the endpoints are what tells which revision the live route reaches (on a
// real node kube-proxy programs its rules from them; tests/e2e/release.test.ts checks the
// answers on real pods). rollback.cli: the same start to the CLI's "live traffic moved" line,
// printed once its own wait on the endpoints ends. rollback.recorded: the same start to the CLI's
// exit, its recording `pulumi up` (rollbackTo set) included.

const LIVE_SWITCH = "pulumi-nodejs:dynamic/progression:LiveSwitch";
const ROLLBACK_ENV: EnvironmentName = "prod";
const ROLLBACK_LIVE = `rollback (${ROLLBACK_ENV}): start to live endpoints only on the previous revision`;

/** The parts of the stack output `release` the scenario reads. */
interface ReleaseView {
    readonly live: string;
    readonly previous: string | null;
    readonly candidate: string;
    readonly switchMs: number;
}

/** The committed stack file's env map, which an `env` override would otherwise replace. */
function committedEnv(env: EnvironmentName): Record<string, string> {
    const doc = parse(fs.readFileSync(path.join(REPO, `Pulumi.${env}.yaml`), "utf8")) as { config?: Record<string, unknown> } | null;
    const value = doc?.config?.["env-progression:env"];
    return typeof value === "object" && value !== null ? (value as Record<string, string>) : {};
}


/**
 * Whether every ready endpoint of the Service is a pod of `revision`, and at least one is. A
 * revision runs as the Deployment <app>-<revision> (deploymentName in release/switch.ts; the live
 * Service is named after the app), so its pods' names start with that: one request a look, and
 * pods the rollback's scale-up adds count as the revision's too.
 */
async function endpointsOn(api: KubeApi, namespace: string, service: string, revision: string): Promise<boolean> {
    const slices = await api.request<{ items: { endpoints?: { targetRef?: { name?: string }; conditions?: { ready?: boolean } }[] }[] }>(
        "GET",
        `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices?${labelSelector({ "kubernetes.io/service-name": service })}`,
    );
    const prefix = `${service}-${revision}-`;
    const ready = slices.items.flatMap((sl) => sl.endpoints ?? []).filter((e) => e.conditions?.ready !== false);
    return ready.length > 0 && ready.every((e) => (e.targetRef?.name ?? "").startsWith(prefix));
}

/** Polls endpointsOn every 50 ms until it holds (the time it was seen) or stop() (undefined). */
function watchEndpoints(api: KubeApi, namespace: string, service: string, revision: string): { seen: Promise<number | undefined>; stop(): void } {
    let stopped = false;
    const seen = (async () => {
        while (!stopped) {
            const on = await endpointsOn(api, namespace, service, revision).catch(() => false);
            if (on) return performance.now();
            await pause(50);
        }
        return undefined;
    })();
    return { seen, stop: () => (stopped = true) };
}

interface RollbackRun {
    readonly code: number | null;
    readonly output: string;
    /** When the "live traffic moved" line came, and that line. */
    readonly movedAt?: number;
    readonly movedLine?: string;
    readonly exitAt: number;
}

/** Runs the CLI; `t0` is taken right before the spawn. */
function runRollback(bin: string, args: readonly string[], env: NodeJS.ProcessEnv): { t0: number; done: Promise<RollbackRun> } {
    const t0 = performance.now();
    const child = spawn(bin, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    const done = new Promise<RollbackRun>((resolve, reject) => {
        let output = "";
        let movedAt: number | undefined;
        let movedLine: string | undefined;
        child.stdout.on("data", (d: Buffer) => {
            output += d.toString();
            if (movedAt === undefined) {
                const m = /^.*live traffic moved from .*\n/m.exec(output);
                if (m) {
                    movedAt = performance.now();
                    movedLine = m[0].trim();
                }
            }
        });
        child.stderr.on("data", (d: Buffer) => (output += d.toString()));
        child.on("error", reject);
        child.on("close", (code) =>
            resolve({ code, output, exitAt: performance.now(), ...(movedAt !== undefined ? { movedAt } : {}), ...(movedLine !== undefined ? { movedLine } : {}) }),
        );
    });
    return { t0, done };
}

async function releaseScenario(ctx: ClusterContext, s: Stacks, rec: Recorder, opts: ClusterRunOptions): Promise<void> {
    const bin = path.join(opts.repo, "bin", "progression");
    const canRollBack = fs.existsSync(path.join(opts.repo, "cli", "rollback.ts"));
    const api = kubeApi(fs.readFileSync(ctx.cluster.kubeconfig, "utf8"), ctx.cluster.context);
    const quiet = { color: "never" as const };
    for (let r = 1; r <= opts.runs; r++) {
        const mark = `${opts.label}-${r}-${Date.now()}`;
        for (const env of ENVIRONMENTS) {
            log(`release run ${r}/${opts.runs}: a passing up of ${env} with a new revision`);
            const stack = await s.configure(env, { env: { ...committedEnv(env), BENCH_RELEASE: mark } });
            const steps = stepTimes();
            const t = performance.now();
            const result = await stack.up({ ...quiet, onEvent: steps.onEvent });
            const upSeconds = (performance.now() - t) / 1000;
            const release = result.outputs["release"]?.value as ReleaseView | undefined;
            if (!release || release.live !== release.candidate || release.previous === null || release.previous === release.live) {
                log(`warning: the up of ${env} did not switch live traffic to a new revision (release: ${JSON.stringify(release)}); not counted`);
                continue;
            }
            rec.add(`switch.up.${env}`, `passing up with a new revision (${env}), whole`, "s", upSeconds);
            const checked = steps.done.get(SMOKE_RUN);
            const started = steps.started.get(LIVE_SWITCH);
            const switched = steps.done.get(LIVE_SWITCH);
            if (checked !== undefined && switched !== undefined && switched > checked)
                rec.add(`switch.added.${env}`, `live switch (${env}): checks passed to LiveSwitch done, in a passing up (engine events)`, "s", (switched - checked) / 1000);
            else log(`warning: no SmokeRun and LiveSwitch outputs seen in ${env}'s events`);
            if (started !== undefined && switched !== undefined)
                rec.add(`switch.step.${env}`, `live switch (${env}): the LiveSwitch update step alone (engine events)`, "s", (switched - started) / 1000);
            rec.add(`switch.live.${env}`, `live switch (${env}): selector patch to live check passed (release.switchMs)`, "ms", release.switchMs);
        }

        if (!canRollBack) {
            rec.note("rollback.live", ROLLBACK_LIVE, "s", "no progression rollback in this checkout");
            continue;
        }
        const stack = s.stacks[ROLLBACK_ENV];
        const outputs = await stack.outputs();
        const before = outputs["release"]?.value as ReleaseView | undefined;
        const namespace = outputs["namespace"]?.value as string | undefined;
        const service = outputs["serviceName"]?.value as string | undefined;
        if (!before?.previous || !namespace || !service) {
            log(`warning: ${ROLLBACK_ENV} has no rollback target (release: ${JSON.stringify(before)}); rollback not measured`);
            continue;
        }
        if (await endpointsOn(api, namespace, service, before.previous)) throw new Error(`${ROLLBACK_ENV}'s live endpoints are already on ${before.previous} before the rollback`);
        log(`release run ${r}/${opts.runs}: progression rollback -s ${stack.name} (${before.live} -> ${before.previous})`);
        const cli = runRollback(bin, ["rollback", "-s", stack.name, "-C", s.ws.projectDir], { ...process.env, ...s.ws.envVars });
        const watch = watchEndpoints(api, namespace, service, before.previous);
        const run = await cli.done;
        // The watch keeps polling for a moment after the exit: a poll may be under way.
        const seen = await Promise.race([watch.seen, pause(2_000).then(() => undefined)]);
        watch.stop();
        if (run.code !== 0) {
            rec.note("rollback.live", ROLLBACK_LIVE, "s", `progression rollback exited ${String(run.code)}`);
            log(`progression rollback failed (exit ${String(run.code)}):\n${run.output.slice(-3000)}`);
            continue;
        }
        const after = (await stack.outputs())["release"]?.value as ReleaseView | undefined;
        if (after?.live !== before.previous) log(`warning: after the rollback release.live is ${String(after?.live)}, not ${before.previous}`);
        log(`  ${run.movedLine ?? "(no 'live traffic moved' line)"}`);
        if (seen !== undefined) rec.add("rollback.live", ROLLBACK_LIVE, "s", (seen - cli.t0) / 1000);
        else log(`warning: the live endpoints of ${ROLLBACK_ENV} never held only ${before.previous}'s pods`);
        if (run.movedAt !== undefined) rec.add("rollback.cli", `rollback (${ROLLBACK_ENV}): start to the CLI's "live traffic moved" line`, "s", (run.movedAt - cli.t0) / 1000);
        rec.add("rollback.recorded", `rollback (${ROLLBACK_ENV}): start to exit, the recording pulumi up included`, "s", (run.exitAt - cli.t0) / 1000);
    }
}
