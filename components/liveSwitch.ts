// LiveSwitch: the step that moves live traffic. It depends on the SmokeTest that checked the
// candidate on the preview route, so it runs only once those checks passed, and `pulumi preview`
// shows it after them. One dynamic resource (progression:LiveSwitch); the logic is
// release/switch.ts, and the provider follows the rules of components/serializedProvider.ts.
import * as pulumi from "../resources/pulumi";
import type { HistoryEntry } from "../release/revisions";
import type { LiveCheck, SwitchInputs } from "../release/switch";
import { DynamicResource, providerBundle, providerLogicProblem, providerText } from "./serializedProvider";

const PROVIDER_LOGIC = providerBundle("switch");

/** The serialized provider. Exported for tests. */
export const liveSwitchProvider = providerText(PROVIDER_LOGIC);

export interface LiveSwitchArgs {
    /** The kubeconfig holding only the stack's context (a secret), and that context. */
    readonly kubeconfig: pulumi.Input<string>;
    readonly context: string;
    readonly namespace: pulumi.Input<string>;
    /** The live Service, created without a selector. */
    readonly service: pulumi.Input<string>;
    /** The app's selector labels, without the revision. */
    readonly selector: Record<string, string>;
    /** The candidate revision; its checks passed. */
    readonly revision: pulumi.Input<string>;
    /** Hold live traffic on this revision of the environment's own history. @default - the candidate */
    readonly pin?: string;
    readonly replicas: number;
    /** Pods the previous revision keeps as the rollback target. */
    readonly warmReplicas: number;
    /** How many verified revisions the history keeps. */
    readonly historyLimit: number;
    /** The check on the live route after the switch. */
    readonly check: pulumi.Input<LiveCheck>;
    /** What verified the candidate: the SmokeTest's outcome. */
    readonly outcome: pulumi.Input<Record<string, unknown>>;
}

type InputsOf<T> = { [K in keyof T]: pulumi.Input<T[K]> };

class LiveSwitchRun extends DynamicResource {
    declare public readonly live: pulumi.Output<string>;
    declare public readonly previous: pulumi.Output<string | null>;
    declare public readonly ranDigest: pulumi.Output<string | null>;
    declare public readonly switchedAt: pulumi.Output<string>;
    declare public readonly switchMs: pulumi.Output<number>;
    declare public readonly history: pulumi.Output<HistoryEntry[]>;

    constructor(name: string, props: InputsOf<SwitchInputs>, opts: pulumi.CustomResourceOptions) {
        super(
            "LiveSwitch",
            liveSwitchProvider,
            name,
            { ...props, live: undefined, previous: undefined, ranDigest: undefined, switchedAt: undefined, switchMs: undefined, history: undefined, checkBaseUrl: undefined },
            opts,
        );
    }
}

/**
 * Points the live Service at the verified revision, checks the live route, switches back if that
 * fails, keeps the revision that was live warm as the rollback target, and keeps the
 * environment's verified history.
 */
export class LiveSwitch extends pulumi.ComponentResource {
    /** The revision live traffic reaches. */
    public readonly live: pulumi.Output<string>;
    /** The rollback target, or null. */
    public readonly previous: pulumi.Output<string | null>;
    /** The digest the live revision's pods ran. */
    public readonly ranDigest: pulumi.Output<string | null>;
    public readonly switchedAt: pulumi.Output<string>;
    public readonly switchMs: pulumi.Output<number>;
    /** Verified revisions, newest (the live one) first. */
    public readonly history: pulumi.Output<HistoryEntry[]>;

    constructor(name: string, args: LiveSwitchArgs, opts?: pulumi.ComponentResourceOptions) {
        super("progression:release:LiveSwitch", name, {}, opts);
        const problem = providerLogicProblem(PROVIDER_LOGIC);
        if (problem !== undefined) throw new pulumi.ResourceError(`${name}: ${problem}`, this);
        const run = new LiveSwitchRun(
            `${name}-run`,
            {
                kubeconfig: pulumi.secret(args.kubeconfig),
                context: args.context,
                namespace: args.namespace,
                service: args.service,
                selector: args.selector,
                revision: args.revision,
                ...(args.pin !== undefined ? { pin: args.pin } : {}),
                replicas: args.replicas,
                warmReplicas: args.warmReplicas,
                historyLimit: args.historyLimit,
                check: args.check,
                outcome: args.outcome,
            },
            { parent: this, ...(opts?.dependsOn !== undefined ? { dependsOn: opts.dependsOn } : {}) },
        );
        this.live = run.live;
        this.previous = run.previous;
        this.ranDigest = run.ranDigest;
        this.switchedAt = run.switchedAt;
        this.switchMs = run.switchMs;
        this.history = run.history;
        this.registerOutputs({ live: this.live, previous: this.previous, ranDigest: this.ranDigest, switchedAt: this.switchedAt, history: this.history });
    }
}
