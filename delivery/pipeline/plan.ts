// The plan: what a workflow file says, as steps this machine can run, in an order GitHub could run
// its jobs; and the plan as text.
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { ENVIRONMENTS, ENVIRONMENT_RULES, type EnvironmentName, isEnvironmentName } from "../../config/environments";
import { substitute, whenOf } from "./expressions";
import { PipelineError, type PlanJob, type PlanStep, REPO, type StepBase, WORKFLOW_DIR } from "./model";

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

const lines = (v: unknown): string[] =>
    typeof v === "string"
        ? v
              .split(/[\n;]/)
              .map((s) => s.trim())
              .filter(Boolean)
        : [];

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
