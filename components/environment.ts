import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ResolvedCluster } from "../config/cluster";
import { type EnvironmentConfig, parseImage } from "../config/schema";
import { smokeTrigger } from "../promotion/digest";
import { type Provenance, type SignedVerifiedRecord, signRecord, verifiedRecord, type VerifiedSubject } from "../promotion/record";
import { verifiedSubject } from "../promotion/subject";
import { AppDeployment } from "./app";
import { DigestKey } from "./digestKey";
import { isolationInput, NetworkIsolation } from "./isolation";
import { MigrationGate } from "./migrationGate";
import { EnvironmentNamespace } from "./namespace";
import { type SmokeCheckOutcome, SmokeTest } from "./smokeTest";
import type { Check } from "../smoke";

export interface EnvironmentArgs {
    /** The stack's validated configuration. */
    readonly config: EnvironmentConfig;
    /** The kubeconfig context the context guard verified; the provider is pinned to it. */
    readonly cluster: ResolvedCluster;
    /** Secret values by env var name (secret Outputs). @default - none */
    readonly secrets?: Readonly<Record<string, pulumi.Output<string>>>;
    /** Smoke checks replacing the default set. @default - the engine's default four checks */
    readonly checks?: readonly Check[];
    /** Who runs the program, from which commit, recorded with what the checks verify. @default - nothing known */
    readonly provenance?: Provenance;
    /** The project-wide promotionKey (a secret Output) the record is signed with. */
    readonly promotionKey: pulumi.Output<string>;
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
    /** What the checks last verified, for the next environment: built from the smoke run's outputs only. */
    public readonly verified: pulumi.Output<SignedVerifiedRecord>;

    constructor(name: string, args: EnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("progression:env:Environment", name, {}, opts);
        const { config } = args;

        const provider = new k8s.Provider(
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
                  { migration: config.migration, app: config.app, environment: config.environment, namespace: ns.name, secrets: args.secrets ?? {}, cluster: args.cluster },
                  { parent: this, provider, dependsOn: [isolation] },
              )
            : undefined;
        // One random key per stack, kept only in state as a secret: the secret values' digest on
        // the pod template and in the smoke trigger is an HMAC under it, so neither reveals them.
        const digestKey = new DigestKey(`${name}-digest-key`, { parent: this });
        const app = new AppDeployment(
            `${name}-app`,
            { app: config.app, namespace: ns.name, environment: config.environment, secrets: args.secrets ?? {}, digestKey: digestKey.key },
            // Isolation first: the app's pods never run a moment without their policies.
            { parent: this, provider, dependsOn: [isolation, ...(migration ? [migration] : [])] },
        );

        // The checks run again when anything rendered for the environment changes, or a secret
        // value does.
        const subject = verifiedSubject(config, args.provenance ?? { commit: null, actor: null, runUrl: null }, args.checks);
        const trigger = app.secretChecksum.apply((secretDigest) =>
            smokeTrigger({
                manifestDigest: subject.manifestDigest,
                secretDigest,
                ...(subject.migrationVersion !== undefined ? { migrationVersion: subject.migrationVersion } : {}),
            }),
        );
        const smoke = new SmokeTest(
            `${name}-smoke`,
            {
                baseUrl: config.smoke.baseUrl,
                trigger,
                subject: { ...subject },
                deadlineMs: config.smoke.deadlineMs,
                runOnEveryUp: config.smoke.runOnEveryUp,
                ...(config.smoke.command !== undefined
                    ? { command: config.smoke.command }
                    : {
                          ...(args.checks ? { checks: [...args.checks] } : {}),
                          timeoutMs: config.smoke.timeoutMs,
                          intervalMs: config.smoke.intervalMs,
                          consecutivePasses: config.smoke.passes,
                          failureLimit: config.smoke.failureLimit,
                      }),
            },
            { parent: this, dependsOn: [app] },
        );

        this.namespace = ns.name;
        this.serviceName = app.serviceName;
        this.serviceUrl = pulumi.interpolate`http://${app.serviceName}.${ns.name}.svc.cluster.local:${config.app.port}`;
        this.smokePassedAt = smoke.passedAt;
        this.verifiedTrigger = smoke.trigger;
        this.smokeResults = smoke.results;
        // Every field comes from the smoke run's outputs, which change only when its checks pass.
        // The signature reveals nothing about the key, so the record is not kept secret. Until the
        // live switch reads the pods' imageID, the digest that ran is the one the reference pins
        // (the runtime pulls and verifies content by it); a tag alone records none.
        this.verified = pulumi.unsecret(
            pulumi.all([smoke.subject, smoke.passedAt, smoke.trigger, smoke.verifiedBy, args.promotionKey]).apply(([s, passedAt, t, checks, key]) => {
                const subject = s as unknown as VerifiedSubject;
                const ranDigest = parseImage(subject.image).digest ?? null;
                return signRecord(verifiedRecord({ subject, passedAt, trigger: t, checks, ranDigest, revision: t }), key);
            }),
        );
        this.registerOutputs({
            namespace: this.namespace,
            serviceName: this.serviceName,
            serviceUrl: this.serviceUrl,
            smokePassedAt: this.smokePassedAt,
            verifiedTrigger: this.verifiedTrigger,
            verified: this.verified,
        });
    }
}
