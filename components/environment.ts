import { KubernetesProvider } from "../resources/kubernetes";
import * as pulumi from "../resources/pulumi";
import type { ResolvedCluster } from "../config/cluster";
import { ENVIRONMENT_RULES } from "../config/environments";
import type { EnvironmentConfig } from "../config/schema";
import { manifestDigest, smokeTrigger } from "../promotion/digest";
import { type Provenance, type SignedVerifiedRecord, signRecord, verifiedRecord, type VerifiedSubject } from "../promotion/record";
import { NO_PROVENANCE, verifiedSubject } from "./verifiedSubject";
import type { HistoryEntry } from "../release/revisions";
import type { LiveCheck } from "../release/switch";
import { AppDeployment, liveSelector, secretChecksumOf } from "./app";
import { DigestKey } from "./digestKey";
import { isolationInput, NetworkIsolation } from "./networkIsolation";
import { appLabels } from "./labels";
import { LiveSwitch } from "./liveSwitch";
import { environmentManifests } from "./manifests";
import type { LintReport } from "../migrate/lint";
import { MigrationGate } from "./migrationGate";
import { EnvironmentNamespace } from "./namespace";
import { type SmokeCheckOutcome, smokeChecksJson, SmokeTest } from "./smokeTest";
import type { ValidChecks } from "../smoke";
import { LIVE_CHECK_DEFAULTS } from "../smoke/limits";

export interface EnvironmentArgs {
    /** The stack's validated configuration. */
    readonly config: EnvironmentConfig;
    /** The kubeconfig context the context guard verified; the provider is pinned to it. */
    readonly cluster: ResolvedCluster;
    /** Secret values by env var name (secret Outputs). @default - none */
    readonly secrets?: Readonly<Record<string, pulumi.Output<string>>>;
    /** Smoke checks replacing the default set. @default - the engine's default four checks */
    readonly checks?: ValidChecks;
    /** Who runs the program, from which commit, recorded with what the checks verify. @default - nothing known */
    readonly provenance?: Provenance;
    /** The project-wide promotionKey (a secret Output) the records are signed with. */
    readonly promotionKey: pulumi.Output<string>;
    /** The migrations' lint report, when the program's edge ran it (index.ts). @default - the MigrationGate runs it */
    readonly migrationLint?: LintReport;
}

/** Verified revisions an environment keeps in its history (stack output `release.history`). */
export const HISTORY_LIMIT = 10;

/** The stack output `release`. */
export interface ReleaseOutput {
    readonly live: string;
    readonly previous: string | null;
    readonly candidate: string;
    readonly ranDigest: string | null;
    readonly switchedAt: string;
    readonly switchMs: number;
    readonly history: readonly { readonly revision: string; readonly ranDigest: string | null; readonly switchedAt: string; readonly image: string | null }[];
}

/** The signed verified record of one history entry: what its checks verified, the digest its pods ran, the revision. */
export function recordOf(entry: HistoryEntry, key: string): SignedVerifiedRecord {
    const o = entry.outcome as { subject: VerifiedSubject; passedAt: string; trigger: string; checks: string[] };
    return signRecord(verifiedRecord({ subject: o.subject, passedAt: o.passedAt, trigger: o.trigger, checks: o.checks, ranDigest: entry.ranDigest, revision: entry.revision }), key);
}

/**
 * One environment: namespace → isolation → migration (when configured) → app → smoke test, in
 * that order, all through one Kubernetes provider pinned to the stack's own context.
 */
export class Environment extends pulumi.ComponentResource {
    public readonly namespace: pulumi.Output<string>;
    public readonly serviceName: pulumi.Output<string>;
    /** In-cluster URL of the Service. */
    public readonly serviceUrl: pulumi.Output<string>;
    /** When the smoke checks last passed for what is deployed. */
    public readonly smokePassedAt: pulumi.Output<string>;
    /** The trigger (digest of what was deployed) those checks verified. */
    public readonly verifiedTrigger: pulumi.Output<string>;
    /** Per-check results of that run (empty in command mode). */
    public readonly smokeResults: pulumi.Output<SmokeCheckOutcome[]>;
    /** What the live revision's checks verified, for the next environment: built from the switch's history only. */
    public readonly verified: pulumi.Output<SignedVerifiedRecord>;
    /** Every verified revision this environment still remembers, newest (the live one) first. */
    public readonly verifiedHistory: pulumi.Output<SignedVerifiedRecord[]>;
    /** Where live traffic is, the rollback target, the candidate, and the history. */
    public readonly release: pulumi.Output<ReleaseOutput>;

    // One constructor: it registers the environment's resources in their dependency order
    // (provider, namespace, isolation, migration, digest key, app, smoke test, live switch), each
    // from a component or a builder; the order is the point, read top to bottom.
    constructor(name: string, args: EnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("progression:env:Environment", name, {}, opts);
        const { config } = args;

        const provider = new KubernetesProvider(
            `${name}-k8s`,
            // Secret: the one context's user may carry a token or a client key.
            { kubeconfig: pulumi.secret(args.cluster.kubeconfig), context: args.cluster.context },
            { parent: this },
        );
        const ns = new EnvironmentNamespace(`${name}-namespace`, { name: config.namespace, environment: config.environment }, { parent: this, provider });
        const isolation = new NetworkIsolation(`${name}-isolation`, { input: isolationInput(config) }, { parent: this, provider, dependsOn: [ns] });
        // The schema migration runs before the app changes; a failed one leaves the app as it was.
        const migration = config.migration
            ? new MigrationGate(
                  `${name}-migration`,
                  {
                      migration: config.migration,
                      app: config.app,
                      environment: config.environment,
                      namespace: config.namespace,
                      secrets: args.secrets ?? {},
                      cluster: args.cluster,
                      ...(args.migrationLint ? { lint: args.migrationLint } : {}),
                  },
                  { parent: this, provider, dependsOn: [isolation] },
              )
            : undefined;
        // One random key per stack, kept only in state as a secret: the secret values' digest on
        // the pod template and in the smoke trigger is an HMAC under it, so neither reveals them.
        const digestKey = new DigestKey(`${name}-digest-key`, { parent: this });
        const secretChecksum = pulumi.unsecret(
            pulumi.all([digestKey.key, pulumi.all(args.secrets ?? {})]).apply(([key, values]) => secretChecksumOf(key, values as Record<string, string>)),
        );
        // The candidate revision runs beside the live one; live traffic does not move yet.
        const app = new AppDeployment(
            `${name}-app`,
            { app: config.app, namespace: config.namespace, environment: config.environment, secrets: args.secrets ?? {}, secretChecksum },
            // Isolation first: the app's pods never run a moment without their policies.
            { parent: this, provider, dependsOn: [isolation, ...(migration ? [migration] : [])] },
        );

        // The checks run again when anything rendered for the environment changes, or a secret
        // value does. The digest covers the render the components applied, secret values aside.
        const manifests = secretChecksum.apply((sc) => manifestDigest(environmentManifests(config, sc)));
        const subject = manifests.apply((digest) => ({ ...verifiedSubject(config, args.provenance ?? NO_PROVENANCE, args.checks, digest) }));
        const trigger = pulumi.all([manifests, secretChecksum]).apply(([digest, secretDigest]) =>
            smokeTrigger({
                manifestDigest: digest,
                secretDigest,
                ...(config.migration?.sources ? { migrationVersion: config.migration.sources.version } : {}),
            }),
        );
        const http = config.smoke.command === undefined;
        const smoke = new SmokeTest(
            `${name}-smoke`,
            {
                // The candidate, through the preview Service: no user reaches it there.
                baseUrl: config.smoke.previewUrl,
                trigger,
                subject,
                deadlineMs: config.smoke.deadlineMs,
                runOnEveryUp: config.smoke.runOnEveryUp,
                secretValues: pulumi.all(args.secrets ?? {}).apply((values) => Object.values(values)),
                candidate: app.revision.apply((revision) => ({
                    kubeconfig: args.cluster.kubeconfig,
                    context: args.cluster.context,
                    namespace: config.namespace,
                    selector: liveSelector({ app: config.app, environment: config.environment }, revision),
                })),
                ...(http
                    ? {
                          ...(args.checks ? { checks: args.checks } : {}),
                          timeoutMs: config.smoke.timeoutMs,
                          intervalMs: config.smoke.intervalMs,
                          consecutivePasses: config.smoke.passes,
                          failureLimit: config.smoke.failureLimit,
                      }
                    : { command: config.smoke.command }),
            },
            { parent: this, dependsOn: [app] },
        );

        // Live traffic moves only once the candidate's checks passed: the switch depends on them.
        const deadlineMs = Math.min(config.smoke.deadlineMs, LIVE_CHECK_DEFAULTS.deadlineMs);
        const liveCheck: LiveCheck = http
            ? { baseUrl: config.smoke.baseUrl, checks: smokeChecksJson(args.checks), timeoutMs: config.smoke.timeoutMs, intervalMs: LIVE_CHECK_DEFAULTS.intervalMs, deadlineMs }
            : { baseUrl: config.smoke.baseUrl, command: config.smoke.command, cwd: process.cwd(), deadlineMs };
        const live = new LiveSwitch(
            `${name}-live`,
            {
                kubeconfig: args.cluster.kubeconfig,
                context: args.cluster.context,
                namespace: config.namespace,
                service: app.serviceName,
                selector: appLabels(config.app.name, config.environment).selector,
                revision: app.revision,
                ...(config.release.rollbackTo !== undefined ? { pin: config.release.rollbackTo } : {}),
                replicas: config.app.replicas,
                warmReplicas: ENVIRONMENT_RULES[config.environment].warmReplicas,
                historyLimit: HISTORY_LIMIT,
                // A check's header may carry a resolved secret.
                check: args.checks?.some((c) => c.headers !== undefined) ? pulumi.secret(liveCheck) : liveCheck,
                outcome: pulumi
                    .all([smoke.subject, smoke.passedAt, smoke.trigger, smoke.verifiedBy])
                    .apply(([s, passedAt, t, checks]) => ({ subject: s, passedAt, trigger: t, checks })),
            },
            { parent: this, provider, dependsOn: [smoke] },
        );

        this.namespace = ns.name;
        this.serviceName = app.serviceName;
        this.serviceUrl = pulumi.interpolate`http://${app.serviceName}.${ns.name}.svc.cluster.local:${config.app.port}`;
        this.smokePassedAt = smoke.passedAt;
        this.verifiedTrigger = smoke.trigger;
        this.smokeResults = smoke.results;
        this.release = pulumi
            .all([live.live, live.previous, app.revision, live.ranDigest, live.switchedAt, live.switchMs, live.history])
            .apply(([liveRev, previous, candidate, ran, switchedAt, switchMs, history]) => ({
                live: liveRev,
                previous,
                candidate,
                ranDigest: ran,
                switchedAt,
                switchMs,
                history: history.map((h) => ({ revision: h.revision, ranDigest: h.ranDigest, switchedAt: h.switchedAt, image: (h.outcome["subject"] as VerifiedSubject | undefined)?.image ?? null })),
            }));
        // Every record comes from the switch's history: a revision is recorded as verified only
        // once its checks passed and it went live. The signature reveals nothing about the key, so
        // the records are not kept secret.
        this.verifiedHistory = pulumi.unsecret(pulumi.all([live.history, args.promotionKey]).apply(([history, key]) => history.map((h) => recordOf(h, key))));
        this.verified = this.verifiedHistory.apply((records) => records[0]!);
        this.registerOutputs({
            namespace: this.namespace,
            serviceName: this.serviceName,
            serviceUrl: this.serviceUrl,
            smokePassedAt: this.smokePassedAt,
            verifiedTrigger: this.verifiedTrigger,
            verified: this.verified,
            release: this.release,
        });
    }
}
