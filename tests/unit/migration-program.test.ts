// The program under Pulumi mocks with the migration gate configured: what it registers in each
// mode, in which order, and what the lint does to a preview in an advisory and a mandatory
// environment.
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { environmentManifests } from "../../components/manifests";
import { migrationRender } from "../../components/migrationManifests";
import { ENVIRONMENT_RULES, type EnvironmentName } from "../../config/environments";
import { readMigrationSources } from "../../config/groups/migration";
import { validateConfig } from "../../config/schema";
import { readStackRaw } from "../../config/stackFile";
import { stackConfigWith, TEST_KEY, upstreamRecordFor } from "../records";
import { committedUpstreams, isSecret, MIGRATION_TYPE as RUN_TYPE, type Recorded, ROOT, runProgram as runWithMocks, type Upstreams, useKubeconfig } from "./helpers/program";

const DIGEST = `sha256:${"e".repeat(64)}`;

const scratch = useKubeconfig();
const JOB_MODE = {
    migrationsDir: "migrations",
    migrationImage: `registry.example.com/web-migrate:1.4.2@${DIGEST}`,
    migrationJobCommand: ["/app/migrate.sh"],
    migrationEgress: ["10.20.0.5/32:5432"],
};
let unsafeDir: string;
beforeAll(() => {
    unsafeDir = path.join(scratch(), "unsafe");
    fs.mkdirSync(unsafeDir);
    fs.copyFileSync(path.join(ROOT, "migrations", "001_create_items.sql"), path.join(unsafeDir, "001_create_items.sql"));
    fs.writeFileSync(path.join(unsafeDir, "002_items_name_index.sql"), "CREATE INDEX IF NOT EXISTS items_name ON items (name);\n");
});

/**
 * Upstream records that verified the same migrations (version, command, image): what a stack
 * runs must be what its upstream verified, and this file is about the gate, not promotion.
 */
function upstreamsWith(stack: EnvironmentName, overrides: Record<string, unknown>): Upstreams {
    const upstreams = committedUpstreams();
    const upstream = ENVIRONMENT_RULES[stack].promotesFrom;
    if (upstream === undefined || overrides["migrationsDir"] === undefined) return upstreams;
    const candidate = stackConfigWith(stack, overrides, ROOT);
    upstreams[`organization/env-progression/${upstream}`] = { verified: upstreamRecordFor(candidate, upstream, TEST_KEY) };
    return upstreams;
}

/** Runs the program; its error, instead of throwing it. */
async function runProgram(stack: EnvironmentName, overrides: Record<string, unknown>) {
    const recorded: Recorded[] = [];
    const warnings: string[] = [];
    let error: unknown;
    try {
        await runWithMocks(stack, overrides, recorded, { warnings, upstreams: upstreamsWith(stack, overrides) });
    } catch (err) {
        error = err;
    }
    return { recorded, warnings, error };
}

const order = (r: Recorded[], type: string) => r.findIndex((x) => x.type === type);

/** dev's config as the program validated it for the job-mode run below, its migration files read. */
function loadedDev(_run: unknown) {
    const raw = readStackRaw("dev");
    const config = validateConfig(
        {
            values: { ...raw.values, DATABASE_URL: "<secret>", API_TOKEN: "<secret>", ...JOB_MODE },
            secretKeys: new Set(["DATABASE_URL", "API_TOKEN"]),
            declaredSecrets: raw.declaredSecrets,
            projectDir: ROOT,
        },
        "dev",
    );
    return { config };
}

describe("command mode on staging", () => {
    let run: Awaited<ReturnType<typeof runProgram>>;
    beforeAll(async () => {
        run = await runProgram("staging", { migrationsDir: "migrations", migrationCommand: "./migrations/migrate.sh" });
    }, 60_000);

    it("registers the migration after the isolation policies and before the app", () => {
        expect(run.error).toBeUndefined();
        const r = run.recorded;
        expect(order(r, "progression:migrate:MigrationGate")).toBeGreaterThan(order(r, "kubernetes:networking.k8s.io/v1:NetworkPolicy"));
        expect(order(r, RUN_TYPE)).toBeGreaterThan(0);
        expect(order(r, RUN_TYPE)).toBeLessThan(order(r, "kubernetes:apps/v1:Deployment"));
    });

    it("runs the team's command with staging's budgets, the files' version and the database secret, kept secret", () => {
        const inputs = run.recorded.find((x) => x.type === RUN_TYPE)!.inputs;
        const version = (readMigrationSources(path.join(ROOT, "migrations")) as { version: string }).version;
        expect(inputs).toMatchObject({
            mode: "command",
            environment: "staging",
            command: "./migrations/migrate.sh",
            cwd: process.cwd(),
            migrationsDir: path.join(ROOT, "migrations"),
            version,
            lockTimeoutMs: 2000,
            statementTimeoutMs: 30_000,
            deadlineMs: 600_000,
        });
        expect(inputs["trigger"]).toMatch(/^[0-9a-f]{64}$/);
        expect(isSecret(inputs["secretEnv"])).toBe(true);
        expect(JSON.stringify(inputs["secretEnv"])).toContain("postgres://app:staging-pw@db.staging:5432/app");
        // Command mode creates nothing in the cluster for the migration.
        expect(run.recorded.filter((x) => x.name.startsWith("staging-migration-") && x.type.startsWith("kubernetes:"))).toEqual([]);
    });
});

describe("job mode on dev", () => {
    let run: Awaited<ReturnType<typeof runProgram>>;
    beforeAll(async () => {
        run = await runProgram("dev", JOB_MODE);
    }, 60_000);

    it("gives the Job its own Secret (the database URL only) and egress, through the stack's provider", () => {
        expect(run.error).toBeUndefined();
        const secret = run.recorded.find((x) => x.type === "kubernetes:core/v1:Secret" && x.name === "dev-migration-secret")!;
        expect(secret.inputs["metadata"]).toMatchObject({ name: "web-migration", namespace: "web-dev" });
        expect(isSecret(secret.inputs["stringData"])).toBe(true);
        expect(JSON.stringify(secret.inputs["stringData"])).toContain("DATABASE_URL");
        expect(JSON.stringify(secret.inputs["stringData"])).not.toContain("API_TOKEN");
        const egress = run.recorded.find((x) => x.name === "dev-migration-egress")!;
        expect(egress.inputs["spec"].egress).toEqual([{ to: [{ ipBlock: { cidr: "10.20.0.5/32" } }], ports: [{ protocol: "TCP", port: 5432 }] }]);
    });

    it("hands the provider the Job manifest, the namespace, and the kubeconfig as a secret", () => {
        const inputs = run.recorded.find((x) => x.type === RUN_TYPE)!.inputs;
        expect(inputs).toMatchObject({ mode: "job", namespace: "web-dev", context: "dev", lockTimeoutMs: 5000, statementTimeoutMs: 60_000 });
        expect(inputs["jobNamePrefix"]).toMatch(/^web-migrate-[0-9a-f]{6}$/);
        expect(isSecret(inputs["kubeconfig"])).toBe(true);
        // The migration's secret values, to redact from the Job's logs: secret in state too.
        expect(isSecret(inputs["redact"])).toBe(true);
        expect((inputs["redact"] as { value: string[] }).value).toHaveLength(1);
        expect((inputs["redact"] as { value: string[] }).value[0]).toMatch(/^postgres:\/\//);
        const job = JSON.parse(inputs["job"] as string);
        expect(job.metadata.namespace).toBe("web-dev");
        expect(job.spec.template.spec.containers[0]).toMatchObject({ image: `registry.example.com/web-migrate:1.4.2@${DIGEST}`, command: ["/app/migrate.sh"] });
        expect(order(run.recorded, RUN_TYPE)).toBeLessThan(order(run.recorded, "kubernetes:apps/v1:Deployment"));
    });

    it("applies exactly the migration's render: its Secret (values filled in), its egress and its Job", () => {
        const { config } = loadedDev(run);
        const rendered = migrationRender({ app: config.app, environment: "dev", namespace: config.namespace, migration: config.migration! });
        const secret = run.recorded.find((x) => x.name === "dev-migration-secret")!;
        const { apiVersion: _a, kind: _k, stringData: _s, ...secretBody } = rendered.secret!;
        expect({ metadata: secret.inputs["metadata"], type: secret.inputs["type"] }).toEqual(secretBody);
        const egress = run.recorded.find((x) => x.name === "dev-migration-egress")!;
        expect({ metadata: egress.inputs["metadata"], spec: egress.inputs["spec"] }).toEqual({ metadata: rendered.egress!.metadata, spec: rendered.egress!.spec });
        expect(JSON.parse(run.recorded.find((x) => x.type === RUN_TYPE)!.inputs["job"] as string)).toEqual(rendered.job);
        // And the environment's render, which the verified record's digest covers, holds all three.
        const all = environmentManifests(config);
        for (const object of [rendered.secret!, rendered.egress!, rendered.job!]) expect(all).toContainEqual(object);
    });
});

describe("the lint at preview", () => {
    it("prod (mandatory): an index built without CONCURRENTLY stops the program before anything is registered after it", async () => {
        const run = await runProgram("prod", { migrationsDir: unsafeDir, migrationCommand: "./migrate.sh" });
        expect(String(run.error)).toContain("migration lint (squawk 2.66.0) found 1 problem");
        expect(String(run.error)).toContain("002_items_name_index.sql:1  require-concurrent-index-creation");
        expect(String(run.error)).toContain("mandatory in prod: the preview fails");
        expect(run.recorded.filter((x) => x.type === RUN_TYPE || x.type === "kubernetes:apps/v1:Deployment")).toEqual([]);
    }, 60_000);

    it("dev (advisory): the same migration warns and the program goes on", async () => {
        const run = await runProgram("dev", { migrationsDir: unsafeDir, migrationCommand: "./migrate.sh" });
        expect(run.error).toBeUndefined();
        expect(run.warnings).toHaveLength(1);
        expect(run.warnings[0]).toContain("advisory in dev: the preview passes; staging and prod refuse this");
        expect(order(run.recorded, RUN_TYPE)).toBeGreaterThan(0);
        expect(order(run.recorded, "kubernetes:apps/v1:Deployment")).toBeGreaterThan(order(run.recorded, RUN_TYPE));
    }, 60_000);

    it("the config report names a missing migrationsDir with its fix, before any resource", async () => {
        const run = await runProgram("staging", { migrationsDir: "no/such/dir", migrationCommand: "./migrate.sh" });
        expect(String(run.error)).toContain(`env-progression:migrationsDir: "no/such/dir" cannot be read at ${path.resolve("no/such/dir")} (ENOENT)`);
        expect(run.recorded).toEqual([]);
    }, 60_000);
});

describe("without migration keys", () => {
    it("registers no gate, as before", async () => {
        const run = await runProgram("dev", {});
        expect(run.error).toBeUndefined();
        expect(run.recorded.filter((x) => x.type === "progression:migrate:MigrationGate" || x.type === RUN_TYPE)).toEqual([]);
    }, 60_000);
});
