// The workflow's `${{ }}` expressions and `if:` conditions, as far as this dry run follows them:
// what is known when the plan is made, what only a running job knows, and whether a step runs.
import { type JobRun, PipelineError, type StepWhen } from "./model";

/** Replaces the expressions this dry run knows; any other one is an error naming it. */
export function substitute(value: string, context: Readonly<Record<string, string>>, where: string): string {
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

/** The step's `if:` as this dry run follows it; an expression it cannot evaluate is refused. */
export function whenOf(condition: string | undefined, context: Readonly<Record<string, string>>, where: string): StepWhen | "never" {
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

/** Whether a step runs, from its condition and whether every step before it passed. Nothing is cancelled here. */
export function runsNow(when: StepWhen | undefined, passedSoFar: boolean): boolean {
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
