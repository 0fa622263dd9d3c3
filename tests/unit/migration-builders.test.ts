// The gate's pure builders: what the migration process sees, when it runs again, the Job it runs
// in (judged by the policy pack's own workload rules) and the egress its pods get (judged by the
// NetworkPolicy evaluator); and the Job's state and failure report as the provider reads them.
import { describe, expect, it } from "vitest";
import { ENVIRONMENT_RULES } from "../../config/environments";
import type { MigrationConfig } from "../../config/groups/migration";
import type { AppConfig } from "../../config/schema";
import { isolationInput, isolationPolicies } from "../../components/networkIsolation";
import { appLabels } from "../../components/labels";
import {
    migrationEgressPolicy,
    migrationJobManifest,
    migrationJobPrefix,
    migrationLabels,
    migrationTrigger,
} from "../../components/migrationManifests";
import { budgetEnv } from "../../migrate/env";
import { jobDetails, jobState, podLogs } from "../../migrate/job";
import { failureReport, stopCause } from "../../migrate/report";
import { createEvaluator } from "../../netpol";
import { imagePinProblems, resourceProblems, securityContextProblems } from "../../policy/workloads";
import { readStackConfig, readStackRaw } from "../../config/stackFile";
import { validateConfig } from "../../config/schema";
import { environmentManifests } from "../../components/manifests";

const DIGEST = `sha256:${"b".repeat(64)}`;
const app: AppConfig = readStackConfig("staging").app;

function migration(over: Partial<MigrationConfig> = {}): MigrationConfig {
    return {
        mode: "job",
        dir: "migrations",
        sources: undefined,
        command: undefined,
        job: { image: `registry.example.com/web-migrate:1.4.2@${DIGEST}`, command: ["/migrate", "up"], backoffLimit: 0 },
        deadlineMs: 600_000,
        lockTimeoutMs: 2000,
        statementTimeoutMs: 30_000,
        secretEnv: ["DATABASE_URL"],
        egress: [],
        ...over,
    };
}

describe("what the migration process sees", () => {
    it("the budgets as PostgreSQL settings (PGOPTIONS) and as plain numbers", () => {
        expect(budgetEnv({ lockTimeoutMs: 2000, statementTimeoutMs: 30_000 }, "sha256:v1")).toEqual({
            PGOPTIONS: "-c lock_timeout=2000ms -c statement_timeout=30000ms",
            MIGRATION_LOCK_TIMEOUT_MS: "2000",
            MIGRATION_STATEMENT_TIMEOUT_MS: "30000",
            MIGRATION_VERSION: "sha256:v1",
        });
    });

    it("keeps an inherited PGOPTIONS, with the budgets last so they win", () => {
        expect(budgetEnv({ lockTimeoutMs: 1000, statementTimeoutMs: 15_000 }, "v", " -c search_path=app ").PGOPTIONS).toBe(
            "-c search_path=app -c lock_timeout=1000ms -c statement_timeout=15000ms",
        );
    });
});

describe("the trigger: when the migration runs again", () => {
    const base = migrationTrigger(migration(), "sha256:v1");

    it("changes with the files, the image and the Job's command", () => {
        expect(migrationTrigger(migration(), "sha256:v2")).not.toBe(base);
        expect(migrationTrigger(migration({ job: { ...migration().job!, image: `registry.example.com/web-migrate:1.4.3@${DIGEST}` } }), "sha256:v1")).not.toBe(
            base,
        );
        expect(migrationTrigger(migration({ job: { ...migration().job!, command: ["/migrate", "up", "--all"] } }), "sha256:v1")).not.toBe(base);
        const cmd = migration({ mode: "command", command: "./migrate.sh", job: undefined });
        expect(migrationTrigger({ ...cmd, command: "./migrate.sh --verbose" }, "sha256:v1")).not.toBe(migrationTrigger(cmd, "sha256:v1"));
    });

    it("does not change with budgets, deadline, secrets or retries: those are not a new migration", () => {
        expect(
            migrationTrigger(
                migration({ lockTimeoutMs: 1, statementTimeoutMs: 2, deadlineMs: 3, secretEnv: [], job: { ...migration().job!, backoffLimit: 4 } }),
                "sha256:v1",
            ),
        ).toBe(base);
    });
});

describe("the migration Job", () => {
    const job = migrationJobManifest({
        app,
        environment: "staging",
        namespace: "web-staging",
        migration: migration(),
        version: "sha256:v1",
        trigger: "f".repeat(64),
    });
    const named = { ...job, metadata: { ...job.metadata, name: `${migrationJobPrefix(app.name, "f".repeat(64))}-a1b2c` } };

    it("passes the policy pack's restricted-security-context, resources-set and image-pinned rules for prod", () => {
        expect(securityContextProblems(named as never)).toEqual([]);
        expect(resourceProblems(named as never)).toEqual([]);
        expect(imagePinProblems(named as never, "prod")).toEqual([]);
    });

    it("runs the image's command once, within the deadline, with the budgets and the migration's secret", () => {
        expect(job.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 600, ttlSecondsAfterFinished: 86_400 });
        expect(job.spec.template.spec.restartPolicy).toBe("Never");
        const c = job.spec.template.spec.containers[0]!;
        expect(c.command).toEqual(["/migrate", "up"]);
        expect(c.env).toContainEqual({ name: "PGOPTIONS", value: "-c lock_timeout=2000ms -c statement_timeout=30000ms" });
        expect(c.envFrom).toEqual([{ secretRef: { name: "web-migration" } }]);
        expect(job.metadata.annotations["progression.dev/migration-version"]).toBe("sha256:v1");
    });

    it("is never selected as the app: the Service and the ingress policy select app pods only", () => {
        const podLabels = job.spec.template.metadata.labels;
        const app = appLabels("web", "staging").selector;
        expect(Object.entries(app).every(([k, v]) => podLabels[k] === v)).toBe(false);
        expect(podLabels).toMatchObject({ environment: "staging", "app.kubernetes.io/component": "migration" });
    });

    it("has a valid name per attempt, at most 63 characters", () => {
        expect(named.metadata.name).toBe("web-migrate-ffffff-a1b2c");
        expect(`${migrationJobPrefix("a".repeat(40), "f".repeat(64))}-a1b2c`.length).toBeLessThanOrEqual(63);
    });

    it("runs the image's entrypoint when no command is configured, and mounts no secret when none is wanted", () => {
        const bare = migrationJobManifest({
            app,
            environment: "dev",
            namespace: "web-dev",
            migration: migration({ job: { image: "m:1", command: undefined, backoffLimit: 2 }, secretEnv: [] }),
            version: "v",
            trigger: "t",
        });
        expect(bare.spec.template.spec.containers[0]).not.toHaveProperty("command");
        expect(bare.spec.template.spec.containers[0]).not.toHaveProperty("envFrom");
        expect(bare.spec.backoffLimit).toBe(2);
    });
});

describe("the migration pods' egress, evaluated", () => {
    const config = readStackConfig("staging");
    const db = { cidr: "10.20.0.5/32", port: 5432, protocol: "TCP" as const };
    const policies = [...isolationPolicies(isolationInput(config)), migrationEgressPolicy("web", "staging", "web-staging", [db])!];
    const evaluator = createEvaluator(
        {
            namespaces: [{ name: "web-staging", labels: { environment: "staging" } }],
            pods: [
                { namespace: "web-staging", name: "app", labels: appLabels("web", "staging").all, ip: "10.1.0.10" },
                { namespace: "web-staging", name: "migrate", labels: migrationLabels("web", "staging").all, ip: "10.1.0.11" },
            ],
            externals: [{ name: "db", ip: "10.20.0.5" }],
        },
        policies,
    );

    it("lets the migration pod reach the database's direct port, and only that port", () => {
        expect(evaluator.evaluate({ from: "web-staging/migrate", to: "external:db", port: 5432 }).allowed).toBe(true);
        expect(evaluator.evaluate({ from: "web-staging/migrate", to: "external:db", port: 22 }).allowed).toBe(false);
    });

    it("gives the app pods nothing extra", () => {
        expect(evaluator.evaluate({ from: "web-staging/app", to: "external:db", port: 5432 }).allowed).toBe(false);
    });

    it("is among the objects the environment applies, so netcheck and the policy pack see it", () => {
        const raw = readStackRaw("staging");
        const cfg = validateConfig(
            {
                values: {
                    ...raw.values,
                    DATABASE_URL: "<secret>",
                    API_TOKEN: "<secret>",
                    migrationsDir: "migrations",
                    migrationImage: "m:1",
                    migrationEgress: ["10.20.0.5/32:5432"],
                },
                secretKeys: new Set(["DATABASE_URL", "API_TOKEN"]),
                declaredSecrets: raw.declaredSecrets,
            },
            "staging",
        );
        expect(
            environmentManifests(cfg)
                .filter((m) => m.kind === "NetworkPolicy")
                .map((m) => m.metadata.name),
        ).toContain("web-migration-egress");
    });

    it("adds no policy when the migration needs no egress of its own", () => {
        expect(migrationEgressPolicy("web", "staging", "web-staging", [])).toBeUndefined();
    });
});

describe("reading the Job and reporting its failure", () => {
    it("ends the wait only on Complete or Failed", () => {
        expect(jobState(undefined)).toEqual({ state: "running" });
        expect(jobState({ conditions: [{ type: "FailureTarget", status: "True", reason: "BackoffLimitExceeded" }] })).toEqual({ state: "running" });
        expect(jobState({ conditions: [{ type: "Complete", status: "True" }] })).toEqual({ state: "complete" });
        expect(
            jobState({
                conditions: [{ type: "Failed", status: "True", reason: "DeadlineExceeded", message: "Job was active longer than specified deadline" }],
            }),
        ).toEqual({
            state: "failed",
            reason: "DeadlineExceeded",
            message: "Job was active longer than specified deadline",
        });
        expect(jobState({ conditions: [{ type: "Failed", status: "False" }] })).toEqual({ state: "running" });
    });

    it("reads the cause from PostgreSQL's messages", () => {
        expect(stopCause("psql:/m/002.sql:3: ERROR:  canceling statement due to lock timeout", false)).toBe("lock-timeout");
        expect(stopCause("error: canceling statement due to statement timeout (SQLSTATE 57014)", false)).toBe("statement-timeout");
        expect(stopCause("pq: could not obtain lock on relation (SQLSTATE 55P03)", false)).toBe("lock-timeout");
        expect(stopCause("still applying 003", true)).toBe("deadline");
        expect(stopCause("syntax error at or near", false)).toBe("failed");
    });

    it("a lock timeout: the budget, the figure, what happened to the app, and the fix", () => {
        const text = failureReport({
            environment: "staging",
            version: `sha256:${"c".repeat(64)}`,
            trigger: "d".repeat(64),
            outcome: "`./migrate.sh` exited with status 3",
            elapsedMs: 2071,
            lockTimeoutMs: 2000,
            statementTimeoutMs: 30_000,
            deadlineMs: 600_000,
            cause: "lock-timeout",
            output: "applying 002\nERROR:  canceling statement due to lock timeout\n",
            outputLabel: "output",
        });
        expect(text.split("\n").slice(0, 3)).toEqual([
            "migration failed in staging (version sha256:cccccccccccc…, trigger dddddddddddd): `./migrate.sh` exited with status 3 after 2.07 s.",
            "Stopped by staging's lock budget: lock_timeout=2s. Another session held a lock the migration needed; waiting longer would have queued every query on that table behind the migration.",
            "The app was not updated: it is deployed only after its migration succeeds. The next `pulumi up` runs the migration again.",
        ]);
        expect(text).toContain("Fix: find the long transaction (SELECT pid, now() - xact_start AS open_for");
        expect(text.endsWith("output:\napplying 002\nERROR:  canceling statement due to lock timeout")).toBe(true);
    });

    it("a Job's pods, their logs or why there are none, and its warning events", () => {
        const pods = [
            {
                name: "web-migrate-ab-1",
                phase: "Failed",
                container: "terminated: Error (exit 3)",
                log: 'ERROR: relation "itemz" does not exist',
                logError: undefined,
            },
            {
                name: "web-migrate-ab-2",
                phase: "Running",
                container: "running",
                log: undefined,
                logError: "400: the server could not find the requested resource",
            },
        ];
        expect(jobDetails(pods, ['FailedCreate: pods "x" is forbidden: violates PodSecurity "restricted:latest"'])).toEqual([
            "pod web-migrate-ab-1: Failed, container terminated: Error (exit 3)",
            "pod web-migrate-ab-2: Running, container running",
            'event: FailedCreate: pods "x" is forbidden: violates PodSecurity "restricted:latest"',
        ]);
        expect(podLogs(pods)).toBe(
            '--- web-migrate-ab-1\nERROR: relation "itemz" does not exist\n--- web-migrate-ab-2\n(no log: 400: the server could not find the requested resource)',
        );
        expect(jobDetails([], [])).toEqual(["pods: none were created (see the events)"]);
    });

    it("prod's budgets are the tightest", () => {
        expect(ENVIRONMENT_RULES.prod.lockTimeoutMs).toBeLessThan(ENVIRONMENT_RULES.staging.lockTimeoutMs);
        expect(ENVIRONMENT_RULES.staging.lockTimeoutMs).toBeLessThan(ENVIRONMENT_RULES.dev.lockTimeoutMs);
    });
});
