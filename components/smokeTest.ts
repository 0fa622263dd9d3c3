// SmokeTest: after a rollout, run the smoke checks and fail `pulumi up` when they fail, so the
// next environment is never deployed. One dynamic resource (SmokeRun), two modes:
//   - checks (default): it runs the smoke engine on create and update;
//   - command: it runs the team's own script instead, with the same trigger and state rules.
// Command mode used to be a `@pulumi/command` `local.Command`, but its plugin
// (pulumi-resource-command) cannot be built on these machines: the Go module proxy serves none of
// its modules. A dynamic provider needs no plugin of its own and so works wherever the program runs.
// Neither mode runs during preview; both run again when `trigger` changes.
import { createRequire } from "node:module";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { defaultChecks, resolveSmokeOptions, SmokeConfigError, validateChecks } from "../smoke/checks";
import type { ChecksRunInputs, CommandRunInputs, SmokeCheckOutcome, SmokeRunInputs, SmokeRunOutputs } from "../smoke/provider";
import type { Check } from "../smoke/types";

export type { SmokeCheckOutcome } from "../smoke/provider";

export interface SmokeTestArgs {
    /** Where the checks send requests, e.g. the Service's in-cluster URL or the ingress URL. */
    readonly baseUrl: pulumi.Input<string>;
    /** What was deployed (e.g. a digest of image, config checksum and replicas); any change re-runs the checks. */
    readonly trigger: pulumi.Input<string>;
    /** Checks replacing the default set. @default - the engine's four default checks */
    readonly checks?: readonly Check[];
    /** Per-request timeout in ms. @default 5000 */
    readonly timeoutMs?: number;
    /** Overall deadline in ms; `up` fails when a check has not passed by then (command mode: the command is killed). @default 30000 */
    readonly deadlineMs?: number;
    /** Pause between attempts in ms, doubled after each failure up to 5 s. @default 1000 */
    readonly intervalMs?: number;
    /** Consecutive passes each check needs. @default 3 */
    readonly consecutivePasses?: number;
    /** Headers sent with every check (e.g. an auth header); always stored as a secret and redacted in reports. Not given to a command. @default - none */
    readonly headers?: pulumi.Input<Record<string, string>>;
    /** PEM CA trusted in addition to the system roots. @default - system roots only */
    readonly caPem?: pulumi.Input<string>;
    /** Run on every `up`, not only when something changed; previews then always show an update. @default false */
    readonly runOnEveryUp?: boolean;
    /**
     * Command mode: a shell command run instead of the HTTP checks (`/bin/sh -c`, in the project
     * directory), with SMOKE_BASE_URL and SMOKE_TRIGGER in its environment; a non-zero exit, or
     * still running at `deadlineMs`, fails `up` with its output. Only `deadlineMs` and
     * `runOnEveryUp` apply to it.
     * @default - HTTP checks
     */
    readonly command?: string;
}

// The dynamic provider is serialized into state and run by `pulumi-resource-pulumi-nodejs`, a
// separate Node process without a TypeScript loader. So the serialized code captures only these
// two absolute paths (strings) and loads the real logic, through tsx, inside each method:
// undici, the engine and any secret never become part of the serialized text.
const PROVIDER_LOGIC = path.join(__dirname, "..", "smoke", "provider.ts");
const TSX_API = createRequire(__filename).resolve("tsx/cjs/api");

type ProviderLogic = typeof import("../smoke/provider");

function loadProviderLogic(): ProviderLogic {
    // `require`, not `import`: the closure serializer leaves `require` free, so it resolves in
    // the provider process at call time.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const tsx = require(TSX_API) as { require(id: string, fromFile: string): unknown };
    return tsx.require(PROVIDER_LOGIC, PROVIDER_LOGIC) as ProviderLogic;
}

/** The serialized provider: thin delegates, see above. Exported for tests. */
export const smokeProvider: pulumi.dynamic.ResourceProvider<SmokeRunInputs, SmokeRunOutputs> = {
    async create(inputs) {
        return loadProviderLogic().smokeCreate(inputs);
    },
    async update(id, olds, news) {
        return loadProviderLogic().smokeUpdate(id, olds, news);
    },
    diff(id, olds, news) {
        return Promise.resolve(loadProviderLogic().smokeDiff(id, olds, news));
    },
};

type InputsOf<T> = { [K in keyof T]: pulumi.Input<T[K]> };
type SmokeRunProps = InputsOf<ChecksRunInputs> | InputsOf<CommandRunInputs>;

class SmokeRun extends pulumi.dynamic.Resource {
    // `declare`: a class field would overwrite the outputs the base constructor just set.
    declare public readonly results: pulumi.Output<SmokeCheckOutcome[]>;
    declare public readonly passedAt: pulumi.Output<string>;
    declare public readonly trigger: pulumi.Output<string>;

    constructor(name: string, props: SmokeRunProps, opts: pulumi.CustomResourceOptions) {
        // Outputs only the provider computes are registered as undefined so they come back.
        super(
            smokeProvider,
            name,
            { ...props, results: undefined, passedAt: undefined, elapsedMs: undefined, caSha256: undefined, commandOutput: undefined },
            opts,
            "progression",
            "SmokeRun",
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

    constructor(name: string, args: SmokeTestArgs, opts?: pulumi.ComponentResourceOptions) {
        super("progression:verify:SmokeTest", name, {}, opts);
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
        const run = new SmokeRun(`${name}-run`, props, childOpts);
        this.results = run.results;
        this.passedAt = run.passedAt;
        this.trigger = run.trigger;
        this.registerOutputs({ results: this.results, passedAt: this.passedAt, trigger: this.trigger });
    }

    private commandProps(name: string, args: SmokeTestArgs, command: string, runOnEveryUp: boolean): InputsOf<CommandRunInputs> {
        if (command.trim() === "") {
            throw new pulumi.ResourceError(
                `${name}: command is empty; allowed: a shell command such as "./scripts/smoke-test.sh"; fix: set the command or leave it unset to run the HTTP checks`,
                this,
            );
        }
        if (args.checks !== undefined) {
            throw new pulumi.ResourceError(
                `${name}: both command and checks are set; allowed: one of them; fix: drop the checks (the command replaces them) or drop the command`,
                this,
            );
        }
        // The command runs once, with no request timeout or interval: only the deadline's range is judged.
        const { deadlineMs } = resolveSmokeOptions({
            consecutivePasses: 1,
            timeoutMs: 1,
            intervalMs: 1,
            ...(args.deadlineMs !== undefined ? { deadlineMs: args.deadlineMs } : {}),
        });
        return {
            baseUrl: args.baseUrl,
            trigger: args.trigger,
            command,
            // The provider process is not guaranteed to start in the project directory, and the
            // command's relative paths (./scripts/smoke-test.sh) mean that one.
            cwd: process.cwd(),
            deadlineMs,
            runOnEveryUp,
        };
    }
}

function checksProps(name: string, args: SmokeTestArgs, runOnEveryUp: boolean): InputsOf<ChecksRunInputs> {
    const checks = validateChecks(args.checks ?? defaultChecks, `${name}.checks`);
    const settings = resolveSmokeOptions({
        ...(args.timeoutMs !== undefined ? { timeoutMs: args.timeoutMs } : {}),
        ...(args.deadlineMs !== undefined ? { deadlineMs: args.deadlineMs } : {}),
        ...(args.intervalMs !== undefined ? { intervalMs: args.intervalMs } : {}),
        ...(args.consecutivePasses !== undefined ? { consecutivePasses: args.consecutivePasses } : {}),
    });
    return {
        baseUrl: args.baseUrl,
        trigger: args.trigger,
        // A check's header values (e.g. a resolved {"secret": NAME}) stay secret in state.
        checks: checks.some((c) => c.headers !== undefined) ? pulumi.secret(JSON.stringify(checks)) : JSON.stringify(checks),
        timeoutMs: settings.timeoutMs,
        deadlineMs: settings.deadlineMs,
        intervalMs: settings.intervalMs,
        consecutivePasses: settings.consecutivePasses,
        runOnEveryUp,
        ...(args.headers !== undefined ? { headers: pulumi.secret(args.headers) } : {}),
        ...(args.caPem !== undefined ? { caPem: args.caPem } : {}),
    };
}
