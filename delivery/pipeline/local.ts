// The local stand-ins for the runner and Pulumi Cloud: the cluster, the reference apps and the stacks
// (set up with the demo's driver), and a Runner that runs shell steps with bash, `progression parity`
// against the local stacks, and pulumi steps through the Automation API.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { PreviewOptions, Stack, UpOptions } from "@pulumi/pulumi/automation";
import { ENVIRONMENTS, type EnvironmentName } from "../../config/environments";
import { resolveRuntime } from "./expressions";
import { type JobRun, PipelineError, type PlanJob, REPO } from "./model";
import type { Runner } from "./run";

export interface LocalOptions {
    /** Where the state, the generated project, secrets and app logs live (`npm run demo` uses .local). */
    readonly dir: string;
    /** The local cluster's name (cluster/cluster.sh). */
    readonly cluster: string;
    /** The port of each environment's reference app, the target of its smoke checks. */
    readonly ports: Readonly<Record<EnvironmentName, number>>;
    readonly failures?: Partial<Record<EnvironmentName, string>>;
    /** Config values per stack over the committed stack file (key without namespace). */
    readonly overrides?: Partial<Record<EnvironmentName, Record<string, unknown>>>;
    readonly log: (text: string) => void;
}

/**
 * The local stand-ins for what the runner and Pulumi Cloud provide, set up with the demo's driver:
 * the engine, the cluster, a file state backend, and per stack the plan touches its reference app
 * and its stack (the committed stack file plus local values).
 */
export async function prepareLocal(plan: readonly PlanJob[], opts: LocalOptions): Promise<Partial<Record<EnvironmentName, Stack>>> {
    const needed = [...new Set(plan.flatMap((j) => j.steps.flatMap((s) => (s.kind === "pulumi" ? [s.stack] : []))))];
    const stacks: Partial<Record<EnvironmentName, Stack>> = {};
    if (needed.length === 0) return stacks;
    // Loaded here: the local driver needs the toolchain, a plan alone does not.
    const local = await import("../../tests/harness/local");
    const toolEnv = local.useToolchain();
    opts.log("\n=== local: the cluster, the reference apps (the smoke targets) and the stacks, as `npm run demo` sets them up\n");
    fs.mkdirSync(path.join(opts.dir, "apps"), { recursive: true });
    const cluster = local.clusterUp(opts.cluster, path.join(opts.dir, "kubeconfig"));
    const ws = local.workspace(opts.dir, { PATH: process.env["PATH"] ?? "", ...(toolEnv["PULUMI_HOME"] ? { PULUMI_HOME: toolEnv["PULUMI_HOME"] } : {}) });
    const secrets = local.localSecrets(path.join(opts.dir, "secrets.json"));
    for (const env of needed) {
        const fail = opts.failures?.[env];
        const pidFile = path.join(opts.dir, "apps", `${env}.pid`);
        local.stopApp(pidFile);
        const app = await local.startApp({ port: opts.ports[env], pidFile, logFile: path.join(opts.dir, "apps", `${env}.log`), ...(fail ? { fail } : {}) });
        const stack = await local.prepareStack(ws, env, {
            cluster,
            smokeBaseUrl: app.url,
            secrets: secrets[env],
            overrides: { smokeDeadline: "20s", ...opts.overrides?.[env] },
        });
        // Not a workflow step: the local cluster may have been recreated since the state was written.
        await stack.refresh({ color: "never" });
        stacks[env] = stack;
        opts.log(`${env}: stack ready, smoke target ${app.url}${fail ? ` (failing: ${fail})` : ""}\n`);
    }
    return stacks;
}

/** Stops the reference apps prepareLocal started. */
export function stopLocalApps(dir: string): void {
    for (const env of ENVIRONMENTS) {
        const pidFile = path.join(dir, "apps", `${env}.pid`);
        if (!fs.existsSync(pidFile)) continue;
        try {
            process.kill(Number(fs.readFileSync(pidFile, "utf8")), "SIGTERM");
        } catch {
            /* already gone */
        }
        fs.rmSync(pidFile, { force: true });
    }
}

/** KEY=VALUE lines of a $GITHUB_OUTPUT file (single-line values, as the workflows write them). */
export function parseOutputs(text: string): Record<string, string> {
    return Object.fromEntries(
        text
            .split("\n")
            .map((l) => /^([\w-]+)=(.*)$/.exec(l))
            .flatMap((m) => (m ? [[m[1]!, m[2]!] as const] : [])),
    );
}

/**
 * Runs shell steps with bash in the repository, with the files a runner gives each job
 * ($GITHUB_OUTPUT, $GITHUB_ENV, $GITHUB_STEP_SUMMARY), `progression parity` against the local
 * stacks, and pulumi steps as pulumi/actions does, through the Automation API.
 */
export function localRunner(stacks: Partial<Record<EnvironmentName, Stack>>, log: (text: string) => void): Runner {
    const files = fs.mkdtempSync(path.join(os.tmpdir(), "pipeline-"));
    const fileOf = (job: JobRun, kind: string) => path.join(files, `${job.id.replace(/[^\w-]+/g, "_")}.${kind}`);
    return {
        log,
        run: (step, job) => {
            const output = fileOf(job, "output");
            fs.writeFileSync(output, "");
            const env = Object.fromEntries(Object.entries(step.env).map(([k, v]) => [k, resolveRuntime(v, job)]));
            const r = spawnSync("bash", ["-e", "-c", step.command], {
                cwd: REPO,
                stdio: "inherit",
                env: {
                    ...process.env,
                    ...env,
                    CI: "true",
                    GITHUB_OUTPUT: output,
                    GITHUB_ENV: fileOf(job, "env"),
                    GITHUB_STEP_SUMMARY: fileOf(job, "summary"),
                    GITHUB_JOB: job.id,
                },
            });
            if (step.id) job.outputs[step.id] = parseOutputs(fs.readFileSync(output, "utf8"));
            return Promise.resolve(r.status === 0);
        },
        parity: (step) => {
            // The local stacks live in the demo driver's project directory, on its file backend.
            const ws = stacks[step.stacks[0]!]?.workspace;
            if (!ws) throw new PipelineError(`no local stack ${step.stacks[0]} was prepared for parity`);
            const r = spawnSync(path.join(REPO, "bin", "progression"), ["parity", "--stacks", step.stacks.join(","), "-C", ws.workDir], {
                cwd: REPO,
                encoding: "utf8",
                env: { ...process.env, ...ws.envVars },
            });
            log(r.stdout + r.stderr);
            return Promise.resolve(r.status === 0);
        },
        pulumi: async (step, job) => {
            const stack = stacks[step.stack];
            if (!stack) throw new PipelineError(`no local stack ${step.stack} was prepared`);
            const opts: UpOptions & PreviewOptions = {
                color: "never",
                onOutput: log,
                ...(step.policyPacks.length ? { policyPacks: [...step.policyPacks] } : {}),
                ...(step.policyPackConfigs.length ? { policyPackConfigs: [...step.policyPackConfigs] } : {}),
                ...(step.refresh ? { refresh: true } : {}),
            };
            try {
                if (step.command === "up") await stack.up(opts);
                else await stack.preview(opts);
                // pulumi/actions sets each stack output as a step output, objects as JSON.
                if (step.id) {
                    const outs = await stack.outputs();
                    job.outputs[step.id] = Object.fromEntries(
                        Object.entries(outs).map(([k, v]) => [k, typeof v.value === "string" ? v.value : JSON.stringify(v.value)]),
                    );
                }
                return true;
            } catch (err) {
                // The engine's output has streamed already: add only what it wrote to stderr, or the error.
                const stderr = (err as { commandResult?: { stderr?: string } }).commandResult?.stderr?.trim();
                log(`${stderr || (err as Error).message.split("\n")[0]}\n`);
                return false;
            }
        },
        endJob: (job) => {
            const summary = fileOf(job, "summary");
            if (fs.existsSync(summary)) log(`\n${job.id}: job summary ($GITHUB_STEP_SUMMARY)\n${fs.readFileSync(summary, "utf8")}`);
        },
    };
}
