// The command line of `npm run pipeline` (delivery/pipeline.ts runs it): the arguments, the plan
// printed, then, unless --plan, the local stand-ins set up and the plan run.
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import type { EnvironmentName } from "../../config/environments";
import { localRunner, prepareLocal } from "./local";
import { PipelineError, REPO } from "./model";
import { describePlan, planWorkflow, readWorkflow } from "./plan";
import { runPlan } from "./run";

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

/** The command: 0 when every job passed or was skipped, 1 when one failed. */
export async function main(argv: string[]): Promise<number> {
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
