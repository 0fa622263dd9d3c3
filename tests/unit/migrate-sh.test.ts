// migrations/migrate.sh against a real PostgreSQL (Debian's server, tests/harness/postgres.ts),
// with a role that needs its password: the password reaches psql through a 0600 password file,
// never its command line, and two runners at once serialize on an advisory lock.
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Postgres, POSTGRES_MISSING, postgresBin, startPostgres } from "../../tests/harness/postgres";

const REPO = path.resolve(__dirname, "../..");
const MIGRATE = path.join(REPO, "migrations", "migrate.sh");
const available = postgresBin() !== undefined;
const required = process.env["PROGRESSION_CI"] === "1";
/** With characters a URL must encode, and a ':' and '\' the password file must escape. */
const PASSWORD = "pw:7f@/x\\q%z-6b1c";

let tmp: string;
let pg: Postgres;
let db = 0;

/** A URL for `database` as the password-authenticated role `migrator`. */
const url = (database: string) =>
    `postgresql://migrator:${encodeURIComponent(PASSWORD)}@/${database}?host=${encodeURIComponent(pg.socketDir)}&port=${pg.port}`;

function freshDatabase(): string {
    const name = `m${(db += 1)}`;
    pg.createDatabase(name);
    pg.sql(name, "GRANT ALL ON SCHEMA public TO migrator");
    return name;
}

/** Migration files in a directory of their own. */
function migrations(files: Record<string, string>): string {
    const dir = fs.mkdtempSync(path.join(tmp, "migrations-"));
    for (const [name, sql] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), sql);
    return dir;
}

interface Run {
    readonly child: ChildProcess;
    readonly done: Promise<{ code: number | null; output: string }>;
    output(): string;
}

function runMigrate(database: string, dir: string, env: Record<string, string> = {}): Run {
    let output = "";
    const child = spawn(MIGRATE, [], {
        env: {
            PATH: process.env["PATH"] ?? "",
            TMPDIR: path.join(tmp, "tmpdir"),
            DATABASE_URL: url(database),
            MIGRATIONS_DIR: dir,
            PGOPTIONS: "-c lock_timeout=2000ms -c statement_timeout=30000ms",
            ...env,
        },
        stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const done = new Promise<{ code: number | null; output: string }>((resolve) => child.on("close", (code) => resolve({ code, output })));
    return { child, done, output: () => output };
}

/** Every process's command line, read now. */
function commandLines(): string[] {
    const lines: string[] = [];
    for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
        try {
            lines.push(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " "));
        } catch {
            // gone meanwhile
        }
    }
    return lines;
}

describe.skipIf(!available && !required)("migrations/migrate.sh against a real PostgreSQL", () => {
    beforeAll(() => {
        if (!available) throw new Error(POSTGRES_MISSING);
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "migrate-sh-"));
        fs.mkdirSync(path.join(tmp, "tmpdir"));
        pg = startPostgres(fs.mkdtempSync(path.join(os.tmpdir(), "pg-")));
        // `migrator` must give its password (scram); the harness's superuser `app` stays trusted.
        pg.sql("postgres", `CREATE ROLE migrator LOGIN PASSWORD '${PASSWORD.replace(/'/g, "''")}'`);
        const hba = path.join(pg.dir, "data", "pg_hba.conf");
        fs.writeFileSync(hba, "local all app trust\nlocal all migrator scram-sha-256\n");
        pg.sql("postgres", "SELECT pg_reload_conf()");
    }, 60_000);
    afterAll(() => {
        pg?.stop();
        if (pg) fs.rmSync(pg.dir, { recursive: true, force: true });
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("authenticates with the password, which never appears on a command line, and leaves no password file behind", async () => {
        const database = freshDatabase();
        const dir = migrations({ "001_slow.sql": "DO $$ BEGIN PERFORM pg_sleep(1.5); END $$;\nCREATE TABLE t1 (id int);\n" });
        const run = runMigrate(database, dir);
        const seen = new Set<string>();
        let psqlSeen = false;
        while (run.child.exitCode === null) {
            for (const line of commandLines()) {
                if (/\bpsql\b/.test(line) && line.includes("migrator")) psqlSeen = true;
                if (line.includes(PASSWORD) || line.includes(encodeURIComponent(PASSWORD)) || line.includes("7f@")) seen.add(line);
            }
            await new Promise((r) => setTimeout(r, 10));
        }
        const { code, output } = await run.done;
        expect(output).toBe("applying 001_slow\nschema at 001_slow\n");
        expect(code).toBe(0);
        expect(psqlSeen).toBe(true);
        expect([...seen]).toEqual([]);
        expect(fs.readdirSync(path.join(tmp, "tmpdir"))).toEqual([]);
    });

    it("a wrong password fails with psql's message, not the password", async () => {
        const database = freshDatabase();
        const dir = migrations({ "001_a.sql": "CREATE TABLE a (id int);\n" });
        const { code, output } = await runMigrate(database, dir, { DATABASE_URL: url(database).replace(encodeURIComponent(PASSWORD), "wrong-pw-1") }).done;
        expect(code).not.toBe(0);
        expect(output).toContain('password authentication failed for user "migrator"');
        expect(output).not.toContain("wrong-pw-1");
    });

    it("refuses a key=value connection string holding a password, with the fix", async () => {
        const { code, output } = await runMigrate("x", tmp, { DATABASE_URL: `host=${pg.socketDir} user=migrator password=${PASSWORD}` }).done;
        expect(code).toBe(2);
        expect(output).toContain("DATABASE_URL is a key=value connection string with a password");
        expect(output).not.toContain(PASSWORD);
    });

    it("two runners at once: the second waits for the first's advisory lock, then finds nothing to apply", async () => {
        const database = freshDatabase();
        // Not safe to run twice at once: the second CREATE TABLE would fail.
        const dir = migrations({ "001_slow.sql": "DO $$ BEGIN PERFORM pg_sleep(2); END $$;\nCREATE TABLE once (id int);\n" });
        const first = runMigrate(database, dir);
        const deadline = Date.now() + 15_000;
        while (!first.output().includes("applying 001_slow")) {
            if (Date.now() > deadline || first.child.exitCode !== null) throw new Error(`the first runner did not start applying: ${first.output()}`);
            await new Promise((r) => setTimeout(r, 20));
        }
        const second = runMigrate(database, dir);
        const [a, b] = await Promise.all([first.done, second.done]);
        expect(a).toEqual({ code: 0, output: "applying 001_slow\nschema at 001_slow\n" });
        expect(b.code).toBe(0);
        expect(b.output).toBe("another migration runner holds the advisory lock; waiting for it (at most 600000 ms)\nschema at 001_slow\n");
        expect(pg.sql(database, "SELECT count(*) FROM schema_migrations")).toBe("1");
    });

    it("the wait for the lock is bounded: MIGRATION_LOCK_WAIT_MS", async () => {
        const database = freshDatabase();
        const dir = migrations({ "001_slow.sql": "DO $$ BEGIN PERFORM pg_sleep(4); END $$;\n" });
        const first = runMigrate(database, dir);
        while (!first.output().includes("applying")) await new Promise((r) => setTimeout(r, 20));
        const started = Date.now();
        const second = await runMigrate(database, dir, { MIGRATION_LOCK_WAIT_MS: "500" }).done;
        expect(Date.now() - started).toBeLessThan(3000);
        expect(second.code).not.toBe(0);
        expect(second.output).toContain("canceling statement due to lock timeout");
        await first.done;
    });
});
