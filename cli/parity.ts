// `progression parity`: every configuration key of every stack, judged by the parity rules.
// Each stack's config is read through the Automation API (`pulumi config --show-secrets --json`),
// so each stack's own secrets provider decrypts its secrets, into this process's memory only.
// A secret is turned at once into an HMAC under a random key that lives in this process and dies
// with it; only those fingerprints are compared, and neither a value nor a fingerprint is printed.
import { createHmac, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { CommandError, LocalWorkspace } from "@pulumi/pulumi/automation";
import { ENVIRONMENTS, isEnvironmentName } from "../config/environments";
import { PROJECT } from "../config/schema";
import { flattenConfig, formatParity, parityJson, parityMatrix, type StackEntries } from "../promotion/parity";
import { loadRules, RULES_FILE, RulesError } from "../promotion/rules";
import { UsageError } from "./args";

export const usage = `usage: progression parity [--stacks dev,staging,prod] [--rules FILE] [--json] [-C DIR]

Compares every configuration key of the stacks, in promotion order, against the parity rules:
must-match keys (feature flags, the migration version, ...) must be equal in the environments
the rule names, must-differ keys (every secret) must differ in all of them, free keys may differ.
Secrets are compared as keyed hashes in memory; no value or hash is ever printed.

options:
  --stacks LIST   comma-separated stacks, upstream first (default ${ENVIRONMENTS.join(",")})
  --rules FILE    parity rules (default: the committed parity-rules.json, over the built-in defaults)
  --json          print the matrix as JSON (secret values shown as "<secret>", no hashes)
  -C, --cwd DIR   the Pulumi project directory (default: the current directory)
  -h, --help      show this help

needs the pulumi CLI on PATH, logged in to the stacks' backend, and their secrets passphrase or
provider (PULUMI_CONFIG_PASSPHRASE(_FILE) for passphrase stacks).

exit status: 0 no violation, 1 a violation, 2 usage error or a stack that cannot be read`;

/** The part of a failed `pulumi` command worth showing: its stderr. Never its stdout, which holds decrypted config. */
function cliFailure(err: unknown): string {
    if (err instanceof CommandError) {
        // The SDK keeps the command's result on a field its typings mark internal.
        const result = (err as unknown as { commandResult?: { stderr?: string } }).commandResult;
        const stderr = (result?.stderr ?? "").trim();
        return stderr === "" ? "the pulumi CLI failed without a message" : stderr.split("\n").slice(-3).join(" ");
    }
    const e = err as NodeJS.ErrnoException;
    if (e?.code === "ENOENT" || /ENOENT|not found.*pulumi|spawn pulumi/i.test(String(e?.message))) {
        return 'the pulumi CLI is not on PATH (eval "$(toolchain/toolchain.sh --print-env)" puts the built one there)';
    }
    return e instanceof Error ? e.message.split("\n")[0]! : String(err);
}

export async function run(argv: string[]): Promise<number> {
    let parsed;
    try {
        parsed = parseArgs({
            args: argv,
            allowPositionals: false,
            strict: true,
            options: {
                stacks: { type: "string" },
                rules: { type: "string" },
                json: { type: "boolean" },
                cwd: { type: "string", short: "C" },
                help: { type: "boolean", short: "h" },
            },
        });
    } catch (err) {
        throw new UsageError(`${(err as Error).message}\n\n${usage}`);
    }
    const { values } = parsed;
    if (values.help) {
        process.stdout.write(usage + "\n");
        return 0;
    }
    const stacks = (values.stacks ?? ENVIRONMENTS.join(",")).split(",").map((s) => s.trim());
    if (stacks.length < 2 || stacks.some((s) => s === "") || new Set(stacks).size !== stacks.length) {
        throw new UsageError(`--stacks '${values.stacks ?? ""}' must name two or more distinct stacks, upstream first; fix: e.g. --stacks dev,staging,prod`);
    }
    let rules;
    try {
        rules = loadRules(values.rules !== undefined ? path.resolve(values.rules) : RULES_FILE);
    } catch (err) {
        if (err instanceof RulesError) throw new UsageError(`--rules: ${err.message}`);
        throw err;
    }
    const workDir = path.resolve(values.cwd ?? ".");
    if (!fs.existsSync(path.join(workDir, "Pulumi.yaml"))) {
        throw new UsageError(`no Pulumi.yaml in ${workDir}; fix: run it in the Pulumi project directory, or pass -C DIR`);
    }

    const key = randomBytes(32);
    const fingerprint = (secret: string) => createHmac("sha256", key).update(secret).digest("hex");
    let workspace: LocalWorkspace;
    try {
        workspace = await LocalWorkspace.create({ workDir });
    } catch (err) {
        throw new UsageError(`cannot open the Pulumi project in ${workDir}: ${cliFailure(err)}`);
    }
    const entries: StackEntries[] = [];
    for (const stack of stacks) {
        let config;
        try {
            config = await workspace.getAllConfig(stack);
        } catch (err) {
            throw new UsageError(
                `stack '${stack}' cannot be read: ${cliFailure(err)}; fix: check the stack name (pulumi stack ls), the backend (pulumi login) and the secrets passphrase`,
            );
        }
        const declared = config[`${PROJECT}:environment`]?.value;
        const environment = isEnvironmentName(declared) ? declared : isEnvironmentName(stack) ? stack : undefined;
        entries.push(flattenConfig(stack, environment, config, PROJECT, fingerprint));
    }
    const report = parityMatrix(entries, rules);
    process.stdout.write((values.json ? JSON.stringify(parityJson(report), null, 2) : formatParity(report)) + "\n");
    return report.violations.length === 0 ? 0 : 1;
}
