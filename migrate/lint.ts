// Preview-time lint of the migration's SQL: squawk (the PostgreSQL migration linter, its binary
// shipped in the npm package @squawk-cli/<platform>) plus one rule of our own that squawk cannot
// know, the environment's lock and statement budgets.
//
// Which squawk rules run: all of its default rules except require-lock-timeout and
// require-statement-timeout. Those two ask each file to SET its own timeouts; here the gate
// starts every migration session with the environment's budgets (PGOPTIONS), and a file's own
// SET would override them, the same value in every environment. Our `*-timeout-budget` rules
// take their place: a file may lower a budget, never raise or disable it.
import * as fs from "node:fs";
import * as path from "node:path";
import { ENVIRONMENT_RULES, type EnvironmentName } from "../config/environments";
import type { MigrationConfig } from "../config/groups/migration";
import { runTool } from "../proc/run";

export const SQUAWK_EXCLUDED_RULES = ["require-lock-timeout", "require-statement-timeout"] as const;

export interface LintFinding {
    /** Path relative to the migrations directory. */
    readonly file: string;
    /** 1-based. */
    readonly line: number;
    readonly rule: string;
    readonly message: string;
    readonly help: string | undefined;
}

export interface LintReport {
    /** e.g. "squawk 2.66.0". */
    readonly linter: string;
    readonly findings: readonly LintFinding[];
    /** Set when the linter could not run at all; the findings are then empty. */
    readonly error: string | undefined;
}

export interface Budgets {
    readonly lockTimeoutMs: number;
    readonly statementTimeoutMs: number;
}

/**
 * The squawk binary, from its platform package. The project depends on `@squawk-cli/linux-x64`
 * directly, as an optional dependency: the `squawk-cli` wrapper declares a package per platform,
 * and a registry mirror that lacks one of them makes `npm ci` fail. Elsewhere, a missing binary is reported (and fails closed where the lint is
 * mandatory).
 */
export function squawkBinary(): string {
    if (process.platform !== "linux" || process.arch !== "x64") {
        throw new Error(`no squawk binary is pinned for ${process.platform}-${process.arch}; the project pins @squawk-cli/linux-x64`);
    }
    return path.join(path.dirname(require.resolve("@squawk-cli/linux-x64/package.json")), "bin", "squawk");
}

interface SquawkJson {
    file: string;
    line: number;
    level: string;
    message: string;
    help: string | null;
    rule_name: string;
}

/** How long squawk may take, per run: it lints a few files in well under a second. */
export const SQUAWK_TIMEOUT_MS = 30_000;

/** Runs squawk on `files` (relative to `dir`); findings, or an error saying why it could not run. */
export function runSquawk(dir: string, files: readonly string[], binary?: string, timeoutMs = SQUAWK_TIMEOUT_MS): LintReport {
    let bin: string;
    try {
        bin = binary ?? squawkBinary();
    } catch (err) {
        return {
            linter: "squawk",
            findings: [],
            error: `the squawk binary is not installed (${(err as Error).message.split("\n")[0]}). Fix: npm ci on linux-x64 (@squawk-cli/linux-x64 is an optional dependency; do not omit optional dependencies)`,
        };
    }
    const version = runTool(bin, ["--version"], { timeoutMs });
    if (version.timedOut) return { linter: "squawk", findings: [], error: `${bin} could not lint ${dir} (--version was ${version.error})` };
    const linter = version.status === 0 ? version.stdout.trim() : "squawk";
    const run = runTool(bin, ["--reporter=json", `--exclude=${SQUAWK_EXCLUDED_RULES.join(",")}`, ...files], { cwd: dir, timeoutMs });
    if (run.error !== undefined || (run.status !== 0 && run.status !== 1)) {
        const why = run.error ?? `exit ${run.status}: ${run.stderr.trim().split("\n")[0] ?? ""}`;
        return { linter, findings: [], error: `${bin} could not lint ${dir} (${why})` };
    }
    let parsed: SquawkJson[];
    try {
        parsed = JSON.parse(run.stdout.trim() === "" ? "[]" : run.stdout) as SquawkJson[];
    } catch {
        return { linter, findings: [], error: `${linter} printed something other than its JSON report: ${run.stdout.slice(0, 200)}` };
    }
    return {
        linter,
        findings: parsed.map((f) => ({ file: f.file, line: f.line + 1, rule: f.rule_name, message: f.message, help: f.help ?? undefined })),
        error: undefined,
    };
}

const SETTING =
    /^\s*(?:(SET)\s+(?:SESSION\s+|LOCAL\s+)?(lock_timeout|statement_timeout)\s*(?:=|\bTO\b)\s*([\s\S]*?)\s*|(RESET)\s+(lock_timeout|statement_timeout|ALL)\s*)$/i;
const UNIT_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** A PostgreSQL timeout setting's value in ms (unitless means ms); 0 for "none"; undefined when unreadable. */
export function timeoutSettingMs(value: string): number | undefined {
    const v = value
        .trim()
        .replace(/^'(.*)'$/s, "$1")
        .trim();
    if (/^default$/i.test(v)) return 0;
    const m = /^(\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?$/i.exec(v);
    if (!m) return undefined;
    return Number(m[1]) * UNIT_MS[(m[2] ?? "ms").toLowerCase()]!;
}

/**
 * Our rules `lock-timeout-budget` and `statement-timeout-budget`: a SET (or RESET) that raises a
 * budget above the environment's, or turns it off (0, DEFAULT, RESET: the server default, no
 * timeout), would let the statements after it wait or run unbounded.
 */
export function budgetFindings(file: string, sql: string, budgets: Budgets, environment: EnvironmentName): LintFinding[] {
    const findings: LintFinding[] = [];
    // Blank out comments, keeping offsets (and so line numbers) intact.
    const code = sql.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " "));
    let offset = 0;
    for (const statement of code.split(";")) {
        const start = offset;
        offset += statement.length + 1;
        const m = SETTING.exec(statement);
        if (!m) continue;
        const lead = statement.length - statement.trimStart().length;
        const line = sql.slice(0, start + lead).split("\n").length;
        const settings = m[1] ? [m[2]!.toLowerCase()] : m[5]!.toLowerCase() === "all" ? ["lock_timeout", "statement_timeout"] : [m[5]!.toLowerCase()];
        for (const setting of settings) {
            const budgetMs = setting === "lock_timeout" ? budgets.lockTimeoutMs : budgets.statementTimeoutMs;
            const rule = setting === "lock_timeout" ? "lock-timeout-budget" : "statement-timeout-budget";
            const ms = m[1] ? timeoutSettingMs(m[3]!) : 0;
            const budget = `${environment}'s ${setting} budget of ${formatMs(budgetMs)}`;
            const help = `Remove the statement: the gate starts every session with ${setting}=${formatMs(budgetMs)}. A file may only lower it.`;
            if (ms === undefined) {
                findings.push({
                    file,
                    line,
                    rule,
                    message: `\`${statement.trim()}\` sets ${setting} to a value this lint cannot read, so it cannot tell whether it stays within ${budget}.`,
                    help,
                });
            } else if (ms === 0) {
                findings.push({
                    file,
                    line,
                    rule,
                    message: `\`${statement.trim()}\` turns ${setting} off: the statements after it are not bounded by ${budget}.`,
                    help,
                });
            } else if (ms > budgetMs) {
                findings.push({ file, line, rule, message: `\`${statement.trim()}\` raises ${setting} to ${formatMs(ms)}, above ${budget}.`, help });
            }
        }
    }
    return findings;
}

export interface LintInput {
    /** Absolute path of the migrations directory. */
    readonly dir: string;
    /** Its .sql files, relative to it. */
    readonly sqlFiles: readonly string[];
    readonly budgets: Budgets;
    readonly environment: EnvironmentName;
}

/** Lints a migrations directory: squawk's findings, then the budget rules', per file and line. */
export function lintMigrations(input: LintInput, squawk: (dir: string, files: readonly string[]) => LintReport = runSquawk): LintReport {
    const report = squawk(input.dir, input.sqlFiles);
    const own = input.sqlFiles.flatMap((file) => budgetFindings(file, fs.readFileSync(path.join(input.dir, file), "utf8"), input.budgets, input.environment));
    const findings = [...report.findings, ...own].sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
    return { ...report, findings };
}

export type LintVerdict =
    | { readonly outcome: "clean" }
    /** Advisory: say it, let the preview pass. */
    | { readonly outcome: "warn"; readonly message: string }
    /** Mandatory: fail the preview (and the update). */
    | { readonly outcome: "deny"; readonly message: string };

/**
 * What the gate does with a lint report: nothing when clean; in an advisory environment a
 * warning; in a mandatory one an error that stops the preview. A linter that could not run is
 * treated like a finding: mandatory environments fail closed.
 */
export function lintVerdict(report: LintReport, ctx: { environment: EnvironmentName; enforcement: "advisory" | "mandatory"; dir: string }): LintVerdict {
    if (report.error === undefined && report.findings.length === 0) return { outcome: "clean" };
    const consequence =
        ctx.enforcement === "mandatory"
            ? `mandatory in ${ctx.environment}: the preview fails, and nothing is migrated or deployed`
            : `advisory in ${ctx.environment}: the preview passes; staging and prod refuse this`;
    if (report.error !== undefined) {
        return { outcome: ctx.enforcement === "mandatory" ? "deny" : "warn", message: `migration lint could not run (${consequence}): ${report.error}` };
    }
    const n = report.findings.length;
    const lines = report.findings.map((f) => `  ${ctx.dir}/${f.file}:${f.line}  ${f.rule}: ${f.message}${f.help ? `\n      fix: ${f.help}` : ""}`);
    const message =
        `migration lint (${report.linter}) found ${n} problem${n === 1 ? "" : "s"} in ${ctx.dir} (${consequence}):\n${lines.join("\n")}\n` +
        "Fix: change the migration as each line says. If a finding is safe here (e.g. an index on a table the same migration creates), " +
        "say so in the file, above the statement: -- squawk-ignore <rule>";
    return { outcome: ctx.enforcement === "mandatory" ? "deny" : "warn", message };
}

/**
 * The stack's migrations linted and judged, as the program's edge does before any resource is
 * registered (index.ts): a "deny" stops the program there. undefined when the files were not read
 * (the MigrationGate reports that).
 */
export function judgeMigrations(migration: MigrationConfig, environment: EnvironmentName): { readonly report: LintReport; readonly verdict: LintVerdict } | undefined {
    const sources = migration.sources;
    if (sources === undefined) return undefined;
    const report = lintMigrations({ dir: sources.dir, sqlFiles: sources.sqlFiles, budgets: migration, environment });
    return { report, verdict: lintVerdict(report, { environment, enforcement: ENVIRONMENT_RULES[environment].enforcement, dir: migration.dir }) };
}

export function formatMs(ms: number): string {
    if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}min`;
    if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
    return `${ms}ms`;
}
