// The logic of the MigrationGate's dynamic provider, as plain functions on plain objects so tests
// call them directly. components/migrationGate.ts serializes only a loader for this file (through
// tsx, inside each method), so nothing here becomes part of the state's text.
//
// State rules, the same as the smoke test's: a failing run throws (never with an `id`), so
//   - a failed create records nothing, and the next `up` creates, and migrates, again;
//   - a failed update keeps the previous outputs, whose trigger differs from the new one, so the
//     next `up` diffs as changed and migrates again.
import { existsSync } from "node:fs";
import type { EnvironmentName } from "../config/environments";
import { redactString, secretStrings } from "../proc/redact";
import { type CommandResult, commandEnv, OUTPUT_CAP_BYTES, runCommand } from "../proc/run";
import { budgetEnv } from "./env";
import { runMigrationJob } from "./job";
import { failureReport, MigrationFailedError, stopCause } from "./report";

interface RunCommon {
    readonly environment: EnvironmentName;
    /** `sha256:<hex>` of the migration's files. */
    readonly version: string;
    /** What the run stands for (how it runs and its files); a change runs it again. */
    readonly trigger: string;
    readonly lockTimeoutMs: number;
    readonly statementTimeoutMs: number;
    readonly deadlineMs: number;
}

/** Command mode: the team's command, where `pulumi up` runs. */
export interface CommandMigrationInputs extends RunCommon {
    readonly mode: "command";
    readonly command: string;
    /** The project directory at program time; where the command runs. */
    readonly cwd: string;
    /** Absolute path of migrationsDir, handed over as MIGRATIONS_DIR. */
    readonly migrationsDir: string;
    /** The migration's secrets (a secret input), as env vars. */
    readonly secretEnv: Record<string, string>;
}

/** Job mode: a Kubernetes Job in the environment's namespace. */
export interface JobMigrationInputs extends RunCommon {
    readonly mode: "job";
    readonly namespace: string;
    readonly jobNamePrefix: string;
    /** The Job manifest without a name, as JSON. */
    readonly job: string;
    /** Kubeconfig contents (a secret input) and the context the stack is pinned to. */
    readonly kubeconfig: string;
    readonly context: string;
    /**
     * The migration's secret values (a secret input), redacted from the Job's logs before they
     * reach state or an error; the Job itself gets them from its Secret. @default - none
     */
    readonly redact?: readonly string[];
}

export type MigrationRunInputs = CommandMigrationInputs | JobMigrationInputs;

/** What state keeps: what ran and when. No secrets, no kubeconfig, no machine paths. */
export interface MigrationRunOutputs {
    readonly mode: "command" | "job";
    readonly environment: EnvironmentName;
    readonly version: string;
    readonly trigger: string;
    readonly lockTimeoutMs: number;
    readonly statementTimeoutMs: number;
    readonly deadlineMs: number;
    /** ISO time the migration last succeeded. */
    readonly migratedAt: string;
    readonly elapsedMs: number;
    /** Job mode: the Job that ran it. */
    readonly jobName: string | null;
    /** The end of its output, for a glance. */
    readonly output: string;
}

const STATE_OUTPUT_CHARS = 1024;

async function migrateWithCommand(inputs: CommandMigrationInputs): Promise<{ elapsedMs: number; output: string }> {
    const { command, cwd } = inputs;
    const budgets = { lockTimeoutMs: inputs.lockTimeoutMs, statementTimeoutMs: inputs.statementTimeoutMs };
    const report = (outcome: string, cause: ReturnType<typeof stopCause>, elapsedMs: number, output: string) =>
        new MigrationFailedError(
            cause,
            failureReport({
                environment: inputs.environment,
                version: inputs.version,
                trigger: inputs.trigger,
                outcome,
                elapsedMs,
                ...budgets,
                deadlineMs: inputs.deadlineMs,
                cause,
                output,
                outputLabel: `output (stdout and stderr, last ${OUTPUT_CAP_BYTES / 1024} KiB at most)`,
            }),
        );
    if (!existsSync(cwd)) {
        throw report(
            `\`${command}\` could not start: its working directory ${cwd} (the project directory when the program ran) does not exist here`,
            "not-started",
            0,
            "",
        );
    }
    // Only the allowlisted variables of this process (proc/run.ts), then the gate's own.
    const env = commandEnv({
        ...inputs.secretEnv,
        ...budgetEnv(budgets, inputs.version, process.env["PGOPTIONS"]),
        MIGRATIONS_DIR: inputs.migrationsDir,
        MIGRATION_ENVIRONMENT: inputs.environment,
    });
    let result: CommandResult;
    try {
        result = await runCommand(command, { cwd, env, timeoutMs: inputs.deadlineMs, secrets: secretStrings(Object.values(inputs.secretEnv)) });
    } catch (err) {
        throw report(`\`${command}\` could not start (${(err as Error).message})`, "not-started", 0, "");
    }
    if (result.timedOut) {
        throw report(`\`${command}\` was killed at the deadline`, stopCause(result.output, true), result.elapsedMs, result.output);
    }
    if (result.code !== 0) {
        const how = result.code === null ? `was killed by signal ${result.signal ?? "(unknown)"}` : `exited with status ${result.code}`;
        throw report(`\`${command}\` ${how}`, stopCause(result.output, false), result.elapsedMs, result.output);
    }
    return { elapsedMs: result.elapsedMs, output: result.output };
}

async function migrate(inputs: MigrationRunInputs): Promise<MigrationRunOutputs> {
    const secrets = secretStrings(inputs.mode === "command" ? Object.values(inputs.secretEnv) : (inputs.redact ?? []));
    let run: { elapsedMs: number; output: string; jobName?: string };
    try {
        run = inputs.mode === "command" ? await migrateWithCommand(inputs) : await runMigrationJob(inputs);
    } catch (err) {
        // Output is redacted where it is read; the whole report once more, whatever it quotes.
        if (err instanceof Error) err.message = redactString(err.message, secrets);
        throw err;
    }
    return {
        mode: inputs.mode,
        environment: inputs.environment,
        version: inputs.version,
        trigger: inputs.trigger,
        lockTimeoutMs: inputs.lockTimeoutMs,
        statementTimeoutMs: inputs.statementTimeoutMs,
        deadlineMs: inputs.deadlineMs,
        migratedAt: new Date().toISOString(),
        elapsedMs: run.elapsedMs,
        jobName: run.jobName ?? null,
        output: redactString(run.output, secrets).slice(-STATE_OUTPUT_CHARS),
    };
}

export async function migrationCreate(inputs: MigrationRunInputs): Promise<{ id: string; outs: MigrationRunOutputs }> {
    const outs = await migrate(inputs);
    return { id: `migration-${inputs.environment}-${inputs.trigger.slice(0, 16)}`, outs };
}

export async function migrationUpdate(_id: string, _olds: MigrationRunOutputs, news: MigrationRunInputs): Promise<{ outs: MigrationRunOutputs }> {
    return { outs: await migrate(news) };
}

/**
 * An update (the migration runs) when the trigger changed, or when it never succeeded. Budgets,
 * deadline, secrets and where it runs are not what was migrated, so they alone never re-run it.
 */
export function migrationDiff(_id: string, olds: Partial<MigrationRunOutputs>, news: MigrationRunInputs): { changes: boolean; replaces: string[] } {
    const neverSucceeded = typeof olds.migratedAt !== "string" || olds.migratedAt === "";
    return { changes: neverSucceeded || olds.trigger !== news.trigger || olds.mode !== news.mode, replaces: [] };
}

/** The provider's methods, as components/serializedProvider.ts loads them. */
export const logic = { create: migrationCreate, update: migrationUpdate, diff: migrationDiff };
