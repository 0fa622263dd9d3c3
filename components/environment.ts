import * as crypto from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ResolvedCluster } from "../config/cluster";
import { EnvironmentConfig } from "../config/schema";
import { AppDeployment } from "./app";
import { isolationInput, NetworkIsolation } from "./isolation";
import { MigrationGate } from "./migrationGate";
import { EnvironmentNamespace } from "./namespace";
import { SmokeCheckOutcome, SmokeTest } from "./smokeTest";
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
}

/**
 * What a smoke run verifies: the image, the config and secret digests and the replica count.
 * Any change to them is a new rollout and must be checked again.
 */
export function smokeTrigger(image: string, replicas: number, configChecksum: string, secretChecksum: string): string {
    return crypto.createHash("sha256").update(JSON.stringify([image, replicas, configChecksum, secretChecksum])).digest("hex");
}

/**
 * One environment: namespace → isolation → app → smoke test, in that order, all through one
 * Kubernetes provider pinned to the stack's own context.
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

    constructor(name: string, args: EnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("progression:env:Environment", name, {}, opts);
        const { config } = args;

        const provider = new k8s.Provider(
            `${name}-k8s`,
            { kubeconfig: args.cluster.kubeconfig, context: args.cluster.context },
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
        const app = new AppDeployment(
            `${name}-app`,
            { app: config.app, namespace: ns.name, environment: config.environment, secrets: args.secrets ?? {} },
            // Isolation first: the app's pods never run a moment without their policies.
            { parent: this, provider, dependsOn: [isolation, ...(migration ? [migration] : [])] },
        );

        const trigger = pulumi
            .all([app.configChecksum, app.secretChecksum])
            .apply(([cfg, sec]) => smokeTrigger(config.app.image, config.app.replicas, cfg, sec));
        const smoke = new SmokeTest(
            `${name}-smoke`,
            {
                baseUrl: config.smoke.baseUrl,
                trigger,
                ...(args.checks ? { checks: [...args.checks] } : {}),
                timeoutMs: config.smoke.timeoutMs,
                deadlineMs: config.smoke.deadlineMs,
                intervalMs: config.smoke.intervalMs,
                consecutivePasses: config.smoke.passes,
                runOnEveryUp: config.smoke.runOnEveryUp,
                ...(config.smoke.command !== undefined ? { command: config.smoke.command } : {}),
            },
            { parent: this, dependsOn: [app] },
        );

        this.namespace = ns.name;
        this.serviceName = app.serviceName;
        this.serviceUrl = pulumi.interpolate`http://${app.serviceName}.${ns.name}.svc.cluster.local:${config.app.port}`;
        this.smokePassedAt = smoke.passedAt;
        this.verifiedTrigger = smoke.trigger;
        this.smokeResults = smoke.results;
        this.registerOutputs({
            namespace: this.namespace,
            serviceName: this.serviceName,
            serviceUrl: this.serviceUrl,
            smokePassedAt: this.smokePassedAt,
            verifiedTrigger: this.verifiedTrigger,
        });
    }
}
