// `npm run demo`: dev -> staging -> prod on the built-in local cluster, each environment gated on
// the previous one's smoke checks. Safe to re-run: the cluster, the state, the passphrase and the
// generated secrets are kept in .local/ and reused.
//
//   npm run demo                        real pods when this machine can run the node, else simulated
//   npm run demo -- --simulated         simulated pods: faster, no container runs
//   npm run demo -- --fail staging=db   staging's app answers connected:false: staging fails, prod is not deployed
//   npm run demo -- --fail staging=crash    staging's image exits at start: its rollout fails (real pods)
//   npm run demo -- --fail staging=migration-lock
//                                       a long transaction holds a lock staging's new migration needs:
//                                       the lock budget stops it, staging fails, prod is not deployed
//   npm run demo -- --promote-unverified   prod is configured with an image staging never verified: prod refuses
//   npm run demo:down                   stop the apps, the database and the cluster (state is kept)
//   npm run demo:down -- --purge        also remove the data: the node's (containerd's images and
//                                       content) and the demo's (.local: state, database, secrets)
//
// With PostgreSQL's server installed (Debian's `postgresql`), each environment also gets the
// migration gate: a database of its own on a local server (.local/pg, unix socket only) and the
// reference app's migrations (migrations/), run in command mode before the app is updated.
import { execFileSync } from "node:child_process";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import * as fs from "node:fs";
import * as path from "node:path";
import { ENVIRONMENT_RULES, ENVIRONMENTS, type EnvironmentName } from "../config/environments";
import { readStackConfig } from "../config/stackFile";
import {
    type Cluster,
    clusterDown,
    clusterStatus,
    ClusterScriptError,
    clusterUp,
    forgetStacks,
    ingressUrl,
    kubectlJson,
    localSecrets,
    type NodeMode,
    prepareStack,
    previewRoute,
    progress,
    realNodeOverrides,
    REPO,
    startApp,
    stopApp,
    useToolchain,
    workspace,
} from "../tests/harness/local";
import { type HeldLock, holdLock, type Postgres, POSTGRES_MISSING, postgresBin, startPostgres } from "../tests/harness/postgres";

const LOCAL = path.join(REPO, ".local");
const KUBECONFIG = path.join(LOCAL, "kubeconfig");
// The same cluster `npm run cluster:up` starts.
const CLUSTER = "env-progression";
const PORTS: Record<EnvironmentName, number> = { dev: 18081, staging: 18082, prod: 18083 };
// The demo shows the gate on every run, so `--fail staging=db` stops a re-run too; a real stack
// checks only when what is deployed changes (smokeEveryUp defaults to false).
const DEMO_OVERRIDES = { smokeDeadline: "20s", smokeEveryUp: true };
// On the real node a rollout that cannot become ready fails `up` after this, with the pods' reasons.
const REAL_ROLLOUT_TIMEOUT = "90s";
const APP_FAILURES = ["db", "action", "healthz", "version"];
const PG_DIR = path.join(LOCAL, "pg");
/** The failure mode that is about the database rather than the app. */
const MIGRATION_LOCK = "migration-lock";
/** What `--fail ENV=migration-lock` adds to that environment's migrations: it needs ACCESS EXCLUSIVE on items. */
const LOCKED_MIGRATION = { file: "003_demo_items_add_sku.sql", sql: "-- Added by `npm run demo -- --fail <env>=migration-lock`.\nALTER TABLE items ADD COLUMN IF NOT EXISTS sku text;\n" };

// An image staging never ran: with --promote-unverified, prod is configured with it and refuses.
const UNVERIFIED_IMAGE = "ghcr.io/env-progression/web:1.5.0@sha256:" + "0d".repeat(32);

interface Options {
    readonly nodes: NodeMode | "auto";
    readonly failures: Partial<Record<EnvironmentName, string>>;
    readonly promoteUnverified: boolean;
}

function usage(message: string): never {
    process.stderr.write(
        `demo: ${message}; allowed: --simulated | --real, --fail ENV=MODE (e.g. --fail staging=db; modes: ${APP_FAILURES.join(", ")}, ${MIGRATION_LOCK}, or crash on real pods), --promote-unverified, or 'down'\n`,
    );
    process.exit(2);
}

function parseOptions(argv: string[]): Options {
    const failures: Partial<Record<EnvironmentName, string>> = {};
    let nodes: Options["nodes"] = "auto";
    let promoteUnverified = false;
    for (let i = 0; i < argv.length; i += 1) {
        const arg = argv[i]!;
        if (arg === "--simulated" || arg === "--real") {
            nodes = arg === "--real" ? "real" : "simulated";
            continue;
        }
        if (arg === "--promote-unverified") {
            promoteUnverified = true;
            continue;
        }
        const value = arg.startsWith("--fail=") ? arg.slice(7) : arg === "--fail" ? argv[++i] : undefined;
        const m = value === undefined ? null : /^(dev|staging|prod)=([a-z,-]+)$/.exec(value);
        if (!m) usage(`unknown argument '${arg}'`);
        const modes = m[2]!.split(",");
        const bad = modes.find((x) => x !== "crash" && x !== MIGRATION_LOCK && !APP_FAILURES.includes(x));
        if (bad) usage(`--fail ${value}: '${bad}' is not a failure mode`);
        if (modes.includes("crash") && modes.length > 1) usage(`--fail ${value}: crash replaces the image, so it cannot combine with other modes`);
        if (modes.includes(MIGRATION_LOCK) && postgresBin() === undefined) usage(`--fail ${value} needs a database. ${POSTGRES_MISSING}`);
        failures[m[1] as EnvironmentName] = m[2]!;
    }
    if (nodes === "simulated" && Object.values(failures).includes("crash")) usage("--fail ENV=crash needs real pods; simulated ones never crash");
    return { nodes, failures, promoteUnverified };
}

/** The app's failure modes, without the database's. */
function appModes(modes: string | undefined): string | undefined {
    const left = (modes ?? "").split(",").filter((m) => m !== "" && m !== MIGRATION_LOCK);
    return left.length > 0 ? left.join(",") : undefined;
}

/**
 * Each environment's migration settings: its own database, a copy of the reference app's
 * migrations (so `--fail ENV=migration-lock` can add one without touching the repository), and
 * the reference runner. With `locked`, that environment's database first gets the committed
 * schema, then a long transaction takes a lock on `items` that the added migration needs.
 */
async function migrationSetup(pg: Postgres, locked: readonly EnvironmentName[]) {
    const overrides: Partial<Record<EnvironmentName, Record<string, unknown>>> = {};
    const urls: Partial<Record<EnvironmentName, string>> = {};
    const held: HeldLock[] = [];
    for (const env of ENVIRONMENTS) {
        const db = `app_${env}`;
        pg.createDatabase(db);
        const dir = path.join(LOCAL, "migrations", env);
        fs.rmSync(dir, { recursive: true, force: true });
        fs.mkdirSync(dir, { recursive: true });
        for (const f of fs.readdirSync(path.join(REPO, "migrations")).filter((f) => f.endsWith(".sql"))) fs.copyFileSync(path.join(REPO, "migrations", f), path.join(dir, f));
        urls[env] = pg.url(db);
        overrides[env] = { migrationsDir: dir, migrationCommand: path.join(REPO, "migrations", "migrate.sh") };
        if (locked.includes(env)) {
            execFileSync(path.join(REPO, "migrations", "migrate.sh"), { env: { ...process.env, DATABASE_URL: pg.url(db), MIGRATIONS_DIR: path.join(REPO, "migrations") }, stdio: "ignore" });
            fs.writeFileSync(path.join(dir, LOCKED_MIGRATION.file), LOCKED_MIGRATION.sql);
            const lock = await holdLock(pg, db, "items");
            held.push(lock);
            process.stdout.write(
                `${env}: a long transaction (pid ${lock.pid}) holds a lock on items, and ${env} gets a new migration (${LOCKED_MIGRATION.file}) that needs ACCESS EXCLUSIVE on it; ` +
                    `${env}'s lock budget is ${ENVIRONMENT_RULES[env].lockTimeoutMs} ms\n`,
            );
        }
    }
    return { overrides, urls, release: () => Promise.all(held.map((l) => l.release())) };
}

function down(purge: boolean): void {
    for (const env of ENVIRONMENTS) stopApp(path.join(LOCAL, "apps", `${env}.pid`));
    if (fs.existsSync(path.join(PG_DIR, "data")) && postgresBin() !== undefined) startPostgres(PG_DIR).stop();
    useToolchain();
    clusterDown(CLUSTER, KUBECONFIG, { purge });
    if (purge) {
        fs.rmSync(LOCAL, { recursive: true, force: true });
        process.stdout.write(`demo: removed ${path.relative(process.cwd(), LOCAL) || LOCAL} (the stacks' state, the database, the generated secrets)\n`);
    }
}

/** Kept as one function: the demo's steps in the order they run and print, read top to bottom. */
async function main(argv: string[]): Promise<number> {
    if (argv[0] === "down") {
        const rest = argv.slice(1);
        if (rest.some((a) => a !== "--purge")) usage(`unknown argument '${rest.find((a) => a !== "--purge") ?? ""}' after down; allowed: --purge`);
        down(rest.includes("--purge"));
        return 0;
    }
    const { nodes, failures, promoteUnverified } = parseOptions(argv);
    const lockFailures = ENVIRONMENTS.filter((e) => (failures[e] ?? "").split(",").includes(MIGRATION_LOCK));
    const t0 = Date.now();
    const step = (what: string) => process.stdout.write(`\n=== ${what} (${((Date.now() - t0) / 1000).toFixed(0)}s)\n`);

    step("toolchain (built once into ~/.cache/env-progression, then reused)");
    const toolEnv = useToolchain();

    step("local cluster");
    fs.mkdirSync(path.join(LOCAL, "apps"), { recursive: true });
    const cluster = clusterUp(CLUSTER, KUBECONFIG, { nodes });
    process.stdout.write(`context ${cluster.context} at ${cluster.server}, ${cluster.mode === "real" ? "one real node" : "simulated nodes"}\n`);

    let pg: Postgres | undefined;
    let migrations: Awaited<ReturnType<typeof migrationSetup>> | undefined;
    if (postgresBin() === undefined) {
        step("migrations: off (PostgreSQL's server is not installed; apt-get install -y postgresql turns the migration gate on)");
    } else {
        step("PostgreSQL (.local/pg, unix socket only): one database per environment, migrated by the gate before each app");
        pg = startPostgres(PG_DIR);
        migrations = await migrationSetup(pg, lockFailures);
    }
    const secrets = localSecrets(path.join(LOCAL, "secrets.json"));
    // Each environment's database URL and migration settings, and prod's unverified image if asked.
    const gateValues = (env: EnvironmentName) => {
        const database = migrations?.urls[env];
        return {
            secrets: { ...secrets[env], ...(database ? { DATABASE_URL: database } : {}) },
            overrides: { ...migrations?.overrides[env], ...(env === "prod" && promoteUnverified ? { image: UNVERIFIED_IMAGE } : {}) },
        };
    };

    const ws = workspace(LOCAL, { PATH: process.env["PATH"] ?? "", ...(toolEnv["PULUMI_HOME"] ? { PULUMI_HOME: toolEnv["PULUMI_HOME"] } : {}) });
    // A cluster created anew (after demo:down, or a switch between real and simulated nodes, which
    // recreates it at another address) holds none of what the state describes, and the state's
    // provider still points at the old one: start the stacks' state over.
    const idFile = path.join(LOCAL, "cluster-id");
    const clusterId = kubectlJson<{ metadata: { uid: string } }>(cluster, ["get", "namespace", "kube-system"]).metadata.uid;
    if (fs.existsSync(idFile) && fs.readFileSync(idFile, "utf8").trim() !== clusterId) {
        await forgetStacks(ws, ENVIRONMENTS);
        process.stdout.write("the cluster is new: the stacks' state described the previous one and was dropped; up creates everything again\n");
    }
    fs.writeFileSync(idFile, clusterId);
    // Each stack's config: the committed file plus local values; `withFailures` false prepares the
    // environments as they would be without the --fail modes.
    const prepareAll = async (withFailures: boolean) => {
        const stacks = [];
        for (const env of ENVIRONMENTS) {
            const fail = withFailures ? failures[env] : undefined;
            const appFail = appModes(fail);
            const gate = gateValues(env);
            if (cluster.mode === "real") {
                const { namespace, app } = readStackConfig(env);
                const url = ingressUrl(namespace, app.name, app.port);
                if (withFailures) process.stdout.write(`${env}: ${url}${fail ? `  (failing: ${fail})` : ""}\n`);
                const values = {
                    cluster,
                    smokeBaseUrl: url,
                    secrets: gate.secrets,
                    overrides: { ...DEMO_OVERRIDES, ...realNodeOverrides(cluster, fail === "crash" ? "web-crash" : "web"), rolloutTimeout: REAL_ROLLOUT_TIMEOUT, ...gate.overrides },
                    ...(appFail && appFail !== "crash" ? { extraEnv: { FAIL: appFail } } : {}),
                };
                stacks.push([env, await prepareStack(ws, env, values)] as const);
            } else {
                stacks.push([
                    env,
                    await prepareStack(ws, env, { cluster, smokeBaseUrl: `http://127.0.0.1:${PORTS[env]}`, secrets: gate.secrets, overrides: { ...DEMO_OVERRIDES, ...gate.overrides } }),
                ] as const);
            }
        }
        return stacks;
    };
    if (cluster.mode === "real") {
        step("real pods: the node runs the images it holds; the checks go in through the ingress proxy to each preview Service, then live traffic moves");
        for (const env of ENVIRONMENTS) stopApp(path.join(LOCAL, "apps", `${env}.pid`));
    } else {
        step("reference app, one per environment (pods are simulated; these are the smoke targets, on the live route and under /preview alike)");
        for (const env of ENVIRONMENTS) {
            const pidFile = path.join(LOCAL, "apps", `${env}.pid`);
            stopApp(pidFile);
            const fail = appModes(failures[env]);
            const app = await startApp({ port: PORTS[env], pidFile, logFile: path.join(LOCAL, "apps", `${env}.log`), ...(fail ? { fail } : {}) });
            process.stdout.write(`${env}: ${app.url}${fail ? `  (failing: ${fail})` : ""}\n`);
        }
    }
    writeEnvFile(ws.envVars);
    let stacks = await prepareAll(true);
    // The local cluster may have been deleted (demo:down) or recreated since the last run while
    // .local/state remembers its objects: refresh first, so `up` recreates whatever is gone.
    step("pulumi refresh: align the state with the cluster");
    for (const [env, stack] of stacks) {
        const refreshed = await stack.refresh({ color: "never" });
        const gone = refreshed.summary.resourceChanges?.["delete"] ?? 0;
        process.stdout.write(`${env}: ${gone > 0 ? `${gone} resources no longer in the cluster; up recreates them` : "in step"}\n`);
    }
    // A failure shows what it must: that live traffic stays on the last verified revision. Where a
    // failing environment has none yet, the progression first runs as it would without the failure.
    const failing = ENVIRONMENTS.filter((e) => appModes(failures[e]) !== undefined);
    if (cluster.mode === "real" && failing.length > 0) {
        const clean = await prepareAll(false);
        const first: (typeof clean)[number][] = [];
        for (const [env, stack] of clean) {
            first.push([env, stack]);
            if (env === failing.at(-1)) break;
        }
        const fresh = [];
        for (const [env, stack] of first) if (!(await stack.outputs())["release"]) fresh.push(env);
        if (fresh.length > 0) {
            step(`${fresh.join(", ")} ${fresh.length === 1 ? "has" : "have"} no verified revision yet: first the progression without the failure, up to ${failing.at(-1)}`);
            const warm = await progress(first, (t) => process.stdout.write(t));
            if (warm.failed) {
                process.stdout.write(`\n${warm.failed.environment} failed without the failure mode; fix that first.\n`);
                return 1;
            }
        }
        stacks = await prepareAll(true);
    }
    step("pulumi up -s dev, then staging, then prod; each checks its candidate on the preview route, then moves live traffic");
    const result = await progress(stacks, (s) => process.stdout.write(s)).finally(() => migrations?.release());
    if (result.failed) {
        const rest = ENVIRONMENTS.slice(ENVIRONMENTS.indexOf(result.failed.environment) + 1);
        if (promoteUnverified && result.failed.environment === "prod") {
            process.stdout.write(`\nprod refused an image staging never verified (above), before creating anything. 'npm run demo' without --promote-unverified deploys what staging verified.\n`);
            return 1;
        }
        process.stdout.write(`\n${result.failed.environment} failed${rest.length ? `: ${rest.join(" and ")} not deployed` : ""}. Fix it and run 'npm run demo' again.\n`);
        if (cluster.mode === "real") process.stdout.write(await liveAfterFailure(result.failed.environment));
        // A part of the local node that stopped is a different fix from a broken app: say which.
        const status = clusterStatus(CLUSTER, KUBECONFIG);
        if (!status.ok) process.stdout.write(`\nThe local cluster itself is not healthy:\n${status.text}`);
        return 1;
    }
    const summary = ENVIRONMENTS.map((env) => {
        const outs = result.outputs[env] ?? {};
        const smoke = outs["smoke"] as { passedAt?: string } | undefined;
        const schema = pg ? `  schema ${pg.sql(`app_${env}`, "SELECT max(version) FROM schema_migrations")}` : "";
        return `${env.padEnd(8)} namespace ${String(outs["namespace"]).padEnd(12)} replicas ${String(outs["replicas"]).padEnd(3)} smoke passed at ${smoke?.passedAt ?? "?"}${schema}`;
    });

    step("what runs where");
    for (const line of summary) process.stdout.write(`${line}\n`);
    process.stdout.write(whatRuns(cluster));
    process.stdout.write(`\nkubectl --kubeconfig ${path.relative(process.cwd(), KUBECONFIG)} get ns,deploy,netpol -A   # look around\n`);
    process.stdout.write(`npm run demo:down                                          # stop apps and cluster\n`);
    process.stdout.write(`done in ${((Date.now() - t0) / 1000).toFixed(0)}s\n`);
    return 0;
}

/** The environment's release output as the stack holds it. */
async function releaseOf(env: EnvironmentName): Promise<{ live: string; previous: string | null } | undefined> {
    const ws = workspace(LOCAL);
    const stack = await LocalWorkspace.selectStack({ stackName: env, workDir: ws.projectDir }, { envVars: ws.envVars });
    return (await stack.outputs())["release"]?.value as { live: string; previous: string | null } | undefined;
}

/** What the failed environment's live and preview routes answer now: the proof that users never met the failure. */
async function liveAfterFailure(env: EnvironmentName): Promise<string> {
    const { namespace, app } = readStackConfig(env);
    const live = ingressUrl(namespace, app.name, app.port);
    const preview = previewRoute(live);
    const answer = async (url: string) => {
        try {
            const res = await fetch(`${url}/api/db-status`, { signal: AbortSignal.timeout(5_000) });
            return `${res.status} ${(await res.text()).trim()}`;
        } catch (err) {
            return `no answer (${(err as Error).message})`;
        }
    };
    const release = await releaseOf(env);
    let out = `\n${env}'s live route still serves its last verified revision${release ? ` (${release.live})` : ""}; the failed candidate runs behind the preview route for inspection:\n`;
    out += `  live     ${live}/api/db-status -> ${await answer(live)}\n`;
    out += `  preview  ${preview}/api/db-status -> ${await answer(preview)}\n`;
    if (release?.previous) out += `\nto go back one more verified revision: (. .local/env && npm run progression -- rollback -s ${env} -C .local/project)\n`;
    return out;
}

/**
 * .local/env: the demo's backend, passphrase and toolchain, for running pulumi and progression
 * against its stacks by hand: `. .local/env && pulumi stack output -s staging -C .local/project`.
 */
function writeEnvFile(envVars: Record<string, string>): void {
    const keep = ["PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_SKIP_UPDATE_CHECK", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "PULUMI_HOME", "PATH"];
    const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
    const lines = keep.filter((k) => envVars[k] !== undefined).map((k) => `export ${k}=${quote(envVars[k]!)}`);
    fs.writeFileSync(path.join(LOCAL, "env"), `# Written by npm run demo: the demo stacks' backend and tools.\n${lines.join("\n")}\n`);
}

/** Each Deployment's ready pods, and on the real node where they run and the memory they use. */
function whatRuns(cluster: Cluster): string {
    const deployments = kubectlJson<{ items: { metadata: { namespace: string; name: string }; status: { readyReplicas?: number }; spec: { replicas: number } }[] }>(cluster, [
        "get",
        "deployments",
        "-A",
        "-l",
        "app.kubernetes.io/part-of=env-progression",
    ]);
    let out = "";
    if (cluster.mode === "simulated") {
        for (const d of deployments.items) out += `  ${d.metadata.namespace}/${d.metadata.name}: ${d.status.readyReplicas ?? 0}/${d.spec.replicas} ready (simulated pods)\n`;
        return out;
    }
    const pods = kubectlJson<{ items: { metadata: { namespace: string; labels?: Record<string, string> }; spec: { nodeName?: string }; status: { phase: string; podIP?: string } }[] }>(cluster, [
        "get",
        "pods",
        "-A",
        "-l",
        "app.kubernetes.io/part-of=env-progression",
    ]);
    for (const d of deployments.items) {
        const mine = pods.items.filter((p) => p.metadata.namespace === d.metadata.namespace && p.status.phase === "Running");
        const ips = mine.map((p) => p.status.podIP ?? "?").sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
        const shown = ips.length > 3 ? `${ips.slice(0, 2).join(", ")}, ... ${ips.at(-1)}` : ips.join(", ");
        out += `  ${d.metadata.namespace}/${d.metadata.name}: ${d.status.readyReplicas ?? 0}/${d.spec.replicas} ready, real pods on ${mine[0]?.spec.nodeName ?? "?"} (${shown})\n`;
    }
    const memory = podsMemory();
    if (memory !== undefined) out += `  all pods together use ${(memory / 2 ** 20).toFixed(0)} MiB of memory (the node's kubepods cgroup)\n`;
    out += `\ncurl ${ingressUrl("web-prod")}/api/version   # through the ingress proxy, as the smoke checks go\n`;
    return out;
}

/** Memory in use by every pod on the node, from kubelet's cgroup (v1, else v2); undefined if unreadable. */
function podsMemory(): number | undefined {
    for (const f of ["/sys/fs/cgroup/memory/kubepods/memory.usage_in_bytes", "/sys/fs/cgroup/kubepods/memory.current"]) {
        try {
            return Number(fs.readFileSync(f, "utf8").trim());
        } catch {
            /* try the next layout */
        }
    }
    return undefined;
}

main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
        // cluster.sh has printed its one line with the fix; a stack trace would add nothing.
        if (err instanceof ClusterScriptError) process.stderr.write(`demo: ${err.message}\n`);
        else process.stderr.write(`demo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        process.exitCode = 1;
    },
);
