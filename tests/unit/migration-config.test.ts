// The migration keys: modes, budgets from the environment table and their overrides, the files
// of migrationsDir read from a real directory, and every bad input reported in the one config
// report with its fix.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENVIRONMENTS, ENVIRONMENT_RULES } from "../../config/environments";
import { MIGRATION_KEYS, readMigrationSources } from "../../config/groups/migration";
import { ConfigError, type EnvironmentConfig, KNOWN_KEYS, parseDurationMs, type RawConfig, validateConfig } from "../../config/schema";
import { PROJECT_DIR } from "../../config/stackFile";

const DIGEST = `sha256:${"a".repeat(64)}`;
let project: string;

beforeAll(() => {
    project = fs.mkdtempSync(path.join(os.tmpdir(), "migration-config-"));
    fs.mkdirSync(path.join(project, "migrations"));
    fs.writeFileSync(path.join(project, "migrations", "001_create.sql"), "CREATE TABLE IF NOT EXISTS t (id bigint);\n");
    fs.writeFileSync(path.join(project, "migrations", "migrate.sh"), "#!/bin/sh\n");
});
afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

/** A valid stack of `env` with `extra` keys, read with the project directory. */
function raw(env: "dev" | "staging" | "prod", extra: Record<string, unknown>, projectDir: string | null = project): RawConfig {
    return {
        values: {
            environment: env,
            kubeContext: env,
            image: `ghcr.io/env-progression/web:1.4.2@${DIGEST}`,
            replicas: ENVIRONMENT_RULES[env].minReplicas,
            secretEnv: ["DATABASE_URL"],
            DATABASE_URL: "<secret>",
            smokeBaseUrl: `https://${env}.web.example.com`,
            smokePreviewUrl: `https://preview.${env}.web.example.com`,
            ...extra,
        },
        secretKeys: new Set(["DATABASE_URL"]),
        declaredSecrets: new Set(["DATABASE_URL", "API_TOKEN"]),
        ...(projectDir !== null ? { projectDir } : {}),
    };
}

function problems(r: RawConfig, stack: string): string[] {
    try {
        validateConfig(r, stack);
        return [];
    } catch (err) {
        if (err instanceof ConfigError) return [...err.problems];
        throw err;
    }
}

const config = (r: RawConfig, stack: string): EnvironmentConfig => validateConfig(r, stack);

describe("modes", () => {
    it("runs no migrations when neither a command nor an image is set", () => {
        expect(config(raw("dev", {}), "dev").migration).toBeUndefined();
    });

    it("command mode: the command, the files read, the environment's budgets", () => {
        const m = config(raw("staging", { migrationsDir: "migrations", migrationCommand: "./migrations/migrate.sh" }), "staging").migration!;
        expect(m).toMatchObject({
            mode: "command",
            command: "./migrations/migrate.sh",
            job: undefined,
            lockTimeoutMs: 2000,
            statementTimeoutMs: 30_000,
            deadlineMs: 600_000,
        });
        expect(m.secretEnv).toEqual(["DATABASE_URL"]);
        expect(m.sources?.sqlFiles).toEqual(["001_create.sql"]);
        expect(m.sources?.files.map((f) => f.path)).toEqual(["001_create.sql", "migrate.sh"]);
        expect(m.sources?.version).toMatch(/^sha256:[0-9a-f]{64}$/);
    });

    it("job mode: image, command, backoff limit; the budgets follow the environment table", () => {
        for (const env of ENVIRONMENTS) {
            const m = config(
                raw(env, {
                    migrationsDir: "migrations",
                    migrationImage: `registry.example.com/web-migrate:1.0@${DIGEST}`,
                    migrationJobCommand: ["/migrate", "up"],
                    migrationBackoffLimit: "1",
                }),
                env,
            ).migration!;
            expect(m.mode).toBe("job");
            expect(m.job).toEqual({ image: `registry.example.com/web-migrate:1.0@${DIGEST}`, command: ["/migrate", "up"], backoffLimit: 1 });
            expect([m.lockTimeoutMs, m.statementTimeoutMs]).toEqual([ENVIRONMENT_RULES[env].lockTimeoutMs, ENVIRONMENT_RULES[env].statementTimeoutMs]);
        }
        expect([ENVIRONMENT_RULES.dev, ENVIRONMENT_RULES.staging, ENVIRONMENT_RULES.prod].map((r) => [r.lockTimeoutMs, r.statementTimeoutMs])).toEqual([
            [5000, 60_000],
            [2000, 30_000],
            [1000, 15_000],
        ]);
    });

    it("takes the engine's defaults from Pulumi.yaml as unset (an empty job command, backoff 0)", () => {
        const m = config(
            raw("dev", { migrationsDir: "migrations", migrationCommand: "true", migrationJobCommand: "[]", migrationBackoffLimit: "0", migrationEgress: "[]" }),
            "dev",
        ).migration!;
        expect(m.mode).toBe("command");
    });

    it("a stack overrides the budgets", () => {
        const m = config(
            raw("prod", { migrationsDir: "migrations", migrationCommand: "true", migrationLockTimeout: "500ms", migrationStatementTimeout: "1m" }),
            "prod",
        ).migration!;
        expect([m.lockTimeoutMs, m.statementTimeoutMs]).toEqual([500, 60_000]);
    });

    it("the version changes with any file's content or name, not with the files' order on disk", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "migration-version-"));
        try {
            fs.writeFileSync(path.join(dir, "001.sql"), "SELECT 1;");
            fs.writeFileSync(path.join(dir, "002.sql"), "SELECT 2;");
            const v1 = (readMigrationSources(dir) as { version: string }).version;
            expect((readMigrationSources(dir) as { version: string }).version).toBe(v1);
            fs.writeFileSync(path.join(dir, "002.sql"), "SELECT 3;");
            const v2 = (readMigrationSources(dir) as { version: string }).version;
            expect(v2).not.toBe(v1);
            fs.renameSync(path.join(dir, "002.sql"), path.join(dir, "003.sql"));
            expect((readMigrationSources(dir) as { version: string }).version).not.toBe(v2);
            fs.mkdirSync(path.join(dir, "sub"));
            fs.writeFileSync(path.join(dir, "sub", "004.sql"), "SELECT 4;");
            expect((readMigrationSources(dir) as { sqlFiles?: string[] }).sqlFiles).toEqual(["001.sql", "003.sql", "sub/004.sql"]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("bad input: every problem in the one report, each with its fix", () => {
    it("a command and a Job both set", () => {
        const p = problems(raw("dev", { migrationsDir: "migrations", migrationCommand: "./migrate.sh", migrationImage: "web-migrate:1" }), "dev");
        expect(p).toEqual([
            "env-progression:migrationCommand and env-progression:migrationImage are both set; a stack runs its migrations one way. Allowed: migrationImage (a Kubernetes Job in the namespace, for runners that cannot reach the database) or migrationCommand (runs where `pulumi up` runs). Fix: pulumi config rm migrationCommand -s dev to keep the Job, or pulumi config rm migrationImage -s dev to keep the command",
        ]);
    });

    it("a missing migrationsDir when migrations run", () => {
        const p = problems(raw("staging", { migrationCommand: "./migrate.sh" }), "staging");
        expect(p).toHaveLength(1);
        expect(p[0]).toMatch(
            /^env-progression:migrationsDir is required when migrations run \(migrationCommand is set\) and missing: .* Fix: pulumi config set migrationsDir migrations -s staging$/,
        );
    });

    it("a migrationsDir that does not exist, names its path and the fix", () => {
        const p = problems(raw("dev", { migrationsDir: "db/migrations", migrationCommand: "true" }), "dev");
        expect(p).toEqual([
            `env-progression:migrationsDir: "db/migrations" cannot be read at ${path.join(project, "db/migrations")} (ENOENT). Fix: point migrationsDir at the directory holding your .sql migrations (relative to the project), or create it`,
        ]);
    });

    it("a directory without SQL, a file instead of a directory", () => {
        const empty = fs.mkdtempSync(path.join(project, "empty-"));
        fs.writeFileSync(path.join(empty, "README"), "no sql here");
        expect(problems(raw("dev", { migrationsDir: path.basename(empty), migrationCommand: "true" }), "dev")[0]).toContain("holds no .sql files");
        expect(problems(raw("dev", { migrationsDir: "migrations/migrate.sh", migrationCommand: "true" }), "dev")[0]).toContain("is not a directory");
    });

    it("unreadable SQL: a dangling link and a file that is not UTF-8, both named", () => {
        const dir = fs.mkdtempSync(path.join(project, "broken-"));
        fs.writeFileSync(path.join(dir, "001_ok.sql"), "SELECT 1;");
        fs.symlinkSync(path.join(dir, "gone.sql"), path.join(dir, "002_link.sql"));
        fs.writeFileSync(path.join(dir, "003_latin1.sql"), Buffer.from([0x53, 0x45, 0x4c, 0xe9, 0xff, 0x3b]));
        const p = problems(raw("dev", { migrationsDir: path.basename(dir), migrationCommand: "true" }), "dev");
        expect(p).toEqual([
            `env-progression:migrationsDir: "${path.basename(dir)}" has files that cannot be read: 002_link.sql (ENOENT), 003_latin1.sql (not UTF-8 text). The gate must read every migration to lint it and to know when it changed. Fix: make them readable UTF-8 (e.g. chmod a+r), or move them out of ${dir}`,
        ]);
    });

    it.skipIf(process.getuid?.() === 0)("a file without read permission (EACCES)", () => {
        const dir = fs.mkdtempSync(path.join(project, "perm-"));
        fs.writeFileSync(path.join(dir, "001.sql"), "SELECT 1;", { mode: 0o000 });
        expect(problems(raw("dev", { migrationsDir: path.basename(dir), migrationCommand: "true" }), "dev")[0]).toContain("001.sql (EACCES)");
    });

    it("reports the migration's problems together with the rest of the config's", () => {
        const p = problems(
            raw("prod", {
                replicas: 1,
                migrationsDir: "nowhere",
                migrationCommand: "./migrate.sh",
                migrationImage: "web-migrate:latest",
                migrationLockTimeout: "forever",
                migrationSecretEnv: ["DATABASE_URL", "MIGRATOR_PASSWORD"],
            }),
            "prod",
        );
        expect(p.map((x) => x.split(":")[1]!.split(" ")[0])).toEqual([
            "replicas",
            "migrationCommand",
            "migrationImage",
            "migrationLockTimeout",
            "migrationSecretEnv",
            "migrationsDir",
        ]);
        expect(p[2]).toContain('"web-migrate:latest" is tagged latest; prod must run an exact version');
        expect(p[3]).toBe(
            'env-progression:migrationLockTimeout: "forever" is not a duration. Allowed: a positive number with ms, s or m, at most 24h (e.g. 1s). Fix: pulumi config set migrationLockTimeout 1s -s prod',
        );
        expect(p[4]).toContain('"MIGRATOR_PASSWORD" is not one of the app\'s secrets (secretEnv: ["DATABASE_URL"])');
    });

    it("budgets that cannot work: a lock budget above the statement budget, a statement budget past the deadline", () => {
        const p = problems(
            raw("dev", {
                migrationsDir: "migrations",
                migrationCommand: "true",
                migrationLockTimeout: "90s",
                migrationStatementTimeout: "30s",
                migrationDeadline: "10s",
            }),
            "dev",
        );
        expect(p).toHaveLength(2);
        expect(p[0]).toContain("migrationLockTimeout: 90000ms is longer than the statement budget (30000ms)");
        expect(p[1]).toContain("migrationStatementTimeout: 30000ms is longer than migrationDeadline (10000ms)");
    });

    it("job-only keys without a Job, a migrationsDir nothing runs, a bad egress rule", () => {
        expect(problems(raw("dev", { migrationJobCommand: ["/migrate"] }), "dev")[0]).toContain(
            'migrationJobCommand: ["/migrate"] is set but migrationImage is not',
        );
        expect(problems(raw("dev", { migrationsDir: "migrations" }), "dev")[0]).toContain(
            'migrationsDir: "migrations" is set, but nothing runs the migrations in it',
        );
        const p = problems(
            raw("dev", { migrationsDir: "migrations", migrationImage: "web-migrate:1", migrationEgress: ["10.0.0.0/8:99999", "10.1.0.5/32:5432"] }),
            "dev",
        );
        expect(p).toEqual([expect.stringContaining('migrationEgress: "10.0.0.0/8:99999" is not an egress rule')]);
        expect(problems(raw("dev", { migrationsDir: "migrations", migrationCommand: "true", migrationBackoffLimit: 3 }), "dev")[0]).toContain(
            "migrationBackoffLimit applies to the Job",
        );
    });

    it("validates keys without reading files when no project directory is given (the CLI)", () => {
        const m = config(raw("dev", { migrationsDir: "not/here", migrationCommand: "true" }, null), "dev").migration!;
        expect(m.sources).toBeUndefined();
    });
});

describe("Pulumi.yaml", () => {
    const declared = (parse(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8")) as { config: Record<string, { default?: unknown }> }).config;

    it("declares every migration key, and the program reads each", () => {
        for (const key of MIGRATION_KEYS) {
            expect(KNOWN_KEYS, key).toContain(key);
            expect(declared, key).toHaveProperty(key);
        }
    });

    it("declares the defaults the validator applies", () => {
        const m = config(raw("dev", { migrationsDir: "migrations", migrationCommand: "true" }), "dev").migration!;
        expect(parseDurationMs(String(declared["migrationDeadline"]!.default))).toBe(m.deadlineMs);
        expect(declared["migrationSecretEnv"]!.default).toEqual(m.secretEnv);
        expect(declared["migrationBackoffLimit"]!.default).toBe(0);
    });
});
