// `npm run pipeline`: a workflow's jobs run here, in the workflow's order, against the local
// cluster. The jobs and their commands are read from the workflow file itself, so this dry run and
// CI cannot drift apart; the demo's driver (tests/harness/local.ts) provides the engine, the cluster,
// the state backend and the reference apps the smoke checks call.
//
//   npm run pipeline                                  main.yml: the tests, the pack, then up dev, staging,
//                                                     and prod after parity
//   npm run pipeline -- --fail staging=db             staging's app fails its smoke check: staging's
//                                                     up fails and prod is skipped, as on GitHub
//   npm run pipeline -- --skip-job test               the same without the test job (just run them)
//   npm run pipeline -- --workflow pull-request       the tests, then a preview of every stack
//   npm run pipeline -- --workflow promote --input stack=prod [--input commit=SHA]
//   npm run pipeline -- --plan                        print the commands, run nothing
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { PreviewOptions, Stack, UpOptions } from "@pulumi/pulumi/automation";
import { parse } from "yaml";
import { ENVIRONMENTS, ENVIRONMENT_RULES, type EnvironmentName, isEnvironmentName } from "../config/environments";

const REPO = path.resolve(__dirname, "..");
export const WORKFLOW_DIR = path.join(REPO, ".github", "workflows");

// ---- the plan: what the workflow file says, as steps this machine can run -------------------------

/** When a step runs, from its `if:`: after passing steps (the default), always, after a failure, or on a cancel (never here). */
export type StepWhen = "success" | "always" | "failure" | "cancelled" | "failure-or-cancelled";

interface StepBase {
    readonly label: string;
    /** The step's `id:`, which later steps read outputs of. */
    readonly id?: string | undefined;
    readonly when?: StepWhen;
}

export type PlanStep = StepBase &
    (
    /** Done here by other means, with the reason. */
    | { readonly kind: "local"; readonly because: string }
    /** A shell command, run as the workflow runs it (bash, repository root, the step's env; `steps.*` and `job.status` resolved when it runs). */
    | { readonly kind: "run"; readonly command: string; readonly env: Readonly<Record<string, string>> }
    /** `progression parity` over stacks (the workflow names them with the organization; here the local backend's). */
    | { readonly kind: "parity"; readonly stacks: readonly EnvironmentName[]; readonly command: string }
    /** pulumi/actions: the Automation API call the action makes. */
    | {
          readonly kind: "pulumi";
          readonly label: string;
          readonly command: "up" | "preview";
          readonly stack: EnvironmentName;
          readonly policyPacks: readonly string[];
          readonly policyPackConfigs: readonly string[];
          readonly refresh: boolean;
          readonly env: Readonly<Record<string, string>>;
      }
    );

export interface PlanJob {
    readonly id: string;
    readonly name: string;
    readonly needs: readonly string[];
    /** The GitHub environment the job runs in, and whether its stack waits for a reviewer there. */
    readonly environment: string | undefined;
    readonly approval: boolean;
    /** The job's `if:`, which this dry run does not evaluate (it runs the job). */
    readonly condition: string | undefined;
    readonly steps: readonly PlanStep[];
}

export class PipelineError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "PipelineError";
    }
}

interface WorkflowStep {
    name?: string;
    id?: string;
    if?: string;
    uses?: string;
    run?: string;
    with?: Record<string, unknown>;
    env?: Record<string, string>;
}
interface WorkflowJob {
    name?: string;
    needs?: string | string[];
    environment?: string;
    if?: string;
    strategy?: { matrix?: Record<string, unknown[]> };
    steps: WorkflowStep[];
}
interface WorkflowDoc {
    on: Record<string, { inputs?: Record<string, { required?: boolean; options?: string[] }> } | null>;
    jobs: Record<string, WorkflowJob>;
}

export function readWorkflow(name: string): WorkflowDoc {
    const file = path.join(WORKFLOW_DIR, name.endsWith(".yml") ? name : `${name}.yml`);
    if (!fs.existsSync(file)) {
        const known = fs.readdirSync(WORKFLOW_DIR).map((f) => f.replace(/\.yml$/, ""));
        throw new PipelineError(`no workflow ${path.relative(REPO, file)}. Allowed: ${known.join(", ")}`);
    }
    return parse(fs.readFileSync(file, "utf8")) as WorkflowDoc;
}

/** Replaces the expressions this dry run knows; any other one is an error naming it. */
function substitute(value: string, context: Readonly<Record<string, string>>, where: string): string {
    return value.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (m, expr: string) => {
        if (expr in context) return context[expr]!;
        // Known only while the job runs: the runner resolves them (resolveRuntime).
        if (/^(steps\.[\w-]+\.outputs\.[\w-]+|job\.status|github\.sha)$/.test(expr)) return m;
        // The organization only qualifies stack names on Pulumi Cloud; the local backend has none.
        if (expr.startsWith("vars.")) return "";
        // Secrets stay on GitHub: the local backend needs no token.
        if (expr.startsWith("secrets.")) return "";
        throw new PipelineError(
            `${where}: the expression \${{ ${expr} }} has no local value. Known here: ${Object.keys(context).join(", ") || "none"}, vars.*, secrets.*`,
        );
    });
}

const lines = (v: unknown): string[] =>
    typeof v === "string"
        ? v
              .split(/[\n;]/)
              .map((s) => s.trim())
              .filter(Boolean)
        : [];

/** The step's `if:` as this dry run follows it; an expression it cannot evaluate is refused. */
function whenOf(condition: string | undefined, context: Readonly<Record<string, string>>, where: string): StepWhen | "never" {
    if (condition === undefined) return "success";
    const c = condition.replace(/\$\{\{\s*|\s*\}\}/g, "").trim();
    const known: Record<string, StepWhen> = {
        "always()": "always",
        "success()": "success",
        "failure()": "failure",
        "cancelled()": "cancelled",
        "failure() || cancelled()": "failure-or-cancelled",
    };
    if (known[c]) return known[c];
    const input = /^inputs\.([\w-]+) == '([^']*)'$/.exec(c);
    if (input) return context[`inputs.${input[1]}`] === input[2] ? "success" : "never";
    throw new PipelineError(`${where}: the step condition ${JSON.stringify(condition)} is not followed here. Known: ${Object.keys(known).join(", ")}, inputs.NAME == 'value'`);
}

const PARITY = /^bin\/progression parity --stacks "([^"]+)"\s*$/;

function planStep(step: WorkflowStep, context: Readonly<Record<string, string>>, where: string): PlanStep | undefined {
    const when = whenOf(step.if, context, where);
    if (when === "never") return undefined;
    const base = { id: step.id, when };
    const inner = planStepBody(step, context, where);
    return { ...inner, ...base };
}

type Body = PlanStep extends infer P ? (P extends StepBase ? Omit<P, "id" | "when"> : never) : never;

function planStepBody(step: WorkflowStep, context: Readonly<Record<string, string>>, where: string): Body {
    const label = step.name ?? (step.run ? step.run.split("\n")[0]! : (step.uses ?? "step"));
    if (step.uses?.startsWith("pulumi/auth-actions@")) {
        return { kind: "local", label: "Pulumi token (OIDC)", because: "the local file backend needs no token" };
    }
    if (step.uses?.startsWith("pulumi/actions@") && step.with?.["command"] === undefined) {
        return { kind: "local", label: "Pulumi CLI", because: "toolchain/toolchain.sh provides the pinned CLI" };
    }
    if (step.uses?.startsWith("actions/checkout@")) {
        const ref = step.with?.["ref"];
        if (typeof ref !== "string") return { kind: "local", label: "checkout", because: "the working tree is the checkout" };
        // A checkout of a given commit: here, the working tree must already be at it.
        return {
            kind: "run",
            label: "checkout",
            command:
                'test "$(git rev-parse HEAD)" = "$REF" || { echo "the working tree is at $(git rev-parse HEAD), not $REF: git checkout $REF first"; exit 1; }',
            env: { REF: substitute(ref, context, where) },
        };
    }
    if (step.uses?.startsWith("actions/setup-node@")) {
        return { kind: "local", label: "setup Node", because: "toolchain/node.sh provides the Node of .node-version" };
    }
    if (step.uses?.startsWith("pulumi/actions@")) {
        const w: Record<string, string | boolean | number> = Object.fromEntries(
            Object.entries(step.with ?? {}).map(([k, v]) => [
                k,
                typeof v === "string" ? substitute(v, context, where) : typeof v === "boolean" || typeof v === "number" ? v : JSON.stringify(v),
            ]),
        );
        const command = w["command"];
        if (command !== "up" && command !== "preview")
            throw new PipelineError(`${where}: pulumi/actions command ${JSON.stringify(command)} is not run locally. Allowed here: up, preview`);
        const stack = String(w["stack-name"] ?? "")
            .split("/")
            .pop()!;
        if (!isEnvironmentName(stack))
            throw new PipelineError(
                `${where}: stack ${JSON.stringify(w["stack-name"])} is not an environment of config/environments.ts (${ENVIRONMENTS.join(", ")})`,
            );
        const workDir = path.resolve(REPO, String(w["work-dir"] ?? "."));
        return {
            kind: "pulumi",
            label: `pulumi ${command} ${stack}`,
            command,
            stack,
            policyPacks: lines(w["policyPacks"]).map((p) => path.resolve(workDir, p)),
            policyPackConfigs: lines(w["policyPackConfigs"]).map((p) => path.resolve(workDir, p)),
            refresh: w["refresh"] === true || w["refresh"] === "true",
            env: Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, substitute(String(v), context, where)])),
        };
    }
    if (step.run !== undefined) {
        const command = substitute(step.run, context, where);
        // The runner's checkout is its own to rewrite; here it is the working tree, and the local stacks import no ESC environment.
        if (/^sed -i .*"Pulumi\.\$STACK\.yaml"$/m.test(command))
            return { kind: "local", label, because: "the local stacks import no ESC environment, and the working tree's stack files stay as they are" };
        if (/delivery\/pack\.ts publish\b/.test(command))
            return { kind: "local", label: "publish the policy pack", because: "a file backend has no policy packs to publish; the check before it proved the recorded version" };
        const parity = PARITY.exec(command.trim());
        if (parity) {
            // The workflow qualifies each stack with the organization; the local backend has none.
            const stacks = parity[1]!.split(",").map((s) => s.split("/").pop()!);
            const unknown = stacks.filter((s) => !isEnvironmentName(s));
            if (unknown.length > 0) throw new PipelineError(`${where}: parity names ${unknown.join(", ")}, which are not environments (${ENVIRONMENTS.join(", ")})`);
            return { kind: "parity", label, stacks: stacks as EnvironmentName[], command };
        }
        // npm ci would replace node_modules under this very process; toolchain/run keeps it in step with the lock.
        if (/^npm ci\s*$/.test(command.trim()))
            return { kind: "local", label: "npm ci", because: "toolchain/run keeps node_modules in step with package-lock.json" };
        const env = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, substitute(String(v), context, where)]));
        return { kind: "run", label, command, env };
    }
    throw new PipelineError(`${where}: step ${JSON.stringify(label)} uses ${step.uses ?? "nothing"}, which this dry run cannot stand in for`);
}

/**
 * The workflow's jobs in an order GitHub could run them (every job after the ones it needs; the
 * file's order otherwise), matrices expanded one job per value, inputs given or defaulted.
 */
export function planWorkflow(doc: WorkflowDoc, inputs: Readonly<Record<string, string>> = {}): PlanJob[] {
    const declared = doc.on["workflow_dispatch"]?.inputs ?? {};
    for (const [k, spec] of Object.entries(declared)) {
        if (spec.required && inputs[k] === undefined)
            throw new PipelineError(`the workflow needs input '${k}'. Fix: --input ${k}=${spec.options ? spec.options.join("|") : "VALUE"}`);
        if (spec.options && inputs[k] !== undefined && !spec.options.includes(inputs[k]))
            throw new PipelineError(`input ${k}=${inputs[k]} is not allowed. Allowed: ${spec.options.join(", ")}`);
    }
    const inputContext = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`inputs.${k}`, v]));
    const expanded: PlanJob[] = [];
    const idsOf: Record<string, string[]> = {};
    for (const [id, job] of Object.entries(doc.jobs)) {
        const matrix = job.strategy?.matrix ?? {};
        const keys = Object.keys(matrix);
        if (keys.length > 1) throw new PipelineError(`job ${id}: a matrix of more than one key (${keys.join(", ")}) is not expanded here`);
        const values: (string | undefined)[] = keys.length === 1 ? matrix[keys[0]!]!.map(String) : [undefined];
        idsOf[id] = [];
        for (const value of values) {
            const context = { ...inputContext, ...(value === undefined ? {} : { [`matrix.${keys[0]}`]: value }) };
            const jobId = value === undefined ? id : `${id} (${value})`;
            const where = `job ${jobId}`;
            const environment = job.environment === undefined ? undefined : substitute(job.environment, context, where);
            expanded.push({
                id: jobId,
                name: substitute(job.name ?? id, context, where),
                needs: job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs],
                environment,
                approval: environment !== undefined && isEnvironmentName(environment) && ENVIRONMENT_RULES[environment].requiresApproval,
                condition: job.if,
                steps: job.steps.flatMap((s, i) => planStep(s, context, `${where} step ${i + 1}`) ?? []),
            });
            idsOf[id].push(jobId);
        }
    }
    // needs name workflow jobs; a matrix job is done when all its values are.
    const resolved = expanded.map((j) => ({
        ...j,
        needs: j.needs.flatMap(
            (n) =>
                idsOf[n] ??
                (() => {
                    throw new PipelineError(`job ${j.id} needs '${n}', which the workflow does not define`);
                })(),
        ),
    }));
    const order: PlanJob[] = [];
    const pending = [...resolved];
    while (pending.length > 0) {
        const i = pending.findIndex((j) => j.needs.every((n) => order.some((o) => o.id === n)));
        if (i < 0) throw new PipelineError(`the jobs ${pending.map((j) => j.id).join(", ")} need each other: the workflow has a cycle`);
        order.push(pending.splice(i, 1)[0]!);
    }
    return order;
}

/** The plan as text: what runs, in order, and what stands in for what. */
export function describePlan(plan: readonly PlanJob[]): string {
    const out: string[] = [];
    for (const job of plan) {
        out.push(
            `${job.id}${job.needs.length ? `  (needs ${job.needs.join(", ")})` : ""}${job.approval ? `  [GitHub environment ${job.environment}: waits for a reviewer]` : ""}`,
        );
        for (const s of job.steps) {
            const when = s.when && s.when !== "success" ? `  [if ${s.when}${s.when === "cancelled" ? ": never here, nothing is cancelled" : ""}]` : "";
            if (s.kind === "local") out.push(`  - ${s.label}: here, ${s.because}`);
            else if (s.kind === "run") out.push(`  $ ${s.command.split("\n").join("\n    ")}${when}`);
            else if (s.kind === "parity") out.push(`  > progression parity --stacks ${s.stacks.join(",")}  (fails the job on a violation, before the up)`);
            else
                out.push(
                    `  > pulumi ${s.command} --stack ${s.stack}${s.refresh ? " --refresh" : ""}${s.policyPacks.map((p, i) => ` --policy-pack ${path.relative(REPO, p)}${s.policyPackConfigs[i] ? ` --policy-pack-config ${path.relative(REPO, s.policyPackConfigs[i])}` : ""}`).join("")}`,
                );
        }
    }
    return out.join("\n");
}

// ---- running it -----------------------------------------------------------------------------------

export type JobOutcome = "passed" | "failed" | "skipped" | "skipped by request";

/** A job while it runs: the outputs its steps set, and its status as `job.status` says it. */
export interface JobRun {
    readonly id: string;
    readonly outputs: Record<string, Record<string, string>>;
    status: "success" | "failure";
}

/** Replaces what only a running job knows: `steps.ID.outputs.NAME`, `job.status`; `github.sha` is left to the program (git HEAD here). */
export function resolveRuntime(value: string, job: JobRun): string {
    return value.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (m, expr: string) => {
        const out = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expr);
        if (out) return job.outputs[out[1]!]?.[out[2]!] ?? "";
        if (expr === "job.status") return job.status;
        if (expr === "github.sha") return "";
        return m;
    });
}

export interface Runner {
    /** Runs a shell step; true when it passed. It may record the step's outputs in job.outputs. */
    run(step: Extract<PlanStep, { kind: "run" }>, job: JobRun): Promise<boolean>;
    /** Runs `progression parity` against the local stacks; true when no rule is violated. */
    parity?(step: Extract<PlanStep, { kind: "parity" }>, job: JobRun): Promise<boolean>;
    /** Runs a pulumi step; true when it passed. */
    pulumi(step: Extract<PlanStep, { kind: "pulumi" }>, job: JobRun): Promise<boolean>;
    /** Called once a job's steps are done (the local runner shows its job summary). */
    endJob?(job: JobRun): void;
    log(text: string): void;
}

/** Whether a step runs, from its condition and whether every step before it passed. Nothing is cancelled here. */
function runsNow(when: StepWhen | undefined, passedSoFar: boolean): boolean {
    switch (when ?? "success") {
        case "success":
            return passedSoFar;
        case "always":
            return true;
        case "failure":
        case "failure-or-cancelled":
            return !passedSoFar;
        case "cancelled":
            return false;
    }
}

/** Runs the jobs in order. A job whose needs did not pass is skipped, as GitHub skips it; within a job, steps follow their `if:`. */
export async function runPlan(plan: readonly PlanJob[], runner: Runner, skip: readonly string[] = []): Promise<Record<string, JobOutcome>> {
    const outcome: Record<string, JobOutcome> = {};
    const ok = (id: string) => outcome[id] === "passed" || outcome[id] === "skipped by request";
    for (const job of plan) {
        const base = job.id.replace(/ \(.*\)$/, "");
        if (skip.includes(base) || skip.includes(job.id)) {
            outcome[job.id] = "skipped by request";
            runner.log(`\n--- ${job.id}: skipped (--skip-job)\n`);
            continue;
        }
        const blocked = job.needs.filter((n) => !ok(n));
        if (blocked.length > 0) {
            outcome[job.id] = "skipped";
            runner.log(`\n--- ${job.id}: skipped, because ${blocked.join(" and ")} did not pass\n`);
            continue;
        }
        runner.log(`\n--- ${job.id}: ${job.name}\n`);
        if (job.condition) runner.log(`(if: ${job.condition}: not evaluated here; the job runs)\n`);
        if (job.approval) runner.log(`(on GitHub this job waits for a reviewer of the '${job.environment}' environment; here it proceeds)\n`);
        const run: JobRun = { id: job.id, outputs: {}, status: "success" };
        let passed = true;
        for (const step of job.steps) {
            if (step.kind === "local") {
                runner.log(`- ${step.label}: here, ${step.because}\n`);
                continue;
            }
            if (!runsNow(step.when, passed)) {
                if (step.when === "cancelled") runner.log(`- ${step.label}: only on a cancel, and nothing is cancelled here\n`);
                continue;
            }
            runner.log(step.kind === "run" ? `$ ${step.command}\n` : step.kind === "parity" ? `> progression parity --stacks ${step.stacks.join(",")}\n` : `> ${step.label}\n`);
            const stepPassed =
                step.kind === "run"
                    ? await runner.run(step, run)
                    : step.kind === "parity"
                      ? runner.parity
                          ? await runner.parity(step, run)
                          : await runner.run({ kind: "run", label: step.label, command: step.command, env: {} }, run)
                      : await runner.pulumi(step, run);
            if (!stepPassed && passed) {
                passed = false;
                run.status = "failure";
                runner.log(`${job.id}: '${step.label}' failed\n`);
            }
        }
        runner.endJob?.(run);
        outcome[job.id] = passed ? "passed" : "failed";
    }
    return outcome;
}

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
    const local = await import("../tests/harness/local");
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

// ---- the command --------------------------------------------------------------------------------

const PORTS: Record<EnvironmentName, number> = { dev: 18081, staging: 18082, prod: 18083 };

interface Args {
    workflow: string;
    inputs: Record<string, string>;
    failures: Partial<Record<EnvironmentName, string>>;
    skip: string[];
    planOnly: boolean;
}

function parseArgs(argv: string[]): Args {
    const args: Args = { workflow: "main", inputs: {}, failures: {}, skip: [], planOnly: false };
    const usage = "usage: npm run pipeline -- [--workflow main|pull-request|promote] [--input K=V] [--fail ENV=MODE] [--skip-job JOB] [--plan]";
    for (let i = 0; i < argv.length; i += 1) {
        const a = argv[i]!;
        const value = () =>
            argv[++i] ??
            (() => {
                throw new PipelineError(`${a} needs a value. ${usage}`);
            })();
        if (a === "--workflow") args.workflow = value();
        else if (a === "--plan") args.planOnly = true;
        else if (a === "--skip-job") args.skip.push(value());
        else if (a === "--input") {
            const m = /^([A-Za-z_][\w-]*)=(.*)$/.exec(value());
            if (!m) throw new PipelineError(`--input takes KEY=VALUE. ${usage}`);
            args.inputs[m[1]!] = m[2]!;
        } else if (a === "--fail") {
            const m = /^(dev|staging|prod)=([a-z,]+)$/.exec(value());
            if (!m) throw new PipelineError(`--fail takes ENV=MODE, e.g. staging=db (modes: db, action, healthz, version). ${usage}`);
            args.failures[m[1] as EnvironmentName] = m[2]!;
        } else throw new PipelineError(`unknown argument '${a}'. ${usage}`);
    }
    return args;
}

async function main(argv: string[]): Promise<number> {
    const args = parseArgs(argv);
    const doc = readWorkflow(args.workflow);
    if (doc.on["workflow_dispatch"]?.inputs?.["commit"] && args.inputs["commit"] === undefined) {
        args.inputs["commit"] = spawnSync("git", ["rev-parse", "HEAD"], { cwd: REPO, encoding: "utf8" }).stdout.trim();
    }
    const plan = planWorkflow(doc, args.inputs);
    for (const s of args.skip)
        if (!plan.some((j) => j.id === s || j.id.startsWith(`${s} (`)))
            throw new PipelineError(`--skip-job ${s}: the workflow has no such job. Jobs: ${plan.map((j) => j.id).join(", ")}`);
    process.stdout.write(`=== ${args.workflow}.yml, as the workflow runs it\n${describePlan(plan)}\n`);
    if (args.planOnly) return 0;

    const stacks = await prepareLocal(plan, {
        dir: path.join(REPO, ".local"),
        // PROGRESSION_CLUSTER names a cluster of one's own (the demo's is env-progression).
        cluster: process.env["PROGRESSION_CLUSTER"] || "env-progression",
        ports: PORTS,
        failures: args.failures,
        log: (t) => process.stdout.write(t),
    });
    const runner = localRunner(stacks, (t) => process.stdout.write(t));
    const outcome = await runPlan(plan, runner, args.skip);
    process.stdout.write(`\n=== ${args.workflow}.yml\n${plan.map((j) => `${j.id.padEnd(24)} ${outcome[j.id]}`).join("\n")}\n`);
    return Object.values(outcome).includes("failed") ? 1 : 0;
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => (process.exitCode = code),
        (err: unknown) => {
            process.stderr.write(`pipeline: ${err instanceof PipelineError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
            process.exitCode = err instanceof PipelineError ? 2 : 1;
        },
    );
}
