// The commands the gates run (smoke command, migration command): what they inherit, what of their
// output reaches state and errors, and that nothing they start outlives the run or the runner.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type CommandMigrationInputs, migrationCreate } from "../../migrate/provider";
import { commandEnv, runCommand } from "../../proc/run";
import { secretStrings } from "../../proc/redact";
import { type CommandRunOutputs, smokeCreate } from "../../smoke/provider";
import { commandInputs } from "../smoke/helpers/provider";

const REPO = path.resolve(__dirname, "../..");
let tmp: string;
beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gate-commands-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Credentials a machine running `pulumi up` holds, set in this process for one test. */
const HELD = {
    PULUMI_ACCESS_TOKEN: "pul-0d1e2f3a4b5c6d7e8f",
    PULUMI_CONFIG_PASSPHRASE: "passphrase-1b2c3d",
    PULUMI_CONFIG_PASSPHRASE_FILE: "/root/.passphrase",
    AWS_SECRET_ACCESS_KEY: "aws-9f8e7d6c5b4a",
    GOOGLE_APPLICATION_CREDENTIALS: "/root/gcp.json",
    AZURE_CLIENT_SECRET: "az-77aa88bb",
    UNRELATED_SETTING: "unrelated-value-7c",
};
const saved: Record<string, string | undefined> = {};
function hold(): void {
    for (const [k, v] of Object.entries(HELD)) {
        saved[k] = process.env[k];
        process.env[k] = v;
    }
}
afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
});

const names = (envOutput: string) =>
    envOutput
        .split("\n")
        .map((l) => l.split("=")[0]!)
        .filter((n) => n !== "" && n !== "PWD" && n !== "SHLVL" && n !== "_" && n !== "OLDPWD")
        .sort();

function migrationInputs(command: string, over: Partial<CommandMigrationInputs> = {}): CommandMigrationInputs {
    return {
        mode: "command",
        environment: "staging",
        version: "sha256:v",
        trigger: "t",
        lockTimeoutMs: 2000,
        statementTimeoutMs: 30_000,
        deadlineMs: 20_000,
        command,
        cwd: REPO,
        migrationsDir: path.join(REPO, "migrations"),
        secretEnv: { DATABASE_URL: "postgresql://app:pa%3Ass-w0rd@db.internal:5432/app" },
        ...over,
    };
}

describe("a command's environment is an allowlist", () => {
    it("commandEnv: PATH, HOME, LANG, LC_ALL, TZ, TMPDIR when set, then the gate's own variables", () => {
        const parent = { PATH: "/bin", HOME: "/h", LANG: "C.UTF-8", TZ: "UTC", ...HELD };
        expect(commandEnv({ SMOKE_BASE_URL: "http://x" }, parent)).toEqual({ PATH: "/bin", HOME: "/h", LANG: "C.UTF-8", TZ: "UTC", SMOKE_BASE_URL: "http://x" });
        // A name the caller lists is inherited; the credentials never are, even when listed.
        expect(commandEnv({}, parent, ["UNRELATED_SETTING", "PULUMI_ACCESS_TOKEN", "AWS_SECRET_ACCESS_KEY"])).toEqual({
            PATH: "/bin",
            HOME: "/h",
            LANG: "C.UTF-8",
            TZ: "UTC",
            UNRELATED_SETTING: "unrelated-value-7c",
        });
    });

    it("the smoke command sees neither the Pulumi token, the passphrase nor cloud credentials", async () => {
        hold();
        // Names only: the state keeps the output's tail, and a long PATH's value would push the first names out of it.
        const { outs } = await smokeCreate(commandInputs("env | sed 's/=.*//'"));
        const output = (outs as CommandRunOutputs).commandOutput;
        for (const value of Object.values(HELD)) expect(output).not.toContain(value);
        expect(names(output)).toEqual(["HOME", "PATH", "SMOKE_BASE_URL", "SMOKE_TRIGGER", ...["LANG", "LC_ALL", "TZ", "TMPDIR"].filter((n) => process.env[n] !== undefined)].sort());
    });

    it("the migration command sees its secrets, budgets and directory, and nothing else of this process", async () => {
        hold();
        const { outs } = await migrationCreate(migrationInputs("env | sed 's/=.*//'"));
        expect(names(outs.output)).toEqual(
            [
                "DATABASE_URL",
                "HOME",
                "MIGRATIONS_DIR",
                "MIGRATION_ENVIRONMENT",
                "MIGRATION_LOCK_TIMEOUT_MS",
                "MIGRATION_STATEMENT_TIMEOUT_MS",
                "MIGRATION_VERSION",
                "PATH",
                "PGOPTIONS",
                ...["LANG", "LC_ALL", "TZ", "TMPDIR"].filter((n) => process.env[n] !== undefined),
            ].sort(),
        );
    });
});

describe("the live check's command", () => {
    it("gets SMOKE_BASE_URL and the allowlist only, and reports its failure", async () => {
        hold();
        const { liveCheckFails } = await import("../../release/switch");
        const report = await liveCheckFails({ baseUrl: "http://live.test", command: "env; exit 4", cwd: tmp, deadlineMs: 5000 });
        expect(report).toMatch(/^`env; exit 4` exited with status 4\n/);
        expect(report).toContain("SMOKE_BASE_URL=http://live.test");
        for (const value of Object.values(HELD)) expect(report).not.toContain(value);
    });
});

describe("secret values are redacted from command output before state and errors", () => {
    it("secretStrings: a URL's password, encoded and decoded, and a conninfo password", () => {
        expect(secretStrings(["postgresql://app:pa%3Ass-w0rd@db/app"])).toEqual(["postgresql://app:pa%3Ass-w0rd@db/app", "pa%3Ass-w0rd", "pa:ss-w0rd"]);
        expect(secretStrings(["host=db password='s3 cret' user=app"])).toContain("s3 cret");
        expect(secretStrings(["Bearer tok-123456"])).toEqual(["Bearer tok-123456", "tok-123456"]);
        // Too short to look for without blanking ordinary text.
        expect(secretStrings(["ab"])).toEqual([]);
    });

    it("a passing migration's output in state holds no secret", async () => {
        const { outs } = await migrationCreate(migrationInputs('echo "url=$DATABASE_URL"; echo "password=pa:ss-w0rd"'));
        expect(outs.output).toBe("url=[redacted]\npassword=[redacted]\n");
    });

    it("a failing migration's error holds no secret", async () => {
        const err = (await migrationCreate(migrationInputs('echo "connecting to $DATABASE_URL"; echo "auth failed for pa%3Ass-w0rd" >&2; exit 1')).catch(
            (e: unknown) => e,
        )) as Error;
        expect(err.message).toContain("connecting to [redacted]");
        expect(err.message).toContain("auth failed for [redacted]");
        expect(err.message).not.toContain("w0rd");
    });

    it("a smoke command's output is redacted of the stack's secrets it is given", async () => {
        const err = (await smokeCreate(commandInputs("echo token=tok-abcdef123; exit 2", { redact: ["tok-abcdef123"] })).catch((e: unknown) => e)) as Error;
        expect(err.message).toContain("token=[redacted]");
        expect(err.message).not.toContain("tok-abcdef123");
    });

    it("a secret cut at the front of the kept tail is still redacted whole", async () => {
        const secret = "s".repeat(40);
        const r = await runCommand(`printf '%s' "${secret}"; head -c 100 /dev/zero | tr '\\0' x`, { cwd: tmp, env: commandEnv({}), timeoutMs: 5000, secrets: [secret], outputCapBytes: 110 });
        expect(r.output).not.toContain("ssss");
        expect(r.output.endsWith("x".repeat(100))).toBe(true);
    });
});

const alive = (pid: number) => {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
};
async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (!ok()) {
        if (Date.now() > end) throw new Error(`${what} within ${ms} ms`);
        await new Promise((r) => setTimeout(r, 50));
    }
}

describe("nothing a command starts outlives the run or the runner", () => {
    it("a background job left by a command that exited is killed", async () => {
        const pidFile = path.join(tmp, "bg.pid");
        const r = await runCommand(`sleep 30 & echo $! > ${pidFile}; echo done`, { cwd: tmp, env: commandEnv({}), timeoutMs: 10_000 });
        expect(r.code).toBe(0);
        const pid = Number(fs.readFileSync(pidFile, "utf8"));
        await until("the background sleep is gone", () => !alive(pid));
    });

    it("when the runner's process is killed (SIGKILL), the command's whole process group is killed", async () => {
        const pidFile = path.join(tmp, "child.pid");
        const script = `
            require(${JSON.stringify(require.resolve("tsx/cjs/api"))}).require(${JSON.stringify(path.join(REPO, "proc", "run.ts"))}, __filename)
                .runCommand("sleep 60 & echo $! > ${pidFile}; sleep 60", { cwd: ${JSON.stringify(tmp)}, env: { PATH: process.env.PATH }, timeoutMs: 60000 });`;
        const runner = spawn(process.execPath, ["-e", script], { stdio: "ignore" });
        try {
            await until("the command started", () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").trim() !== "", 15_000);
            const pid = Number(fs.readFileSync(pidFile, "utf8"));
            expect(alive(pid)).toBe(true);
            runner.kill("SIGKILL");
            await until("the command's background sleep is gone after the runner died", () => !alive(pid));
        } finally {
            runner.kill("SIGKILL");
        }
    });

    it("the migration linter is run with a timeout", async () => {
        // squawk stand-in that never answers: the lint reports it instead of hanging the preview.
        const slow = path.join(tmp, "slow-squawk");
        fs.writeFileSync(slow, "#!/bin/sh\nexec sleep 60\n", { mode: 0o755 });
        const { runSquawk } = await import("../../migrate/lint");
        const started = Date.now();
        const r = runSquawk(tmp, ["x.sql"], slow, 1000);
        expect(Date.now() - started).toBeLessThan(10_000);
        expect(r.error).toMatch(/killed after its timeout of 1 s/);
    });
});

