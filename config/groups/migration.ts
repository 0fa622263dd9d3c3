// Migrations: which way a stack runs its schema migrations (a Kubernetes Job, or a command where
// `pulumi up` runs), the lock and statement budgets, and the migration files themselves. Reading
// `migrationsDir` is the only I/O of any group, and only when the caller says where the project is
// (`RawConfig.projectDir`); the CLI and most tests validate keys alone.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ENVIRONMENT_RULES } from "../environments";
import { imageProblems } from "../image";
import { type ConfigReader, parseDurationMs, PROJECT } from "../reader";
import type { Identity } from "./identity";
import { type EgressRule, parseEgress } from "./network";

export type MigrationMode = "job" | "command";

/** The keys this module reads; schema.ts's KNOWN_KEYS and Pulumi.yaml list the same. */
export const MIGRATION_KEYS = [
    "migrationsDir",
    "migrationCommand",
    "migrationImage",
    "migrationJobCommand",
    "migrationDeadline",
    "migrationBackoffLimit",
    "migrationLockTimeout",
    "migrationStatementTimeout",
    "migrationSecretEnv",
    "migrationEgress",
] as const;

export const MIGRATION_DEFAULTS = {
    deadline: "10m",
    backoffLimit: 0,
    secretEnv: ["DATABASE_URL"],
} as const;

/** One file of `migrationsDir`, by its path relative to the directory (with `/`). */
export interface MigrationFile {
    readonly path: string;
    readonly sha256: string;
}

/** What `migrationsDir` held when the program ran. */
export interface MigrationSources {
    /** Absolute path of the directory. */
    readonly dir: string;
    /** Every file under it (dot files excluded), sorted by path. */
    readonly files: readonly MigrationFile[];
    /** The `.sql` files among them: what the lint reads. */
    readonly sqlFiles: readonly string[];
    /** `sha256:<hex>` over every file's path and content: the migration's version. */
    readonly version: string;
}

export interface MigrationJobConfig {
    /** The team's migration image. */
    readonly image: string;
    /** The container's command; undefined runs the image's entrypoint. */
    readonly command: readonly string[] | undefined;
    /** Retries of a failed pod before the Job fails (each retry may wait on locks again). */
    readonly backoffLimit: number;
}

export interface MigrationConfig {
    readonly mode: MigrationMode;
    /** `migrationsDir` as configured (relative to the project). */
    readonly dir: string;
    /** The files, when the project directory was given to validation; else undefined. */
    readonly sources: MigrationSources | undefined;
    /** Command mode: run with `/bin/sh -c` where `pulumi up` runs. */
    readonly command: string | undefined;
    /** Job mode. */
    readonly job: MigrationJobConfig | undefined;
    /** Job: activeDeadlineSeconds; command: killed after this long. */
    readonly deadlineMs: number;
    /** PostgreSQL lock_timeout for the migration's sessions. */
    readonly lockTimeoutMs: number;
    /** PostgreSQL statement_timeout for the migration's sessions. */
    readonly statementTimeoutMs: number;
    /** Names of the app's secrets (from secretEnv) handed to the migration. */
    readonly secretEnv: readonly string[];
    /** Egress for the migration's pods only (job mode), e.g. the database's direct port. */
    readonly egress: readonly EgressRule[];
}

/** The longest budget or deadline accepted: anything longer is no budget. */
const MAX_MS = 24 * 60 * 60 * 1000;

/**
 * Keys: the migration keys (MIGRATION_KEYS). A group validator (see config/schema.ts); undefined
 * when the stack runs no migrations, or when there were problems. The environment picks the
 * default budgets and the image rules. With `raw.projectDir`, the files of `migrationsDir` are
 * read: a missing directory, one without SQL, or an unreadable file is a problem in the same report.
 *
 * One function: it reads the group's keys in the order they depend on each other (the mode before
 * the keys each mode needs, the directory before its files) into one report; split, each part would
 * take the reader and the values read before it.
 */
export function validateMigration(read: ConfigReader, id: Identity): MigrationConfig | undefined {
    const { raw, stack } = read;
    const environment = id.environment;
    const problems: string[] = [];
    const report = (): undefined => {
        for (const p of problems) read.problem(p);
        return undefined;
    };
    const rules = ENVIRONMENT_RULES[environment];
    const set = (key: string, example: string) => `pulumi config set ${key} ${example} -s ${stack}`;
    const rm = (key: string) => `pulumi config rm ${key} -s ${stack}`;
    const show = (v: unknown) => JSON.stringify(v);
    const value = (key: string) => read.value(key);
    const text = (key: string): string | undefined => {
        const v = value(key);
        if (v === undefined) return undefined;
        if (typeof v !== "string" || v.trim() === "") {
            problems.push(`${PROJECT}:${key}: ${show(v)} is not a non-empty string. Fix: ${set(key, "<value>")}`);
            return undefined;
        }
        return v;
    };
    const list = (key: string, fallback: readonly string[]): string[] | undefined => {
        let v = value(key);
        if (v === undefined) return [...fallback];
        if (typeof v === "string") {
            try {
                v = JSON.parse(v) as unknown;
            } catch {
                /* reported below */
            }
        }
        if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
            problems.push(
                `${PROJECT}:${key}: ${show(raw.values[key])} is not a list of strings. Allowed: a YAML list. Fix: pulumi config set --path '${key}[0]' <value> -s ${stack}`,
            );
            return undefined;
        }
        return v;
    };
    const duration = (key: string, fallbackMs: number, example: string): number => {
        const v = value(key);
        if (v === undefined) return fallbackMs;
        const ms = typeof v === "string" ? parseDurationMs(v) : undefined;
        if (ms === undefined || ms <= 0 || ms > MAX_MS) {
            problems.push(
                `${PROJECT}:${key}: ${show(v)} is not a duration. Allowed: a positive number with ms, s or m, at most 24h (e.g. ${example}). Fix: ${set(key, example)}`,
            );
            return fallbackMs;
        }
        return ms;
    };

    const dir = text("migrationsDir");
    const command = text("migrationCommand");
    const image = text("migrationImage");
    // The engine hands over Pulumi.yaml's default (an empty list) when the key is unset.
    const jobCommandList = value("migrationJobCommand") === undefined ? [] : list("migrationJobCommand", []);
    const jobCommand = jobCommandList === undefined || jobCommandList.length === 0 ? undefined : jobCommandList;

    if (command !== undefined && image !== undefined) {
        problems.push(
            `${PROJECT}:migrationCommand and ${PROJECT}:migrationImage are both set; a stack runs its migrations one way. ` +
                "Allowed: migrationImage (a Kubernetes Job in the namespace, for runners that cannot reach the database) or migrationCommand (runs where `pulumi up` runs). " +
                `Fix: ${rm("migrationCommand")} to keep the Job, or ${rm("migrationImage")} to keep the command`,
        );
    }
    if (jobCommand !== undefined && image === undefined) {
        problems.push(
            `${PROJECT}:migrationJobCommand: ${show(raw.values["migrationJobCommand"])} is set but migrationImage is not; the Job's command needs the image it runs in. ` +
                `Fix: ${set("migrationImage", "registry.example.com/app-migrate:1.2.3")}, or ${rm("migrationJobCommand")}`,
        );
    }
    const mode: MigrationMode | undefined = image !== undefined ? "job" : command !== undefined ? "command" : undefined;
    if (mode === undefined) {
        if (dir !== undefined) {
            problems.push(
                `${PROJECT}:migrationsDir: ${show(dir)} is set, but nothing runs the migrations in it. ` +
                    `Fix: ${set("migrationImage", "registry.example.com/app-migrate:1.2.3")} (a Job in the cluster) or ${set("migrationCommand", "'./migrations/migrate.sh'")}, or ${rm("migrationsDir")}`,
            );
        }
    }
    // The other keys are judged whatever the mode, so a typo shows before migrations are turned on.
    if (mode !== undefined && dir === undefined && value("migrationsDir") === undefined) {
        problems.push(
            `${PROJECT}:migrationsDir is required when migrations run (${mode === "job" ? "migrationImage" : "migrationCommand"} is set) and missing: ` +
                "the gate lints its SQL at preview and re-runs the migration when its files change. Allowed: a directory of .sql files, relative to the project. " +
                `Fix: ${set("migrationsDir", "migrations")}`,
        );
    }
    if (image !== undefined) {
        for (const p of imageProblems(image, environment)) {
            problems.push(`${PROJECT}:migrationImage: ${p} Fix: ${set("migrationImage", "registry.example.com/app-migrate:1.2.3@sha256:<digest>")}`);
        }
    }

    const deadlineMs = duration("migrationDeadline", parseDurationMs(MIGRATION_DEFAULTS.deadline)!, MIGRATION_DEFAULTS.deadline);
    const lockTimeoutMs = duration("migrationLockTimeout", rules.lockTimeoutMs, `${rules.lockTimeoutMs / 1000}s`);
    const statementTimeoutMs = duration("migrationStatementTimeout", rules.statementTimeoutMs, `${rules.statementTimeoutMs / 1000}s`);
    if (lockTimeoutMs > statementTimeoutMs) {
        problems.push(
            `${PROJECT}:migrationLockTimeout: ${lockTimeoutMs}ms is longer than the statement budget (${statementTimeoutMs}ms); waiting for a lock counts toward statement_timeout, so the lock budget would never apply. ` +
                `Allowed: at most the statement budget (${environment}'s table: ${rules.lockTimeoutMs}ms / ${rules.statementTimeoutMs}ms). Fix: ${rm("migrationLockTimeout")}`,
        );
    }
    if (statementTimeoutMs > deadlineMs) {
        problems.push(
            `${PROJECT}:migrationStatementTimeout: ${statementTimeoutMs}ms is longer than migrationDeadline (${deadlineMs}ms); one statement could outlive the whole migration. ` +
                `Allowed: a statement budget within the deadline. Fix: ${set("migrationDeadline", `${Math.ceil((statementTimeoutMs * 2) / 60_000)}m`)}`,
        );
    }

    let backoffLimit: number = MIGRATION_DEFAULTS.backoffLimit;
    const backoff = value("migrationBackoffLimit");
    if (backoff !== undefined) {
        const n = typeof backoff === "number" ? backoff : typeof backoff === "string" && /^\d+$/.test(backoff.trim()) ? Number(backoff) : NaN;
        if (!Number.isInteger(n) || n < 0 || n > 10) {
            problems.push(
                `${PROJECT}:migrationBackoffLimit: ${show(backoff)} is not allowed. Allowed: an integer from 0 to 10 (0: a failed migration is reported, not retried blindly). Fix: ${set("migrationBackoffLimit", "0")}`,
            );
        } else {
            backoffLimit = n;
        }
        // Only a value other than the default can be told apart from "unset" here.
        if (mode === "command" && backoffLimit > 0) {
            problems.push(
                `${PROJECT}:migrationBackoffLimit applies to the Job (migrationImage), and this stack runs migrationCommand. Fix: ${rm("migrationBackoffLimit")}`,
            );
        }
    }

    const appSecrets = stringList(raw.values["secretEnv"]);
    const secretEnv = list("migrationSecretEnv", MIGRATION_DEFAULTS.secretEnv) ?? [];
    for (const name of mode !== undefined ? secretEnv : []) {
        if (!appSecrets.includes(name)) {
            problems.push(
                `${PROJECT}:migrationSecretEnv: ${show(name)} is not one of the app's secrets (secretEnv: ${show(appSecrets)}); the migration gets a subset of them. ` +
                    `Fix: add ${name} to secretEnv and ${`pulumi config set --secret ${name} <value> -s ${stack}`}, or pulumi config set --path 'migrationSecretEnv[0]' <name> -s ${stack} ('[]' for none)`,
            );
        }
    }

    const egress: EgressRule[] = [];
    for (const item of list("migrationEgress", []) ?? []) {
        const rule = parseEgress(item);
        if ("error" in rule) {
            problems.push(
                `${PROJECT}:migrationEgress: ${show(item)} is not an egress rule. Allowed: "CIDR", "CIDR:PORT" or "CIDR:PORT/UDP", e.g. "10.20.0.5/32:5432". ` +
                    `Fix: pulumi config set --path 'migrationEgress[0]' 10.20.0.5/32:5432 -s ${stack}`,
            );
        } else {
            egress.push(rule);
        }
    }
    if (egress.length > 0 && mode === "command") {
        problems.push(
            `${PROJECT}:migrationEgress opens egress for the migration Job's pods, and this stack runs migrationCommand outside the cluster. Fix: ${rm("migrationEgress")}`,
        );
    }

    let sources: MigrationSources | undefined;
    if (dir !== undefined && raw.projectDir !== undefined) {
        const read = readMigrationSources(path.resolve(raw.projectDir, dir));
        if ("problem" in read) {
            problems.push(`${PROJECT}:migrationsDir: ${show(dir)} ${read.problem}`);
        } else {
            sources = read;
        }
    }

    if (mode === undefined || problems.length > 0 || dir === undefined) return report();
    return {
            mode,
            dir,
            sources,
            command: mode === "command" ? command : undefined,
            job: mode === "job" ? { image: image!, command: jobCommand, backoffLimit } : undefined,
            deadlineMs,
            lockTimeoutMs,
            statementTimeoutMs,
            secretEnv,
            egress,
    };
}

function stringList(v: unknown): string[] {
    if (typeof v === "string") {
        try {
            v = JSON.parse(v);
        } catch {
            return [];
        }
    }
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/**
 * Reads every file under `dir` (dot files and directories skipped), for the version digest and
 * the lint. A problem is phrased to follow the configured value and ends with its fix.
 */
export function readMigrationSources(dir: string): MigrationSources | { problem: string } {
    const fixDir = "Fix: point migrationsDir at the directory holding your .sql migrations (relative to the project), or create it";
    let stat: fs.Stats;
    try {
        stat = fs.statSync(dir);
    } catch (err) {
        return { problem: `cannot be read at ${dir} (${code(err)}). ${fixDir}` };
    }
    if (!stat.isDirectory()) return { problem: `is not a directory (${dir}). ${fixDir}` };

    const files: MigrationFile[] = [];
    const sqlFiles: string[] = [];
    const unreadable: string[] = [];
    const hash = createHash("sha256");
    const walk = (rel: string) => {
        let entries: fs.Dirent[];
        try {
            entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
        } catch (err) {
            unreadable.push(`${rel || "."}/ (${code(err)})`);
            return;
        }
        for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
            if (e.name.startsWith(".")) continue;
            const relPath = rel === "" ? e.name : `${rel}/${e.name}`;
            if (e.isDirectory()) {
                walk(relPath);
                continue;
            }
            let content: Buffer;
            try {
                content = fs.readFileSync(path.join(dir, relPath));
            } catch (err) {
                unreadable.push(`${relPath} (${code(err)})`);
                continue;
            }
            if (relPath.endsWith(".sql")) {
                if (!isUtf8(content)) {
                    unreadable.push(`${relPath} (not UTF-8 text)`);
                    continue;
                }
                sqlFiles.push(relPath);
            }
            const sha256 = createHash("sha256").update(content).digest("hex");
            files.push({ path: relPath, sha256 });
            // Path and content digest, NUL-separated: a rename is a new version too.
            hash.update(`${relPath}\0${sha256}\0`);
        }
    };
    walk("");
    if (unreadable.length > 0) {
        return {
            problem: `has files that cannot be read: ${unreadable.join(", ")}. The gate must read every migration to lint it and to know when it changed. Fix: make them readable UTF-8 (e.g. chmod a+r), or move them out of ${dir}`,
        };
    }
    if (sqlFiles.length === 0) {
        return { problem: `holds no .sql files (${dir}); there is nothing to lint or version. ${fixDir}` };
    }
    return { dir, files, sqlFiles, version: `sha256:${hash.digest("hex")}` };
}

function code(err: unknown): string {
    return (err as NodeJS.ErrnoException).code ?? String(err);
}

function isUtf8(buf: Buffer): boolean {
    try {
        new TextDecoder("utf-8", { fatal: true }).decode(buf);
        return true;
    } catch {
        return false;
    }
}
