// The migration gate end to end: the real `pulumi`, a real kube-apiserver (kwok simulates nodes
// and pods), and a real PostgreSQL (Debian's server, started here as a non-root user on a unix
// socket in a temporary directory).
//   - command mode: a long transaction holds a lock; the migration needing ACCESS EXCLUSIVE is
//     stopped within staging's lock budget, `up` fails, no candidate revision is created, live
//     traffic stays on the revision it was on and the table is unchanged; once the lock is gone the
//     next `up` migrates, rolls out the new revision, passes smoke and switches live traffic to it.
//   - the lint: an index built without CONCURRENTLY is refused at prod's preview, warned in dev's;
//     prod's `up` refuses it before any resource is registered (no provider, namespace or policy).
//   - job mode: no container runs on kwok (its Job pods simply "succeed"), so the test holds the
//     pod Pending and sets the Job's failure through the status subresource, as the Job controller
//     would; it checks the manifest, the failure report, the app not deployed, and the retry: a
//     new Job, which completes, and then the app rolls out and goes live.
// The app runs as revisions (Deployment web-<revision>); which one is live, the live Service's
// selector says (tests/e2e/helpers/live.ts).
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENVIRONMENT_RULES, type EnvironmentName } from "../../config/environments";
import { readMigrationSources } from "../../config/groups/migration";
import { stackConfigWith, upstreamRecordFor } from "../records";
import {
    type Cluster,
    clusterDown,
    clusterUp,
    kubectlJson,
    localSecrets,
    prepareStack,
    progress,
    type ProgressionResult,
    REPO,
    type RunningApp,
    seedVerified,
    startApp,
    useToolchain,
    type Workspace,
    workspace,
} from "../../tests/harness/local";
import { holdLock, type Postgres, POSTGRES_MISSING, postgresBin, startPostgres } from "../../tests/harness/postgres";
import { liveDeployment, liveRevision, revisionDeployments } from "./helpers/live";

const CLUSTER = `progression-e2e-migration-${process.pid}`;
const DIGEST = (c: string) => `sha256:${c.repeat(64)}`;
const IMAGE_V1 = `ghcr.io/env-progression/web:1.4.2@${DIGEST("1")}`;
const IMAGE_V2 = `ghcr.io/env-progression/web:1.4.3@${DIGEST("2")}`;

let tmp: string;
let cluster: Cluster;
let kubeconfig: string | undefined;
let ws: Workspace;
let pg: Postgres;
let secrets: ReturnType<typeof localSecrets>;
const apps: RunningApp[] = [];

async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer().listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
        server.on("error", reject);
    });
}

/**
 * Gives the upstream of `env` (dev for staging, staging for prod) the verified record that the
 * image and migrations configured here need: these tests are about the gate, not promotion.
 */
async function seedUpstream(env: EnvironmentName, overrides: Record<string, unknown>): Promise<void> {
    const upstream = ENVIRONMENT_RULES[env].promotesFrom;
    if (upstream === undefined) return;
    // The upstream verified exactly what this stack runs: this file is about the gate, not promotion.
    let candidate;
    try {
        candidate = stackConfigWith(env, overrides, process.cwd());
    } catch {
        return; // A config the program refuses itself needs no upstream record.
    }
    const stackName = typeof overrides["promoteFrom"] === "string" ? overrides["promoteFrom"] : upstream;
    await seedVerified(ws, stackName, upstreamRecordFor(candidate, upstream, ws.promotionKey));
}

async function stackFor(env: EnvironmentName, stackName: string, overrides: Record<string, unknown>, databaseUrl?: string): Promise<Stack> {
    await seedUpstream(env, overrides);
    const app = await startApp({ port: await freePort(), logFile: path.join(tmp, `app-${stackName}.log`) });
    apps.push(app);
    return prepareStack(ws, env, {
        cluster,
        stackName,
        smokeBaseUrl: app.url,
        secrets: { ...secrets[env], ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) },
        overrides: { smokeDeadline: "8s", smokeInterval: "200ms", ...overrides },
    });
}

const kubectl = (args: string[]) => execFileSync("kubectl", ["--kubeconfig", cluster.kubeconfig, "--context", cluster.context, ...args], { encoding: "utf8" });
const get = <T = any>(args: string[]) => kubectlJson<T>(cluster, ["get", ...args]);
const exists = (args: string[]) =>
    spawnSync("kubectl", ["--kubeconfig", cluster.kubeconfig, "--context", cluster.context, "get", ...args], { encoding: "utf8" }).status === 0;
/** The image of the revision live traffic reaches. */
const imageOf = (ns: string) => liveDeployment(cluster, ns).spec.template.spec.containers[0].image as string;
const release = async (stack: Stack) => (await stack.outputs())["release"]?.value as { live: string; previous: string | null; candidate: string };
const columns = (db: string) =>
    pg.sql(db, "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'items'");
/** The figure the gate's report gives: "... after 2.07 s." */
const stoppedAfter = (output: string) => Number(/migration failed in \w+ .*? after (\d+\.\d+) s\./.exec(output)?.[1]);

const available = postgresBin() !== undefined;

beforeAll(() => {
    if (!available) throw new Error(POSTGRES_MISSING);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "progression-mig-"));
    pg = startPostgres(fs.mkdtempSync(path.join(os.tmpdir(), "pg-")));
    const toolEnv = useToolchain();
    const home = path.join(tmp, "pulumi-home");
    fs.mkdirSync(home);
    if (toolEnv["PULUMI_HOME"]) fs.symlinkSync(path.join(toolEnv["PULUMI_HOME"], "plugins"), path.join(home, "plugins"));
    kubeconfig = path.join(tmp, "kubeconfig");
    cluster = clusterUp(CLUSTER, kubeconfig);
    ws = workspace(tmp, { PATH: process.env["PATH"] ?? "", PULUMI_HOME: home });
    secrets = localSecrets(path.join(tmp, "secrets.json"));
});

afterAll(async () => {
    // The cluster and the state go with the temporary directory: nothing outlives the suite.
    for (const app of apps) await app.stop();
    // Also after a failed start: whatever kwokctl began is removed.
    if (kubeconfig) clusterDown(CLUSTER, kubeconfig);
    if (pg) {
        pg.stop();
        fs.rmSync(pg.dir, { recursive: true, force: true });
    }
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe("command mode: a lock budget in front of the rollout", () => {
    let stack: Stack;
    let migrations: string;
    const db = "app_staging";

    it("first up: migrates, then rolls out and passes smoke", async () => {
        migrations = path.join(tmp, "migrations");
        fs.mkdirSync(migrations);
        for (const f of ["001_create_items.sql", "migrate.sh"]) fs.copyFileSync(path.join(REPO, "migrations", f), path.join(migrations, f));
        pg.createDatabase(db);
        stack = await stackFor(
            "staging",
            "staging",
            { image: IMAGE_V1, migrationsDir: migrations, migrationCommand: path.join(migrations, "migrate.sh") },
            pg.url(db),
        );
        const result = await progress([["staging", stack]]);
        expect(result.failed?.output).toBeUndefined();
        expect(imageOf("web-staging")).toBe(IMAGE_V1);
        expect(revisionDeployments(cluster, "web-staging")).toEqual([[`web-${liveRevision(cluster, "web-staging")}`, 3]]);
        expect(columns(db)).toBe("id,name,created_at");
    });

    it("a long transaction holds a lock: the migration is stopped within staging's lock budget, the app and the table stay as they were", async () => {
        fs.copyFileSync(path.join(REPO, "migrations", "002_items_add_note.sql"), path.join(migrations, "002_items_add_note.sql"));
        stack = await stackFor(
            "staging",
            "staging",
            { image: IMAGE_V2, migrationsDir: migrations, migrationCommand: path.join(migrations, "migrate.sh") },
            pg.url(db),
        );
        const lock = await holdLock(pg, db, "items");
        let result: Awaited<ReturnType<typeof progress>>;
        try {
            result = await progress([["staging", stack]]);
        } finally {
            await lock.release();
        }
        const output = result.failed?.output ?? "";
        expect(result.deployed).toEqual([]);
        expect(output).toContain("Stopped by staging's lock budget: lock_timeout=2s.");
        expect(output).toContain("canceling statement due to lock timeout");
        expect(output).toContain("The app was not updated");
        const seconds = stoppedAfter(output);
        // Past the lock budget (it did wait), far short of the statement budget: the lock budget stopped it.
        expect(seconds).toBeGreaterThanOrEqual(ENVIRONMENT_RULES.staging.lockTimeoutMs / 1000);
        expect(seconds).toBeLessThan(ENVIRONMENT_RULES.staging.statementTimeoutMs / 1000);
        process.stdout.write(
            `migration e2e: staging's lock budget (${ENVIRONMENT_RULES.staging.lockTimeoutMs} ms) stopped the migration after ${seconds.toFixed(2)} s\n`,
        );
        // The app was not touched: no candidate revision of IMAGE_V2 exists, live traffic stays on IMAGE_V1's.
        const live = liveRevision(cluster, "web-staging");
        expect(imageOf("web-staging")).toBe(IMAGE_V1);
        expect(revisionDeployments(cluster, "web-staging")).toEqual([[`web-${live}`, 3]]);
        expect((await release(stack)).live).toBe(live);
        expect(columns(db)).toBe("id,name,created_at");
        expect(pg.sql(db, "SELECT string_agg(version, ',') FROM schema_migrations")).toBe("001_create_items");
    });

    it("with the lock released, the next up migrates, rolls out the new image, passes smoke and switches live traffic to it", async () => {
        const before = liveRevision(cluster, "web-staging");
        const result = await progress([["staging", stack]]);
        expect(result.failed?.output).toBeUndefined();
        expect(columns(db)).toBe("id,name,created_at,note");
        expect(imageOf("web-staging")).toBe(IMAGE_V2);
        // IMAGE_V1's revision is the rollback target, kept warm.
        const after = result.outputs.staging?.["release"] as { live: string; previous: string | null };
        expect(after.live).toBe(liveRevision(cluster, "web-staging"));
        expect(after.previous).toBe(before);
        expect(revisionDeployments(cluster, "web-staging")).toEqual(
            [
                [`web-${after.live}`, 3],
                [`web-${before}`, ENVIRONMENT_RULES.staging.warmReplicas],
            ].sort(([a], [b]) => String(a).localeCompare(String(b))),
        );
        const smoke = result.outputs.staging?.["smoke"] as { passedAt: string };
        expect(Date.parse(smoke.passedAt)).toBeGreaterThan(Date.now() - 5 * 60_000);
        // The version the gate exposes is the digest of exactly these files.
        const state = await stack.exportStack();
        const run = (state.deployment.resources as { type: string; outputs: Record<string, unknown> }[]).find(
            (r) => r.type === "pulumi-nodejs:dynamic/progression:MigrationRun",
        )!;
        expect(run.outputs["version"]).toBe((readMigrationSources(migrations) as { version: string }).version);
        expect(run.outputs["output"]).toContain("applying 002_items_add_note");
    });
});

describe("the lint, before anything is registered", () => {
    let unsafe: string;
    beforeAll(() => {
        unsafe = path.join(tmp, "unsafe");
        fs.mkdirSync(unsafe);
        fs.copyFileSync(path.join(REPO, "migrations", "001_create_items.sql"), path.join(unsafe, "001_create_items.sql"));
        fs.writeFileSync(path.join(unsafe, "002_items_name_index.sql"), "CREATE INDEX IF NOT EXISTS items_name ON items (name);\n");
    });

    it("prod refuses an index built without CONCURRENTLY; dev only warns", async () => {
        const keys = { migrationsDir: unsafe, migrationCommand: "true" };
        // Its own upstream, so that the record seeded for it leaves the staging stack above alone.
        const prod = await stackFor("prod", "prod-lint", { ...keys, namespace: "web-prod-lint", promoteFrom: "staging-lint" });
        const dev = await stackFor("dev", "dev-lint", { ...keys, namespace: "web-dev-lint" });
        let prodOutput = "";
        const refused = await prod.preview({ color: "never", onOutput: (s) => (prodOutput += s) }).then(
            () => undefined,
            (err: Error) => err,
        );
        expect(refused).toBeInstanceOf(Error);
        prodOutput += refused!.message;
        expect(prodOutput).toContain("002_items_name_index.sql:1  require-concurrent-index-creation");
        expect(prodOutput).toContain("mandatory in prod: the preview fails");

        let devOutput = "";
        const preview = await dev.preview({ color: "never", onOutput: (s) => (devOutput += s) });
        expect(preview.changeSummary["create"]).toBeGreaterThan(0);
        expect(devOutput).toContain("require-concurrent-index-creation");
        expect(devOutput).toContain("advisory in dev: the preview passes");
    });

    it("prod's up refuses it before any resource is registered: no provider, namespace or policy, in state or in the cluster", async () => {
        const namespace = "web-prod-lint-up";
        const prod = await stackFor("prod", "prod-lint-up", { migrationsDir: unsafe, migrationCommand: "true", namespace, promoteFrom: "staging-lint-up" });
        let output = "";
        const refused = await prod.up({ color: "never", onOutput: (s) => (output += s) }).then(
            () => undefined,
            (err: Error) => err,
        );
        expect(refused).toBeInstanceOf(Error);
        output += refused!.message;
        expect(output).toContain("002_items_name_index.sql:1  require-concurrent-index-creation");
        expect(output).toContain("mandatory in prod");
        // The engine registers the stack itself before the program runs; the program registered nothing.
        const resources = ((await prod.exportStack()).deployment as { resources?: { type: string }[] }).resources ?? [];
        expect(resources.map((r) => r.type).filter((t) => t !== "pulumi:pulumi:Stack")).toEqual([]);
        expect(exists(["namespace", namespace])).toBe(false);
    });
});

describe("job mode on a control plane whose pods never run", () => {
    // kwok simulates Job pods: scheduled, "Running", then "Succeeded", with no container and no
    // log. The failure is played the way the Job controller would write it: with every node
    // cordoned the pod stays Pending, and the test sets the Job's final status itself.
    const ns = "web-dev-job";
    let stack: Stack;

    interface JobObject {
        metadata: { name: string };
        spec: any;
        status?: { conditions?: { type: string; status: string }[] };
    }

    const migrationJobs = () => get<{ items: JobObject[] }>(["jobs", "-n", ns, "-l", "app.kubernetes.io/component=migration"]).items;
    const nodes = () => get<{ items: { metadata: { name: string } }[] }>(["nodes"]).items.map((n) => n.metadata.name);

    /** Waits for `found` to return something while `up` runs; fails with the output if `up` ends first. */
    async function during<T>(running: Promise<ProgressionResult>, what: string, found: () => T | undefined): Promise<T> {
        let ended: ProgressionResult | undefined;
        void running.then((r) => (ended = r));
        const deadline = Date.now() + 120_000;
        while (Date.now() < deadline) {
            if (ended) throw new Error(`up ended before ${what}:\n${ended.failed?.output ?? "(it succeeded)"}`);
            const value = exists(["namespace", ns]) ? found() : undefined;
            if (value !== undefined) return value;
            await new Promise((r) => setTimeout(r, 300));
        }
        throw new Error(`no ${what} within 120 s`);
    }

    /** Sets what the Job controller writes when a Job fails, through the status subresource. */
    function fail(job: string): void {
        const now = new Date().toISOString();
        const current = (get(["job", job, "-n", ns]).status ?? {}) as { startTime?: string };
        const condition = (type: string) => ({
            type,
            status: "True",
            reason: "BackoffLimitExceeded",
            message: "Job has reached the specified backoff limit",
            lastTransitionTime: now,
            lastProbeTime: now,
        });
        const status = {
            // The Job controller set startTime when the Job started; it may not change after.
            startTime: current.startTime ?? now,
            active: 0,
            ready: 0,
            failed: 1,
            terminating: 0,
            uncountedTerminatedPods: {},
            conditions: [condition("FailureTarget"), condition("Failed")],
        };
        kubectl(["patch", "job", job, "-n", ns, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })]);
    }

    it("runs the Job the manifest describes; a failed Job fails up with its report, and the app is not deployed", async () => {
        stack = await stackFor("dev", "dev-job", {
            namespace: ns,
            migrationsDir: path.join(REPO, "migrations"),
            migrationImage: "registry.example.com/web-migrate:1.4.2",
            migrationJobCommand: ["/migrations/migrate.sh"],
            migrationDeadline: "2m",
            migrationEgress: ["10.20.0.5/32:5432"],
        });
        for (const node of nodes()) kubectl(["cordon", node]);
        let result: ProgressionResult;
        let job: JobObject;
        try {
            const running = progress([["dev", stack]]);
            job = await during(running, "a migration Job", () => migrationJobs()[0]);
            const pod = job.spec.template.spec;
            expect(job.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 120, ttlSecondsAfterFinished: 86_400 });
            expect(pod.containers[0]).toMatchObject({
                image: "registry.example.com/web-migrate:1.4.2",
                command: ["/migrations/migrate.sh"],
                envFrom: [{ secretRef: { name: "web-migration" } }],
            });
            expect(pod.containers[0].env).toContainEqual({ name: "PGOPTIONS", value: "-c lock_timeout=5000ms -c statement_timeout=60000ms" });
            expect(pod.containers[0].securityContext).toMatchObject({
                runAsNonRoot: true,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
            });
            // What the Job needs exists before it: its Secret and its egress.
            expect(Object.keys(get(["secret", "web-migration", "-n", ns]).data)).toEqual(["DATABASE_URL"]);
            expect(get(["networkpolicy", "web-migration-egress", "-n", ns]).spec.egress[0].ports).toEqual([{ protocol: "TCP", port: 5432 }]);
            expect(revisionDeployments(cluster, ns)).toEqual([]);
            // Its pod exists (Pending: no node takes it); then the Job fails.
            await during(running, "the Job's pod", () =>
                get<{ items: unknown[] }>(["pods", "-n", ns, "-l", `job-name=${job.metadata.name}`]).items.length > 0 ? true : undefined,
            );
            fail(job.metadata.name);
            result = await running;
        } finally {
            for (const node of nodes()) kubectl(["uncordon", node]);
        }
        const output = result.failed?.output ?? "";
        expect(output).toContain(`the migration Job ${ns}/${job.metadata.name} failed: BackoffLimitExceeded: Job has reached the specified backoff limit`);
        expect(output).toContain("The migration itself failed.");
        expect(output).toContain("The app was not updated");
        expect(output).toMatch(new RegExp(`pod ${job.metadata.name}-\\w+: Pending, container not started`));
        expect(output).toContain("logs of the Job's pods");
        // No revision of the app was created.
        expect(revisionDeployments(cluster, ns)).toEqual([]);
    });

    it("the next up retries with a new Job; when it completes, the app rolls out and goes live", async () => {
        const first = migrationJobs().map((j) => j.metadata.name);
        expect(first).toHaveLength(1);
        const result = await progress([["dev", stack]]);
        expect(result.failed?.output).toBeUndefined();
        const retry = migrationJobs().find((j) => !first.includes(j.metadata.name))!;
        // Same trigger, so the same name stem; a new suffix, so a new Job.
        expect(retry.metadata.name.slice(0, 18)).toBe(first[0]!.slice(0, 18));
        expect(retry.status?.conditions).toContainEqual(expect.objectContaining({ type: "Complete", status: "True" }));
        expect(liveDeployment(cluster, ns).status.availableReplicas).toBe(1);
        expect((result.outputs.dev?.["release"] as { live: string }).live).toBe(liveRevision(cluster, ns));
    });
});
