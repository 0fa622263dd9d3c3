// SmokeTest: after a rollout, run the smoke checks and fail `pulumi up` when they fail, so the
// next environment is never deployed. One dynamic resource (SmokeRun), two modes:
//   - checks (default): it runs the smoke engine on create and update;
//   - command: it runs the team's own script instead, with the same trigger and state rules.
// Command mode runs in the same dynamic provider rather than as a `@pulumi/command` resource: a
// dynamic provider needs no plugin of its own to install or build, so it works wherever the
// program runs.
// Neither mode runs during preview; both run again when `trigger` changes.
//
// The provider follows the rules of components/serializedProvider.ts.
import { randomUUID } from "node:crypto";
import * as pulumi from "../resources/pulumi";
import { DEFAULT_CHECKS, DEFAULTS, SmokeConfigError } from "../smoke/checks";
import type { CandidatePods, ChecksRunInputs, CommandRunInputs, SmokeCheckOutcome } from "../smoke/provider";
import type { ValidChecks } from "../smoke/types";
import { DynamicResource, providerBundle, providerLogicProblem as sharedProblem, providerText } from "./serializedProvider";

export type { SmokeCheckOutcome } from "../smoke/provider";

/**
 * Arguments of both modes. With `command` set, only `baseUrl`, `trigger`, `subject`,
 * `deadlineMs` and `runOnEveryUp` apply, and setting any HTTP-only argument is refused rather
 * than ignored. Timings arrive validated (config/schema.ts at the program's edge); the component
 * applies defaults and never re-judges them.
 */
export interface SmokeTestArgs {
    /** Where the checks send requests, e.g. the Service's in-cluster URL or the ingress URL. */
    readonly baseUrl: pulumi.Input<string>;
    /** What was deployed (a digest of everything rendered and of the secret values); any change re-runs the checks. */
    readonly trigger: pulumi.Input<string>;
    /**
     * What the checks verify (e.g. the image and the manifests' digest), returned in `subject`
     * only once they pass: a failed run never changes it.
     * @default - none
     */
    readonly subject?: pulumi.Input<Record<string, unknown>>;
    /** HTTP checks only: checks replacing the default set, judged by validateChecks or parseChecks. @default - the engine's four default checks */
    readonly checks?: ValidChecks;
    /** HTTP checks only: per-request timeout in ms. @default 5000 */
    readonly timeoutMs?: number;
    /** Overall deadline in ms; `up` fails when a check has not passed by then (command mode: the command is killed). @default 30000 */
    readonly deadlineMs?: number;
    /** HTTP checks only: pause between attempts in ms, doubled after each failure up to 5 s. @default 1000 */
    readonly intervalMs?: number;
    /** HTTP checks only: consecutive passes each check needs. @default 3 */
    readonly consecutivePasses?: number;
    /**
     * HTTP checks only: an assertion failing the same way this many times in a row fails its check
     * at once; 0 waits for the deadline. Transport errors and 5xx never count. @default 3
     */
    readonly failureLimit?: number;
    /** HTTP checks only: headers sent with every check (e.g. an auth header); always stored as a secret and redacted in reports. @default - none */
    readonly headers?: pulumi.Input<Record<string, string>>;
    /** HTTP checks only: PEM CA trusted in addition to the system roots. @default - system roots only */
    readonly caPem?: pulumi.Input<string>;
    /** Run on every `up`, not only when something changed; previews then always show an update. @default false */
    readonly runOnEveryUp?: boolean;
    /** The candidate's pods, whose states and logs a failure report shows. @default - none in the report */
    readonly candidate?: pulumi.Input<CandidatePods>;
    /**
     * Secret values (the stack's secrets) redacted from the command's output, the failure report
     * and the candidate's logs before they reach state or an error; kept secret in state.
     * @default - none
     */
    readonly secretValues?: pulumi.Input<string[]>;
    /**
     * Command mode: a shell command run instead of the HTTP checks (`/bin/sh -c`, in the project
     * directory), with SMOKE_BASE_URL and SMOKE_TRIGGER in its environment; a non-zero exit, or
     * still running at `deadlineMs`, fails `up` with its output.
     * @default - HTTP checks
     */
    readonly command?: string;
}

/** The arguments that mean nothing to a command. */
export const HTTP_ONLY_ARGS = ["checks", "timeoutMs", "intervalMs", "consecutivePasses", "failureLimit", "headers", "caPem"] as const;

export const PROVIDER_LOGIC = providerBundle("smoke");

/** Rule 3 of components/serializedProvider.ts for this provider. Returns the problem, or undefined. */
export function providerLogicProblem(file: string = PROVIDER_LOGIC): string | undefined {
    return sharedProblem(file);
}

/** The serialized provider. Exported for tests. */
export const smokeProvider = providerText(PROVIDER_LOGIC);

type InputsOf<T> = { [K in keyof T]: pulumi.Input<T[K]> };
type SmokeRunProps = InputsOf<ChecksRunInputs> | InputsOf<CommandRunInputs>;

class SmokeRun extends DynamicResource {
    // `declare`: a class field would overwrite the outputs the base constructor just set.
    declare public readonly results: pulumi.Output<SmokeCheckOutcome[]>;
    declare public readonly passedAt: pulumi.Output<string>;
    declare public readonly trigger: pulumi.Output<string>;
    declare public readonly subject: pulumi.Output<Record<string, unknown> | null>;
    declare public readonly command: pulumi.Output<string | undefined>;

    constructor(name: string, props: SmokeRunProps, opts: pulumi.CustomResourceOptions) {
        // Outputs only the provider computes are registered as undefined so they come back.
        super(
            "SmokeRun",
            smokeProvider,
            name,
            {
                subject: undefined,
                command: undefined,
                candidate: undefined,
                ...props,
                results: undefined,
                passedAt: undefined,
                elapsedMs: undefined,
                caSha256: undefined,
                commandOutput: undefined,
            },
            opts,
        );
    }
}

export class SmokeTest extends pulumi.ComponentResource {
    /** Per-check results and latency of the run that passed (empty in command mode). */
    public readonly results: pulumi.Output<SmokeCheckOutcome[]>;
    /** ISO time the checks (or the command) last passed. */
    public readonly passedAt: pulumi.Output<string>;
    /** The trigger those checks verified; resolves only once they passed. */
    public readonly trigger: pulumi.Output<string>;
    /** The `subject` those checks verified, or null when none was given; changes only when they pass. */
    public readonly subject: pulumi.Output<Record<string, unknown> | null>;
    /** What verified it: the names of the checks that passed, or `command: <text>` in command mode. */
    public readonly verifiedBy: pulumi.Output<string[]>;

    constructor(name: string, args: SmokeTestArgs, opts?: pulumi.ComponentResourceOptions) {
        super("progression:verify:SmokeTest", name, {}, opts);
        const logicProblem = providerLogicProblem();
        if (logicProblem !== undefined) throw new pulumi.ResourceError(`${name}: ${logicProblem}`, this);
        const runOnEveryUp = args.runOnEveryUp ?? false;
        // The component's own dependsOn (the app) is repeated on the child, so the ordering is
        // visible in the child's state and holds even under `--target`.
        const childOpts = { parent: this, ...(opts?.dependsOn !== undefined ? { dependsOn: opts.dependsOn } : {}) };

        let props: SmokeRunProps;
        try {
            props = args.command !== undefined ? this.commandProps(name, args, args.command, runOnEveryUp) : checksProps(name, args, runOnEveryUp);
        } catch (err) {
            if (err instanceof SmokeConfigError) throw new pulumi.ResourceError(`${name}: ${err.message}`, this);
            throw err;
        }
        // The kubeconfig inside stays a secret in state.
        const candidate = args.candidate !== undefined ? { candidate: pulumi.secret(args.candidate) } : {};
        const redact = args.secretValues !== undefined ? { redact: pulumi.secret(args.secretValues) } : {};
        // Unchanged inputs mean no change to the provider host (rule 4 of serializedProvider.ts),
        // so a run on every `up` is an input that changes every `up`.
        const everyUp = runOnEveryUp ? { runId: randomUUID() } : {};
        const run = new SmokeRun(`${name}-run`, { ...props, ...candidate, ...redact, ...everyUp }, childOpts);
        this.results = run.results;
        this.passedAt = run.passedAt;
        this.trigger = run.trigger;
        this.subject = run.subject;
        // From the mode the program configured: a checks run's state holds no `command`, which a
        // preview would take for an unknown value and show the live switch as changing.
        const command = args.command;
        this.verifiedBy = command !== undefined ? pulumi.output([`command: ${command}`]) : run.results.apply((results) => results.filter((r) => r.passed).map((r) => r.name));
        this.registerOutputs({ results: this.results, passedAt: this.passedAt, trigger: this.trigger, subject: this.subject, verifiedBy: this.verifiedBy });
    }

    private commandProps(name: string, args: SmokeTestArgs, command: string, runOnEveryUp: boolean): InputsOf<CommandRunInputs> {
        if (command.trim() === "") {
            throw new pulumi.ResourceError(
                `${name}: command is empty; allowed: a shell command such as "./scripts/smoke-test.sh"; fix: set the command or leave it unset to run the HTTP checks`,
                this,
            );
        }
        const inapplicable = HTTP_ONLY_ARGS.filter((k) => args[k] !== undefined);
        if (inapplicable.length > 0) {
            throw new pulumi.ResourceError(
                `${name}: ${inapplicable.join(", ")} ${inapplicable.length === 1 ? "applies" : "apply"} only to the HTTP checks, and command is set; ` +
                    `allowed with command: baseUrl, trigger, subject, deadlineMs, runOnEveryUp; fix: drop ${inapplicable.join(", ")} (the command replaces the checks) or drop the command`,
                this,
            );
        }
        return {
            baseUrl: args.baseUrl,
            trigger: args.trigger,
            ...(args.subject !== undefined ? { subject: args.subject } : {}),
            command,
            // The provider process is not guaranteed to start in the project directory, and the
            // command's relative paths (./scripts/smoke-test.sh) mean that one.
            cwd: process.cwd(),
            deadlineMs: args.deadlineMs ?? DEFAULTS.deadlineMs,
            runOnEveryUp,
        };
    }
}

const DEFAULT_CHECKS_JSON = JSON.stringify(DEFAULT_CHECKS);

/** The checks as the SmokeRun holds them: JSON of checks judged at the edge, the defaults when none are given. */
export function smokeChecksJson(checks: ValidChecks | undefined): string {
    return checks === undefined ? DEFAULT_CHECKS_JSON : JSON.stringify(checks);
}

function checksProps(name: string, args: SmokeTestArgs, runOnEveryUp: boolean): InputsOf<ChecksRunInputs> {
    // The checks were judged where they were read: smokeChecksFile by the config's edge, checks
    // written in code by validateChecks (ValidChecks).
    const checks = smokeChecksJson(args.checks);
    return {
        baseUrl: args.baseUrl,
        trigger: args.trigger,
        ...(args.subject !== undefined ? { subject: args.subject } : {}),
        // A check's header values (e.g. a resolved {"secret": NAME}) stay secret in state.
        checks: args.checks?.some((c) => c.headers !== undefined) ? pulumi.secret(checks) : checks,
        timeoutMs: args.timeoutMs ?? DEFAULTS.timeoutMs,
        deadlineMs: args.deadlineMs ?? DEFAULTS.deadlineMs,
        intervalMs: args.intervalMs ?? DEFAULTS.intervalMs,
        consecutivePasses: args.consecutivePasses ?? DEFAULTS.consecutivePasses,
        failureLimit: args.failureLimit ?? DEFAULTS.failureLimit,
        runOnEveryUp,
        ...(args.headers !== undefined ? { headers: pulumi.secret(args.headers) } : {}),
        ...(args.caPem !== undefined ? { caPem: args.caPem } : {}),
    };
}
