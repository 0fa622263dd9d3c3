// Command mode against a real PostgreSQL (Debian's server, started here as a non-root user on a
// unix socket in a temporary directory): the reference app's runner applies the migrations under
// the environment's budgets, and a lock, a slow statement or a hung command stops it with a report
// that names the budget and the figure. Then the serialized provider, run the way Pulumi's dynamic
// provider host runs it, in a plain Node process from another directory.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENVIRONMENT_RULES } from "../../config/environments";
import { readMigrationSources } from "../../config/groups/migration";
import { migrationProvider } from "../../components/migrationGate";
import type { CommandMigrationInputs, MigrationRunOutputs } from "../../migrate/provider";
import { migrationCreate, migrationDiff, migrationUpdate } from "../../migrate/provider";
import { MigrationFailedError } from "../../migrate/report";
import { holdLock, type Postgres, POSTGRES_MISSING, postgresBin, startPostgres } from "../../tests/harness/postgres";

const REPO = path.resolve(__dirname, "../..");
const MIGRATIONS = path.join(REPO, "migrations");
// CI installs PostgreSQL (.ci/run); elsewhere the suite says why it skips.
const available = postgresBin() !== undefined;
const required = process.env["PROGRESSION_CI"] === "1";

let tmp: string;
let pg: Postgres;
let db = 0;

/** A fresh database and inputs running the reference runner against it, with staging's budgets. */
function inputs(over: Partial<CommandMigrationInputs> = {}): CommandMigrationInputs & { database: string } {
    const database = `t${(db += 1)}`;
    pg.createDatabase(database);
    const version = (readMigrationSources(MIGRATIONS) as { version: string }).version;
    return {
        database,
        mode: "command",
        environment: "staging",
        version,
        trigger: `trigger-${database}`,
        lockTimeoutMs: ENVIRONMENT_RULES.staging.lockTimeoutMs,
        statementTimeoutMs: ENVIRONMENT_RULES.staging.statementTimeoutMs,
        deadlineMs: 60_000,
        command: "./migrations/migrate.sh",
        cwd: REPO,
        migrationsDir: MIGRATIONS,
        secretEnv: { DATABASE_URL: pg.url(database) },
        ...over,
    };
}

async function failure(p: Promise<unknown>): Promise<MigrationFailedError> {
    const err = await p.then(
        () => undefined,
        (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MigrationFailedError);
    expect(err).not.toHaveProperty("id");
    return err as MigrationFailedError;
}

const columns = (database: string, table: string) =>
    pg.sql(database, `SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = '${table}'`);

/** The figure the report gives: "... after 2.07 s." */
const reportedSeconds = (message: string) => Number(/ after (\d+\.\d+) s\./.exec(message)?.[1]);

describe.skipIf(!available && !required)("command mode against a real PostgreSQL", () => {
    beforeAll(() => {
        if (!available) throw new Error(POSTGRES_MISSING);
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pg-"));
        pg = startPostgres(tmp);
    }, 60_000);
    afterAll(() => {
        pg?.stop();
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("applies the migrations with the environment's budgets in force, and records what ran", async () => {
        const i = inputs({
            command:
                "./migrations/migrate.sh && psql -X -tA \"$DATABASE_URL\" -c 'SHOW lock_timeout' -c 'SHOW statement_timeout' && echo \"ms=$MIGRATION_LOCK_TIMEOUT_MS dir=$MIGRATIONS_DIR\"",
        });
        const { id, outs } = await migrationCreate(i);
        expect(id).toMatch(/^migration-staging-/);
        expect(outs).toMatchObject({ mode: "command", environment: "staging", version: i.version, trigger: i.trigger, jobName: null, lockTimeoutMs: 2000 });
        expect(Date.parse(outs.migratedAt)).toBeGreaterThan(Date.now() - 60_000);
        expect(outs.output).toContain("applying 001_create_items\napplying 002_items_add_note\nschema at 002_items_add_note\n2s\n30s\n");
        expect(outs.output).toContain(`ms=2000 dir=${MIGRATIONS}`);
        expect(columns(i.database, "items")).toBe("id,name,created_at,note");
        expect(pg.sql(i.database, "SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations")).toBe("001_create_items,002_items_add_note");
        // Rule 4 of components/serializedProvider.ts: the same inputs again are no change.
        expect(migrationDiff(id, outs, i).changes).toBe(false);
        // Run again (a retry, or a new trigger): nothing pending, nothing changes.
        const again = await migrationUpdate(id, outs, { ...i, trigger: "trigger-2" });
        expect(again.outs.output).toBe("schema at 002_items_add_note\n2s\n30s\n" + `ms=2000 dir=${MIGRATIONS}\n`);
    });

    it("a lock held by a long transaction: stopped by the lock budget, the table unchanged, then migrated once released", async () => {
        const i = inputs();
        pg.sql(
            i.database,
            "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now()); INSERT INTO items (name) VALUES ('a');",
        );
        const lock = await holdLock(pg, i.database, "items");
        let err: MigrationFailedError;
        try {
            err = await failure(migrationCreate(i));
        } finally {
            await lock.release();
        }
        expect(err.stop).toBe("lock-timeout");
        expect(err.message).toContain("Stopped by staging's lock budget: lock_timeout=2s.");
        expect(err.message).toContain("canceling statement due to lock timeout");
        // The figure: past the lock budget (it waited), well short of the statement budget (30 s).
        const stoppedAfter = reportedSeconds(err.message);
        expect(stoppedAfter).toBeGreaterThanOrEqual(2);
        expect(stoppedAfter).toBeLessThan(ENVIRONMENT_RULES.staging.statementTimeoutMs / 1000);
        expect(columns(i.database, "items")).toBe("id,name,created_at");
        expect(pg.sql(i.database, "SELECT string_agg(version, ',') FROM schema_migrations")).toBe("001_create_items");

        const { outs } = await migrationCreate(i);
        expect(outs.output).toContain("applying 002_items_add_note");
        expect(columns(i.database, "items")).toBe("id,name,created_at,note");
    });

    it("prod's tighter budget stops the same wait sooner", async () => {
        const i = inputs({
            environment: "prod",
            lockTimeoutMs: ENVIRONMENT_RULES.prod.lockTimeoutMs,
            statementTimeoutMs: ENVIRONMENT_RULES.prod.statementTimeoutMs,
        });
        pg.sql(i.database, "CREATE TABLE items (id bigint, name text); ");
        const lock = await holdLock(pg, i.database, "items");
        try {
            const err = await failure(migrationCreate(i));
            expect(err.message).toContain("Stopped by prod's lock budget: lock_timeout=1s.");
            expect(reportedSeconds(err.message)).toBeLessThan(ENVIRONMENT_RULES.staging.lockTimeoutMs / 1000 + 1);
        } finally {
            await lock.release();
        }
    });

    it("a statement past the statement budget is cancelled by PostgreSQL and reported as such", async () => {
        const i = inputs({ command: 'psql -X -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "SELECT pg_sleep(5)"', statementTimeoutMs: 500, lockTimeoutMs: 500 });
        const err = await failure(migrationCreate(i));
        expect(err.stop).toBe("statement-timeout");
        expect(err.message).toContain("Stopped by staging's statement budget: statement_timeout=500ms.");
        expect(reportedSeconds(err.message)).toBeLessThan(5);
    });

    it("a command past the deadline is killed, with its output", async () => {
        const err = await failure(migrationCreate(inputs({ command: "echo started 003; sleep 30", deadlineMs: 1000 })));
        expect(err.stop).toBe("deadline");
        expect(err.message).toMatch(/`echo started 003; sleep 30` was killed at the deadline after 1\.\d\d s\./);
        expect(err.message).toContain("Stopped at the migration's deadline (migrationDeadline 1s).");
        expect(err.message).toMatch(/output \(stdout and stderr, last 64 KiB at most\):\nstarted 003$/);
    });

    it("a failing migration reports its own error", async () => {
        const err = await failure(migrationCreate(inputs({ command: "psql -X -v ON_ERROR_STOP=1 \"$DATABASE_URL\" -c 'ALTER TABLE nope ADD COLUMN x int'" })));
        expect(err.stop).toBe("failed");
        expect(err.message).toContain("exited with status 1");
        expect(err.message).toContain('relation "nope" does not exist');
    });

    it("the serialized provider runs in a plain Node process from another directory", async () => {
        expect(migrationProvider).toContain(JSON.stringify(path.join(REPO, "dist", "provider-migrate.js")));
        expect(migrationProvider).not.toMatch(/client-node|squawk|PGOPTIONS/);
        const file = path.join(tmp, "provider.js");
        fs.writeFileSync(file, migrationProvider);
        const i = inputs();
        const requireFromString = require.resolve("require-from-string", { paths: [path.join(REPO, "node_modules", "@pulumi", "pulumi")] });
        const driver = `
            const provider = require(${JSON.stringify(requireFromString)})(require("node:fs").readFileSync(${JSON.stringify(file)}, "utf8")).handler();
            provider.create(${JSON.stringify(i)}).then(
                (v) => process.stdout.write(JSON.stringify({ ok: true, value: v })),
                (e) => process.stdout.write(JSON.stringify({ ok: false, value: e.message })),
            );`;
        const { stdout } = await promisify(execFile)(process.execPath, ["-e", driver], { cwd: tmp, env: { PATH: process.env["PATH"] ?? "" } });
        const result = JSON.parse(stdout) as { ok: boolean; value: { outs: MigrationRunOutputs } };
        expect(result.ok).toBe(true);
        expect(result.value.outs.output).toContain("schema at 002_items_add_note");
        expect(columns(i.database, "items")).toBe("id,name,created_at,note");
    });
});

describe("when the migration runs again", () => {
    const news = { mode: "command", trigger: "t2" } as CommandMigrationInputs;

    it("runs when the trigger changed or it never succeeded; not for a budget, secret or path change", () => {
        expect(migrationDiff("id", { trigger: "t1", mode: "command", migratedAt: "2026-01-01T00:00:00Z" }, news).changes).toBe(true);
        expect(migrationDiff("id", { trigger: "t2", mode: "command", migratedAt: "" }, news).changes).toBe(true);
        expect(
            migrationDiff(
                "id",
                { trigger: "t2", mode: "command", migratedAt: "2026-01-01T00:00:00Z", lockTimeoutMs: 1 },
                { ...news, lockTimeoutMs: 5, cwd: "/elsewhere", secretEnv: { DATABASE_URL: "x" } },
            ).changes,
        ).toBe(false);
        expect(migrationDiff("id", { trigger: "t2", mode: "job", migratedAt: "2026-01-01T00:00:00Z" }, news).changes).toBe(true);
    });
});
