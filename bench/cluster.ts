// The scenarios that need the local cluster: the full progression against the seed's kubectl
// pipeline and Helm, a no-change `up` against a bare preview, the smoke gate's overhead, and how
// long a deterministic break takes to fail `up` once the rollout is done.
//
// Everything runs against a cluster of its own (`bench`, beside the demo's), with the reference
// app on 127.0.0.1 as each environment's smoke target, as in the demo. The program under test is
// `repo` (this checkout, or another one for before/after figures); kubectl and Helm apply the
// same rendered manifests, environmentManifests(config), in namespaces of their own.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { LocalWorkspace, type EngineEvent, type Stack } from "@pulumi/pulumi/automation";
import { stringify } from "yaml";
import { environmentManifests } from "../components/manifests";
import { ENVIRONMENTS, type EnvironmentName } from "../config/environments";
import { readStackConfig } from "../config/stackFile";
import { clusterDown, clusterUp, prepareStack, startApp, useToolchain, type Cluster, type RunningApp, type Workspace } from "../scripts/local";
import { log, must, type Recorder, REPO } from "./lib";

const PORTS: Record<EnvironmentName, number> = { dev: 18181, staging: 18182, prod: 18183 };
const FAILING_PORT = 18184;
const CLUSTER = "bench";

export interface ClusterContext {
    readonly cluster: Cluster;
    readonly toolEnv: Record<string, string>;
    readonly work: string;
    readonly apps: RunningApp[];
    /** Which kind of nodes the cluster has, for the README. */
    readonly nodes: string;
}

export async function startCluster(work: string): Promise<ClusterContext> {
    const toolEnv = useToolchain();
    fs.mkdirSync(work, { recursive: true });
    log("starting a fresh bench cluster (scripts/cluster.sh, PROGRESSION_CLUSTER=bench)");
    // Fresh every time: objects an earlier bench left behind would collide with this one's.
    clusterDown(CLUSTER, path.join(work, "kubeconfig"));
    const cluster = clusterUp(CLUSTER, path.join(work, "kubeconfig"));
    const nodes = await must("kubectl", ["--kubeconfig", cluster.kubeconfig, "get", "nodes", "-o", "json"]);
    const items = (JSON.parse(nodes.stdout) as { items: { metadata: { annotations?: Record<string, string> } }[] }).items;
    const simulated = items.filter((n) => n.metadata.annotations?.["kwok.x-k8s.io/node"] === "fake").length;
    const description = `${items.length} node${items.length === 1 ? "" : "s"}, ${simulated === items.length ? "all simulated by kwok (no container runs)" : `${simulated} simulated by kwok, ${items.length - simulated} real`}`;
    const apps: RunningApp[] = [];
    for (const env of ENVIRONMENTS) apps.push(await startApp({ port: PORTS[env] }));
    apps.push(await startApp({ port: FAILING_PORT, fail: "db" }));
    return { cluster, toolEnv, work, apps, nodes: description };
}

export async function stopCluster(ctx: ClusterContext, keep: boolean): Promise<void> {
    await Promise.all(ctx.apps.map((a) => a.stop()));
    if (!keep) clusterDown(CLUSTER, ctx.cluster.kubeconfig);
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
            smokeBaseUrl: `http://127.0.0.1:${PORTS[env]}`,
            secrets: secrets[env],
            stackName: `bench-${env}`,
            // A real stack checks only when what is deployed changed; the demo's every-up gate is not
            // what a no-change `up` costs. Staging and prod promote from the bench's own upstream
            // stacks: the default upstream is named after the environment (dev, staging).
            overrides: { smokeEveryUp: false, ...(UPSTREAM[env] ? { promoteFrom: `bench-${UPSTREAM[env]}` } : {}), ...overrides },
        });
    const stacks = {} as Record<EnvironmentName, Stack>;
    for (const env of ENVIRONMENTS) stacks[env] = await configure(env, {});
    return { ws, stacks, configure };
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

function manifestsFor(env: EnvironmentName, namespace: string): Record<string, unknown>[] {
    const config = readStackConfig(env);
    return environmentManifests({ ...config, namespace });
}

/** The seed's smoke script: each check once, with curl and jq. */
const SEED_SMOKE = `set -e
curl -fsS "$URL/healthz" > /dev/null
curl -fsS "$URL/api/version" | jq -e '.version | length > 0' > /dev/null
curl -fsS "$URL/api/db-status" | jq -e '.connected == true' > /dev/null
curl -fsS -X POST -H 'content-type: application/json' -d '{"test": true}' "$URL/api/test-action" | jq -e '.success == true' > /dev/null
`;

async function seedSmoke(env: EnvironmentName): Promise<void> {
    await must("bash", ["-c", SEED_SMOKE], { env: { ...process.env, URL: `http://127.0.0.1:${PORTS[env]}` } });
}

async function kubectlProgression(ctx: ClusterContext, dir: string): Promise<number> {
    const kc = ["--kubeconfig", ctx.cluster.kubeconfig, "--context", ctx.cluster.context];
    const files = ENVIRONMENTS.map((env) => {
        const file = path.join(dir, `kubectl-${env}.yaml`);
        fs.writeFileSync(
            file,
            manifestsFor(env, `kubectl-${env}`)
                .map((o) => stringify(o))
                .join("---\n"),
        );
        return [env, file] as const;
    });
    const t0 = performance.now();
    for (const [env, file] of files) {
        await must("kubectl", [...kc, "apply", "-f", file]);
        await must("kubectl", [...kc, "rollout", "status", "deployment/web", "-n", `kubectl-${env}`, "--timeout=300s"]);
        await seedSmoke(env);
    }
    const total = (performance.now() - t0) / 1000;
    await must("kubectl", [...kc, "delete", "namespace", ...ENVIRONMENTS.map((e) => `kubectl-${e}`), "--wait=true", "--timeout=300s"]);
    return total;
}

/** A chart per environment whose templates are the rendered manifests, as they are. */
function writeChart(dir: string, env: EnvironmentName): string {
    const chart = path.join(dir, `chart-${env}`);
    fs.rmSync(chart, { recursive: true, force: true });
    fs.mkdirSync(path.join(chart, "templates"), { recursive: true });
    fs.writeFileSync(path.join(chart, "Chart.yaml"), stringify({ apiVersion: "v2", name: "web", version: "1.0.0", description: `web in ${env}` }));
    // Helm templates with Go templates: the manifests hold no "{{", so they pass through unchanged.
    fs.writeFileSync(
        path.join(chart, "templates", "manifests.yaml"),
        manifestsFor(env, `helm-${env}`)
            .map((o) => stringify(o))
            .join("---\n"),
    );
    return chart;
}

async function helmProgression(ctx: ClusterContext, helm: string, dir: string): Promise<number> {
    const kc = ["--kubeconfig", ctx.cluster.kubeconfig, "--kube-context", ctx.cluster.context];
    const charts = ENVIRONMENTS.map((env) => [env, writeChart(dir, env)] as const);
    const t0 = performance.now();
    for (const [env, chart] of charts) {
        // The release is stored in default; the chart's objects carry their own namespace.
        await must(helm, [...kc, "upgrade", "--install", `web-${env}`, chart, "-n", "default", "--wait", "--timeout", "5m"]);
        // `helm test` runs a test pod to completion, which simulated nodes never do: the seed's
        // curl/jq checks stand in for it, as in the kubectl pipeline.
        await seedSmoke(env);
    }
    const total = (performance.now() - t0) / 1000;
    for (const [env] of charts) await must(helm, [...kc, "uninstall", `web-${env}`, "-n", "default", "--wait"]);
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
    /** Helm's binary, or undefined when it could not be built. */
    readonly helm: string | undefined;
    /** Runs of the deterministic-failure scenario (each may wait out a deadline on old code). */
    readonly failureRuns: number;
    /** Leave the stacks deployed (with --keep-cluster), to look around afterwards. */
    readonly keep: boolean;
    /** Which of progression, nochange, smoke, failure to run. */
    readonly scenarios: ReadonlySet<string>;
}

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
    for (let r = 1; r <= progressionRuns; r++) {
        log(`progression run ${r}/${opts.runs}: pulumi up dev, staging, prod`);
        const t0 = performance.now();
        for (const env of ENVIRONMENTS) {
            const steps = stepTimes();
            const te = performance.now();
            await s.stacks[env].up({ ...quiet, onEvent: steps.onEvent });
            rec.add(`progression.pulumi.${env}`, `pulumi up -s ${env} from empty`, "s", (performance.now() - te) / 1000);
        }
        rec.add("progression.pulumi", "full progression: pulumi up dev, staging, prod", "s", (performance.now() - t0) / 1000);
        if (r < progressionRuns) {
            for (const env of [...ENVIRONMENTS].reverse()) await s.stacks[env].destroy(quiet);
        }
        log(`progression run ${r}/${opts.runs}: the seed's kubectl pipeline`);
        rec.add("progression.kubectl", "full progression: kubectl apply, rollout status, curl/jq", "s", await kubectlProgression(ctx, dir));
        if (opts.helm) {
            log(`progression run ${r}/${opts.runs}: helm upgrade --install --wait`);
            rec.add("progression.helm", "full progression: helm upgrade --install --wait, curl/jq", "s", await helmProgression(ctx, opts.helm, dir));
        } else {
            rec.note("progression.helm", "full progression: helm upgrade --install --wait, curl/jq", "s", "Helm not built (bench/helm.sh failed)");
        }
    }

    // 2. A no-change `up` of each stack against a bare preview of an empty program.
    const empty = emptyProgram();
    const emptyStack = await LocalWorkspace.createOrSelectStack({ stackName: "bench-empty", workDir: empty }, { envVars: s.ws.envVars });
    for (let r = 1; r <= (opts.scenarios.has("nochange") ? opts.runs : 0); r++) {
        log(`no-change run ${r}/${opts.runs}`);
        const tp = performance.now();
        await emptyStack.preview(quiet);
        rec.add("preview.empty", "pulumi preview of an empty TypeScript program", "s", (performance.now() - tp) / 1000);
        for (const env of ENVIRONMENTS) {
            const t = performance.now();
            const result = await s.stacks[env].up(quiet);
            rec.add(`nochange.up.${env}`, `pulumi up -s ${env}, nothing changed`, "s", (performance.now() - t) / 1000);
            const changed = Object.entries(result.summary.resourceChanges ?? {}).filter(([k, v]) => k !== "same" && (v ?? 0) > 0);
            if (changed.length > 0) log(`warning: the no-change up of ${env} changed ${JSON.stringify(Object.fromEntries(changed))}`);
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
        await s.configure("staging", { smokeBaseUrl: `http://127.0.0.1:${FAILING_PORT}`, env: { BENCH_RUN: `${opts.label}-${r}-${Date.now()}` } });
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
    await s.configure("staging", {});
    await s.stacks.staging.up(quiet).catch(() => undefined);

    if (!opts.keep) {
        for (const env of [...ENVIRONMENTS].reverse())
            await s.stacks[env].destroy(quiet).catch((err: Error) => log(`destroy ${env}: ${err.message.split("\n")[0]}`));
    }
    await emptyStack.workspace.removeStack("bench-empty").catch(() => undefined);
}
