// Running a plan: the jobs in order, each skipped when a job it needs did not pass, the steps of a
// job following their `if:`. What runs a step is a Runner (local.ts's runs them on this machine).
import { runsNow } from "./expressions";
import type { JobOutcome, JobRun, PlanJob, PlanStep } from "./model";

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
