// Measures the lock budget: for each environment, a real PostgreSQL (tests/harness/postgres.ts) at the
// committed schema minus its last migration, a long transaction holding ACCESS SHARE on `items`,
// and the gate's command mode running the reference runner, whose pending migration needs ACCESS
// EXCLUSIVE. Prints how long each environment's migration waited before its budget stopped it.
//
//   toolchain/run tsx bench/lock-budget.ts
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ENVIRONMENT_RULES, ENVIRONMENTS } from "../config/environments";
import { readMigrationSources } from "../config/groups/migration";
import { migrationCreate } from "../migrate/provider";
import { MigrationFailedError } from "../migrate/report";
import { holdLock, startPostgres } from "../tests/harness/postgres";

const REPO = path.resolve(__dirname, "..");

async function main(): Promise<void> {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lock-budget-"));
    const pg = startPostgres(fs.mkdtempSync(path.join(os.tmpdir(), "pg-")));
    try {
        // The committed migrations but the last: that one is what the lock holds up.
        const dir = path.join(tmp, "migrations");
        fs.mkdirSync(dir);
        const sql = fs
            .readdirSync(path.join(REPO, "migrations"))
            .filter((f) => f.endsWith(".sql"))
            .sort();
        for (const f of sql) fs.copyFileSync(path.join(REPO, "migrations", f), path.join(dir, f));
        const version = (readMigrationSources(dir) as { version: string }).version;
        process.stdout.write(
            `lock budget: the gate's command mode, ${path.basename(sql.at(-1)!)} pending behind a transaction holding ACCESS SHARE on items\n`,
        );
        process.stdout.write(`environment  lock_timeout  stopped after  cause\n`);
        for (const environment of ENVIRONMENTS) {
            const db = `bench_${environment}`;
            pg.createDatabase(db);
            pg.sql(
                db,
                "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());",
            );
            pg.sql(
                db,
                `CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now()); INSERT INTO schema_migrations (version) SELECT unnest(ARRAY[${sql
                    .slice(0, -1)
                    .map((f) => `'${f.replace(/\.sql$/, "")}'`)
                    .join(",")}]::text[]);`,
            );
            const rules = ENVIRONMENT_RULES[environment];
            const lock = await holdLock(pg, db, "items");
            let line: string;
            try {
                await migrationCreate({
                    mode: "command",
                    environment,
                    version,
                    trigger: `bench-${environment}`,
                    lockTimeoutMs: rules.lockTimeoutMs,
                    statementTimeoutMs: rules.statementTimeoutMs,
                    deadlineMs: 120_000,
                    command: path.join(REPO, "migrations", "migrate.sh"),
                    cwd: REPO,
                    migrationsDir: dir,
                    secretEnv: { DATABASE_URL: pg.url(db) },
                });
                line = "not stopped: the migration ran despite the lock";
            } catch (err) {
                if (!(err instanceof MigrationFailedError)) throw err;
                const after = / after (\d+\.\d+) s\./.exec(err.message)?.[1] ?? "?";
                line = `${`${after} s`.padEnd(13)}  ${err.stop}`;
            } finally {
                await lock.release();
            }
            process.stdout.write(`${environment.padEnd(11)}  ${`${rules.lockTimeoutMs} ms`.padEnd(12)}  ${line}\n`);
        }
    } finally {
        pg.stop();
        fs.rmSync(tmp, { recursive: true, force: true });
        fs.rmSync(pg.dir, { recursive: true, force: true });
    }
}

main().catch((err: unknown) => {
    process.stderr.write(`lock-budget: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
});
