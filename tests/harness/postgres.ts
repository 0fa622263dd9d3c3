// A throwaway PostgreSQL for tests and the demo: Debian's server binaries (package `postgresql`),
// a data directory of our own, reachable only through a unix socket in that directory (no TCP
// listener at all), trust authentication for that socket. Run as a non-root user, as the server
// requires: when this process is root, the server runs as the `postgres` user the package
// creates (or `nobody`).
import { type ChildProcessWithoutNullStreams, execFileSync, type ExecFileSyncOptions, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** The server's bin directory: $PROGRESSION_PG_BIN, else the newest /usr/lib/postgresql/<major>/bin. */
export function postgresBin(): string | undefined {
    const forced = process.env["PROGRESSION_PG_BIN"];
    if (forced) return fs.existsSync(path.join(forced, "pg_ctl")) ? forced : undefined;
    const root = "/usr/lib/postgresql";
    if (!fs.existsSync(root)) return undefined;
    const majors = fs
        .readdirSync(root)
        .filter((d) => /^\d+$/.test(d) && fs.existsSync(path.join(root, d, "bin", "pg_ctl")))
        .sort((a, b) => Number(b) - Number(a));
    return majors[0] === undefined ? undefined : path.join(root, majors[0], "bin");
}

export const POSTGRES_MISSING = "PostgreSQL's server is not installed (no /usr/lib/postgresql/<major>/bin/pg_ctl). Fix: apt-get install -y postgresql";

export interface Postgres {
    readonly bin: string;
    /** The data directory's parent: data/, the socket and the log live here. */
    readonly dir: string;
    /** Directory holding the unix socket; libpq's `host`. */
    readonly socketDir: string;
    readonly port: number;
    /** A libpq URL for a database on this server, as the superuser `app`. */
    url(database: string): string;
    /** Runs SQL with psql and returns its unaligned, tuples-only output. */
    sql(database: string, sql: string): string;
    createDatabase(name: string): void;
    stop(): void;
}

/** The account the server runs as, when this process is root. */
function serverAccount(): { uid: number; gid: number } | undefined {
    if (process.getuid?.() !== 0) return undefined;
    const passwd = fs.readFileSync("/etc/passwd", "utf8").split("\n");
    for (const user of ["postgres", "nobody"]) {
        const fields = passwd.find((l) => l.startsWith(`${user}:`))?.split(":");
        if (fields) return { uid: Number(fields[2]), gid: Number(fields[3]) };
    }
    throw new Error("running as root and neither a postgres nor a nobody user exists to run the server as");
}

/**
 * Starts a server in `dir` (created if needed; an existing data directory is reused, so the demo
 * keeps its databases across runs). `port` only names the socket file.
 */
export function startPostgres(dir: string, opts: { port?: number } = {}): Postgres {
    const bin = postgresBin();
    if (bin === undefined) throw new Error(POSTGRES_MISSING);
    const port = opts.port ?? 5432;
    const data = path.join(dir, "data");
    const socketDir = dir;
    // A unix socket path is limited to 107 bytes.
    if (path.join(socketDir, `.s.PGSQL.${port}`).length > 100) throw new Error(`${socketDir} is too long a path for a unix socket; use a shorter directory`);
    const account = serverAccount();
    const asServer: ExecFileSyncOptions = { stdio: ["ignore", "pipe", "pipe"], ...(account ?? {}) };
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (account) {
        fs.chownSync(dir, account.uid, account.gid);
        // The server's account must be able to reach its directory through every parent.
        for (let p = path.dirname(path.resolve(dir)); p !== path.dirname(p); p = path.dirname(p)) {
            if ((fs.statSync(p).mode & 0o001) === 0) {
                throw new Error(
                    `the server runs as uid ${account.uid} and cannot reach ${dir}: ${p} is not searchable by other users. Fix: start it in a directory of its own, e.g. fs.mkdtempSync(path.join(os.tmpdir(), "pg-"))`,
                );
            }
        }
    }

    const run = (file: string, args: string[], options: ExecFileSyncOptions = asServer) => {
        try {
            return execFileSync(path.join(bin, file), args, { encoding: "utf8", ...options }) as unknown as string;
        } catch (err) {
            const e = err as { stderr?: Buffer | string; message: string };
            throw new Error(`${file} ${args.join(" ")} failed: ${String(e.stderr ?? e.message).trim()}`, { cause: err });
        }
    };
    if (!fs.existsSync(path.join(data, "PG_VERSION"))) {
        run("initdb", ["-D", data, "-U", "app", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"]);
    }
    const log = path.join(dir, "server.log");
    const running = spawnStatus(bin, data, asServer);
    if (!running) {
        // No TCP listener; fsync off: a test database need not survive a power cut.
        run("pg_ctl", [
            "-D",
            data,
            "-l",
            log,
            "-w",
            "-t",
            "60",
            "-o",
            `-k ${socketDir} -p ${port} -c listen_addresses= -c fsync=off -c full_page_writes=off`,
            "start",
        ]);
    }
    const url = (database: string) => `postgresql:///${encodeURIComponent(database)}?host=${encodeURIComponent(socketDir)}&port=${port}&user=app`;
    const psql = path.join(bin, "psql");
    return {
        bin,
        dir,
        socketDir,
        port,
        url,
        sql: (database, sql) =>
            execFileSync(psql, ["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", url(database)], {
                input: sql,
                encoding: "utf8",
                stdio: ["pipe", "pipe", "pipe"],
            }).trim(),
        createDatabase(name) {
            const exists = execFileSync(psql, ["-X", "-tA", "-v", `db=${name}`, url("postgres")], {
                input: "SELECT 1 FROM pg_database WHERE datname = :'db'",
                encoding: "utf8",
            }).trim();
            if (exists !== "1")
                execFileSync(psql, ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", `db=${name}`, url("postgres")], {
                    input: 'CREATE DATABASE :"db"',
                    encoding: "utf8",
                });
        },
        stop() {
            if (spawnStatus(bin, data, asServer)) run("pg_ctl", ["-D", data, "-w", "-m", "fast", "stop"]);
        },
    };
}

function spawnStatus(bin: string, data: string, options: ExecFileSyncOptions): boolean {
    try {
        execFileSync(path.join(bin, "pg_ctl"), ["-D", data, "status"], options);
        return true;
    } catch {
        return false;
    }
}

export interface HeldLock {
    /** The backend pid holding the lock. */
    readonly pid: number;
    /** Ends the transaction (rollback) and the session. */
    release(): Promise<void>;
}

/**
 * Opens a transaction that takes `LOCK TABLE <table> IN <mode> MODE` and keeps it open, as a
 * long-running report or a stuck worker would; resolves once the lock is held.
 */
export function holdLock(pg: Postgres, database: string, table: string, mode = "ACCESS SHARE"): Promise<HeldLock> {
    const child: ChildProcessWithoutNullStreams = spawn(path.join(pg.bin, "psql"), ["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", pg.url(database)], {
        stdio: ["pipe", "pipe", "pipe"],
    });
    return new Promise((resolve, reject) => {
        let out = "";
        let err = "";
        child.stderr.on("data", (d: Buffer) => (err += d.toString()));
        child.on("exit", (code) => reject(new Error(`the lock holder exited (${code}) before holding the lock: ${err}`)));
        child.stdout.on("data", (d: Buffer) => {
            out += d.toString();
            const m = /held (\d+)/.exec(out);
            if (!m) return;
            child.removeAllListeners("exit");
            resolve({
                pid: Number(m[1]),
                release: () =>
                    new Promise<void>((done) => {
                        child.on("exit", () => done());
                        child.stdin.end("ROLLBACK;\n");
                    }),
            });
        });
        child.stdin.write(`BEGIN;\nLOCK TABLE ${table} IN ${mode} MODE;\nSELECT 'held ' || pg_backend_pid();\n`);
    });
}
