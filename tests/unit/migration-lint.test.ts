// The preview-time lint with the real squawk binary from the npm package: which findings it
// reports, the budget rules of our own, and what each environment does with a finding.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENVIRONMENT_RULES } from "../../config/environments";
import { budgetFindings, lintMigrations, type LintReport, lintVerdict, runSquawk, squawkBinary, SQUAWK_EXCLUDED_RULES, timeoutSettingMs } from "../../migrate/lint";

const REPO = path.resolve(__dirname, "../..");
let dir: string;

beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "migration-lint-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function lintSql(files: Record<string, string>, environment: "dev" | "staging" | "prod" = "prod"): LintReport {
    const d = fs.mkdtempSync(path.join(dir, "case-"));
    for (const [name, sql] of Object.entries(files)) fs.writeFileSync(path.join(d, name), sql);
    return lintMigrations({ dir: d, sqlFiles: Object.keys(files), budgets: ENVIRONMENT_RULES[environment], environment });
}

const rules = (r: LintReport) => r.findings.map((f) => `${f.file}:${f.line} ${f.rule}`);

describe("squawk from the npm package", () => {
    it("is the pinned 2.66.0 and runs without install scripts (the binary ships executable)", () => {
        const bin = squawkBinary();
        expect(bin).toContain(path.join("node_modules", "@squawk-cli", `${process.platform}-${process.arch}`));
        fs.accessSync(bin, fs.constants.X_OK);
        expect(runSquawk(dir, []).linter).toBe("squawk 2.66.0");
    });

    it("finds a blocking index build, a table rewrite and a column type change, each on its line", () => {
        const r = lintSql({
            "001_unsafe.sql": [
                "CREATE INDEX IF NOT EXISTS items_name ON items (name);",
                "ALTER TABLE items ADD COLUMN IF NOT EXISTS token uuid NOT NULL DEFAULT gen_random_uuid();",
                "ALTER TABLE items ALTER COLUMN name TYPE varchar(80);",
            ].join("\n"),
        });
        expect(r.error).toBeUndefined();
        expect(rules(r)).toEqual([
            "001_unsafe.sql:1 require-concurrent-index-creation",
            "001_unsafe.sql:2 adding-field-with-default",
            "001_unsafe.sql:3 prefer-robust-stmts",
            "001_unsafe.sql:3 changing-column-type",
            "001_unsafe.sql:3 prefer-text-field",
        ]);
        expect(r.findings[0]!.message).toContain("table updates are blocked");
        expect(r.findings[0]!.help).toBe("Use `concurrently` to avoid blocking writes.");
    });

    it("finds full scans under a lock and changes that break the running app", () => {
        const r = lintSql({
            "002_constraints.sql": [
                "ALTER TABLE items ADD CONSTRAINT items_owner FOREIGN KEY (owner_id) REFERENCES owners (id);",
                "ALTER TABLE items DROP COLUMN IF EXISTS note;",
                "ALTER TABLE items RENAME COLUMN name TO title;",
                "ALTER TABLE items ADD COLUMN IF NOT EXISTS sku text NOT NULL;",
            ].join("\n"),
        });
        expect(new Set(r.findings.map((f) => f.rule))).toEqual(
            new Set(["constraint-missing-not-valid", "adding-foreign-key-constraint", "ban-drop-column", "renaming-column", "prefer-robust-stmts", "adding-required-field"]),
        );
    });

    it("leaves the timeouts to the gate: no finding for a file without SET lock_timeout", () => {
        const r = lintSql({ "001.sql": "ALTER TABLE items ADD COLUMN IF NOT EXISTS note text;\n" });
        expect(r.findings).toEqual([]);
        // Without our exclusion squawk would ask for both, so the exclusion is what keeps it quiet.
        const plain = fs.mkdtempSync(path.join(dir, "plain-"));
        fs.writeFileSync(path.join(plain, "001.sql"), "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON items (name);\n");
        let raw = "";
        try {
            execFileSync(squawkBinary(), ["--reporter=json", "001.sql"], { cwd: plain, encoding: "utf8" });
        } catch (err) {
            raw = String((err as { stdout: string }).stdout);
        }
        const squawkRules = (JSON.parse(raw) as { rule_name: string }[]).map((f) => f.rule_name);
        for (const rule of SQUAWK_EXCLUDED_RULES) expect(squawkRules).toContain(rule);
        expect(lintSql({ "001.sql": "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON items (name);\n" }).findings).toEqual([]);
    });

    it("honours a squawk-ignore comment: a reviewed decision written in the file", () => {
        const r = lintSql({
            "001.sql":
                "CREATE TABLE IF NOT EXISTS t (id bigint, name text);\n-- squawk-ignore require-concurrent-index-creation\nCREATE INDEX IF NOT EXISTS t_name ON t (name);\n",
        });
        expect(rules(r)).toEqual([]);
    });

    it("reports a syntax error as a finding", () => {
        expect(rules(lintSql({ "001.sql": "CREATE TABL items (id int);\n" }))[0]).toBe("001.sql:1 syntax-error");
    });

    it("the reference app's migrations are clean in every environment", () => {
        const sql = fs.readdirSync(path.join(REPO, "migrations")).filter((f) => f.endsWith(".sql"));
        expect(sql.length).toBeGreaterThan(0);
        for (const environment of ["dev", "staging", "prod"] as const) {
            expect(
                lintMigrations({ dir: path.join(REPO, "migrations"), sqlFiles: sql, budgets: ENVIRONMENT_RULES[environment], environment }).findings,
            ).toEqual([]);
        }
    });

    it("says why when the binary cannot run", () => {
        const r = runSquawk(dir, ["x.sql"], path.join(dir, "no-such-squawk"));
        expect(r.error).toMatch(/could not lint .* \(spawnSync .*no-such-squawk ENOENT\)/);
    });
});

describe("the budget rules", () => {
    const prod = ENVIRONMENT_RULES.prod;

    it("reads PostgreSQL's timeout values", () => {
        expect(["'1s'", "1000", "'1500ms'", "2min", "'0'", "DEFAULT", "'1 s'", "'forever'"].map(timeoutSettingMs)).toEqual([
            1000,
            1000,
            1500,
            120_000,
            0,
            0,
            1000,
            undefined,
        ]);
    });

    it("flags raising or turning off a budget, never lowering it; comments do not count", () => {
        const sql = [
            "-- SET lock_timeout = '1h'; (a comment, ignored)",
            "SET lock_timeout = '500ms';",
            "SET statement_timeout TO '10s';",
            "SET LOCAL lock_timeout = '5s';",
            "SET statement_timeout = 0;",
            "/* RESET ALL; */ SELECT 1;",
            "RESET lock_timeout;",
            "set session statement_timeout = 'soon';",
        ].join("\n");
        const f = budgetFindings("001.sql", sql, prod, "prod");
        expect(f.map((x) => `${x.line} ${x.rule}`)).toEqual([
            "4 lock-timeout-budget",
            "5 statement-timeout-budget",
            "7 lock-timeout-budget",
            "8 statement-timeout-budget",
        ]);
        expect(f[0]!.message).toBe("`SET LOCAL lock_timeout = '5s'` raises lock_timeout to 5s, above prod's lock_timeout budget of 1s.");
        expect(f[1]!.message).toBe(
            "`SET statement_timeout = 0` turns statement_timeout off: the statements after it are not bounded by prod's statement_timeout budget of 15s.",
        );
        expect(f[0]!.help).toBe("Remove the statement: the gate starts every session with lock_timeout=1s. A file may only lower it.");
    });

    it("judges by the environment's budget: 5s is fine in dev, not in staging", () => {
        const sql = "SET lock_timeout = '5s';\nALTER TABLE items ADD COLUMN IF NOT EXISTS note text;\n";
        expect(rules(lintSql({ "001.sql": sql }, "dev"))).toEqual([]);
        expect(rules(lintSql({ "001.sql": sql }, "staging"))).toEqual(["001.sql:1 lock-timeout-budget"]);
    });

    it("RESET ALL drops both budgets", () => {
        expect(budgetFindings("x.sql", "RESET ALL;", prod, "prod").map((x) => x.rule)).toEqual(["lock-timeout-budget", "statement-timeout-budget"]);
    });
});

describe("what each environment does with findings", () => {
    let report: LintReport;
    beforeAll(() => {
        report = lintSql({ "003_index.sql": "CREATE INDEX IF NOT EXISTS items_name ON items (name);\n" });
    });

    it("prod (mandatory) denies, naming file, line, rule and fix", () => {
        const v = lintVerdict(report, { environment: "prod", enforcement: ENVIRONMENT_RULES.prod.enforcement, dir: "migrations" });
        expect(v.outcome).toBe("deny");
        expect(v.outcome !== "clean" && v.message).toBe(
            "migration lint (squawk 2.66.0) found 1 problem in migrations (mandatory in prod: the preview fails, and nothing is migrated or deployed):\n" +
                "  migrations/003_index.sql:1  require-concurrent-index-creation: During normal index creation, table updates are blocked, but reads are still allowed.\n" +
                "      fix: Use `concurrently` to avoid blocking writes.\n" +
                "Fix: change the migration as each line says. If a finding is safe here (e.g. an index on a table the same migration creates), say so in the file, above the statement: -- squawk-ignore <rule>",
        );
    });

    it("dev (advisory) warns and passes, saying staging and prod would refuse it", () => {
        const v = lintVerdict(report, { environment: "dev", enforcement: ENVIRONMENT_RULES.dev.enforcement, dir: "migrations" });
        expect(v.outcome).toBe("warn");
        expect(v.outcome !== "clean" && v.message).toContain("(advisory in dev: the preview passes; staging and prod refuse this)");
    });

    it("a linter that could not run fails closed where enforcement is mandatory", () => {
        const broken: LintReport = { linter: "squawk", findings: [], error: "the squawk binary is not installed" };
        expect(lintVerdict(broken, { environment: "staging", enforcement: "mandatory", dir: "m" }).outcome).toBe("deny");
        expect(lintVerdict(broken, { environment: "dev", enforcement: "advisory", dir: "m" }).outcome).toBe("warn");
        expect(lintVerdict({ linter: "squawk", findings: [], error: undefined }, { environment: "prod", enforcement: "mandatory", dir: "m" }).outcome).toBe(
            "clean",
        );
    });
});
