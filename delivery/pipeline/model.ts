// What the pipeline's modules share: where the repository and its workflows are, the plan's shapes
// (a workflow read as steps this machine can run), a running job's state, and the one error the
// command reports as a usage error.
import * as path from "node:path";
import type { EnvironmentName } from "../../config/environments";

export const REPO = path.resolve(__dirname, "..", "..");
export const WORKFLOW_DIR = path.join(REPO, ".github", "workflows");

/** When a step runs, from its `if:`: after passing steps (the default), always, after a failure, or on a cancel (never here). */
export type StepWhen = "success" | "always" | "failure" | "cancelled" | "failure-or-cancelled";

export interface StepBase {
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

export type JobOutcome = "passed" | "failed" | "skipped" | "skipped by request";

/** A job while it runs: the outputs its steps set, and its status as `job.status` says it. */
export interface JobRun {
    readonly id: string;
    readonly outputs: Record<string, Record<string, string>>;
    status: "success" | "failure";
}
