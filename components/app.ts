import * as crypto from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ENVIRONMENT_RULES, type EnvironmentName } from "../config/environments";
import { flagEnvName } from "../config/groups/envFlags";
import type { AppConfig } from "../config/schema";
import { keyedDigest } from "../promotion/digest";
import { appLabels } from "./labels";
import type { ObjectMeta } from "./manifestTypes";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from "./security";

/** Annotations on the pod template whose change rolls every pod. */
export const CONFIG_CHECKSUM = "progression.dev/config-checksum";
export const SECRET_CHECKSUM = "progression.dev/secret-checksum";

export interface AppInput {
    readonly app: AppConfig;
    readonly namespace: string;
    readonly environment: EnvironmentName;
}

export function appNames(app: AppConfig) {
    return { deployment: app.name, service: app.name, configMap: `${app.name}-config`, secret: `${app.name}-secrets`, pdb: app.name };
}

/** ConfigMap data: plain env vars, and each feature flag as FLAG_<NAME>=true|false. */
export function configData(app: AppConfig): Record<string, string> {
    const data: Record<string, string> = { ...app.env };
    for (const [flag, on] of Object.entries(app.featureFlags)) data[flagEnvName(flag)] = String(on);
    return Object.fromEntries(Object.entries(data).sort(([a], [b]) => a.localeCompare(b)));
}

const canonical = (data: Readonly<Record<string, string>>) => JSON.stringify(Object.entries(data).sort(([a], [b]) => a.localeCompare(b)));

/** A stable digest of key/value data: key order does not matter, any value change does. */
export function checksum(data: Readonly<Record<string, string>>): string {
    return crypto.createHash("sha256").update(canonical(data)).digest("hex");
}

/**
 * The Deployment. `secretChecksum` is generic so the component can pass an Output while tests
 * pass a string.
 */
export function deploymentManifest<S = string>(input: AppInput, secretChecksum: S) {
    const { app } = input;
    const labels = appLabels(app.name, input.environment);
    const names = appNames(app);
    const outsideDev = input.environment !== "dev";
    const probe = (periodSeconds: number, failureThreshold: number) => ({
        httpGet: { path: "/healthz", port: "http" },
        periodSeconds,
        timeoutSeconds: 2,
        failureThreshold,
    });
    return {
        metadata: { name: names.deployment, namespace: input.namespace, labels: labels.all } satisfies ObjectMeta,
        spec: {
            replicas: app.replicas,
            selector: { matchLabels: labels.selector },
            // Never dip below the requested capacity outside dev: new pods must be Ready first.
            strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: outsideDev ? 0 : "25%" } },
            template: {
                metadata: {
                    labels: labels.all,
                    annotations: { [CONFIG_CHECKSUM]: checksum(configData(app)), [SECRET_CHECKSUM]: secretChecksum },
                },
                spec: {
                    automountServiceAccountToken: false,
                    securityContext: restrictedPodSecurityContext(),
                    ...(app.replicas > 1
                        ? {
                              topologySpreadConstraints: [
                                  { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: labels.selector } },
                              ],
                          }
                        : {}),
                    containers: [
                        {
                            name: "app",
                            image: app.image,
                            ports: [{ name: "http", containerPort: app.port, protocol: "TCP" }],
                            env: [{ name: "PORT", value: String(app.port) }],
                            envFrom: [
                                { configMapRef: { name: names.configMap } },
                                ...(app.secretEnv.length > 0 ? [{ secretRef: { name: names.secret } }] : []),
                            ],
                            resources: { requests: { ...app.resources.requests }, limits: { ...app.resources.limits } },
                            securityContext: restrictedContainerSecurityContext(),
                            // Startup gives a slow boot up to 60 s before liveness may kill it.
                            startupProbe: probe(2, 30),
                            readinessProbe: probe(5, 3),
                            livenessProbe: probe(10, 3),
                            volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
                        },
                    ],
                    // A read-only root filesystem still needs somewhere to write temp files.
                    volumes: [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }],
                },
            },
        },
    };
}

/**
 * What "the Service is ready" means to the Kubernetes provider. Without it, the provider's built-in
 * Service await waits for its Endpoints to stay unchanged for 10 s after every change, on every
 * create, whether or not anything is wrong. The pods are already proven Ready by the Deployment's
 * await, and traffic through the Service by the smoke checks; so the Service is ready once it has
 * its cluster IP, or its load balancer address for a LoadBalancer.
 */
export const SERVICE_WAIT_FOR = "pulumi.com/waitFor";

export function serviceManifest(input: AppInput) {
    const labels = appLabels(input.app.name, input.environment);
    const ready = input.app.serviceType === "LoadBalancer" ? "jsonpath={.status.loadBalancer.ingress}" : "jsonpath={.spec.clusterIP}";
    return {
        metadata: {
            name: appNames(input.app).service,
            namespace: input.namespace,
            labels: labels.all,
            annotations: { [SERVICE_WAIT_FOR]: ready },
        } satisfies ObjectMeta,
        spec: {
            type: input.app.serviceType,
            selector: labels.selector,
            ports: [{ name: "http", port: input.app.port, targetPort: "http", protocol: "TCP" }],
        },
    };
}

/**
 * How long the Deployment's await may take. A rollout that never becomes ready (a crashing image,
 * a probe that never passes) fails the update after this, with the pods' reasons, before the
 * smoke checks run. The Service needs no bound of its own: it is ready once it has its address.
 */
export function rolloutWait(app: Pick<AppConfig, "rolloutTimeoutMs">): { create: string; update: string } {
    const wait = `${Math.ceil(app.rolloutTimeoutMs / 1000)}s`;
    return { create: wait, update: wait };
}

/** The disruption budget, or undefined for a single replica (a PDB there would block every drain). */
export function pdbManifest(input: AppInput) {
    if (input.app.replicas <= 1) return undefined;
    const labels = appLabels(input.app.name, input.environment);
    return {
        metadata: { name: appNames(input.app).pdb, namespace: input.namespace, labels: labels.all } satisfies ObjectMeta,
        spec: { maxUnavailable: ENVIRONMENT_RULES[input.environment].pdbMaxUnavailable, selector: { matchLabels: labels.selector } },
    };
}

export interface AppDeploymentArgs {
    /** The app as validated from stack config. */
    readonly app: AppConfig;
    /** Namespace to deploy into (created by EnvironmentNamespace). */
    readonly namespace: pulumi.Input<string>;
    readonly environment: EnvironmentName;
    /** Secret values by env var name; each must be a secret Output. @default - no Secret object */
    readonly secrets?: Readonly<Record<string, pulumi.Output<string>>>;
    /**
     * The stack's digest key (a secret; see DigestKey), under which the secret values' digest on
     * the pod template is an HMAC. Without the key that digest says nothing about the values,
     * while any change to them still rolls the pods. Required when `app.secretEnv` is not empty.
     * @default - none
     */
    readonly digestKey?: pulumi.Input<string>;
}

/** Deployment, Service, ConfigMap, Secret and PodDisruptionBudget for one app. */
export class AppDeployment extends pulumi.ComponentResource {
    public readonly deploymentName: pulumi.Output<string>;
    public readonly serviceName: pulumi.Output<string>;
    /** Digest of the ConfigMap data on the pod template. */
    public readonly configChecksum: pulumi.Output<string>;
    /** Keyed digest of the secret values on the pod template ("none" without secrets); reveals nothing about them. */
    public readonly secretChecksum: pulumi.Output<string>;

    constructor(name: string, args: AppDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("progression:app:AppDeployment", name, {}, opts);
        const secrets = args.secrets ?? {};
        const input: AppInput = { app: args.app, namespace: "", environment: args.environment };
        const names = appNames(args.app);
        const labels = appLabels(args.app.name, args.environment).all;
        const meta = (objectName: string) => ({ name: objectName, namespace: args.namespace, labels });

        const data = configData(args.app);
        const configMap = new k8s.core.v1.ConfigMap(`${name}-config`, { metadata: meta(names.configMap), data }, { parent: this });
        const secretValues = pulumi.all(secrets);
        const secret =
            args.app.secretEnv.length > 0
                ? new k8s.core.v1.Secret(`${name}-secrets`, { metadata: meta(names.secret), type: "Opaque", stringData: secretValues }, { parent: this })
                : undefined;
        // Published as plain text like Helm's `checksum/secret` convention (kept secret, it would
        // mark the Deployment's whole spec secret and blind every diff); keyed, so it reveals nothing.
        if (secret && args.digestKey === undefined) {
            throw new pulumi.ResourceError(`${name}: the app mounts secrets (${args.app.secretEnv.join(", ")}) but no digestKey was given; pass the stack's DigestKey`, this);
        }
        this.secretChecksum = secret
            ? pulumi.unsecret(pulumi.all([args.digestKey, secretValues]).apply(([k, v]) => keyedDigest(k!, v)))
            : pulumi.output("none");

        const deployment = deploymentManifest(input, this.secretChecksum);
        const dep = new k8s.apps.v1.Deployment(
            name,
            { metadata: { ...deployment.metadata, namespace: args.namespace }, spec: deployment.spec },
            { parent: this, dependsOn: [configMap, ...(secret ? [secret] : [])], customTimeouts: rolloutWait(args.app) },
        );
        const service = serviceManifest(input);
        const svc = new k8s.core.v1.Service(`${name}-service`, { metadata: { ...service.metadata, namespace: args.namespace }, spec: service.spec }, { parent: this });
        const pdb = pdbManifest(input);
        if (pdb) {
            new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, { metadata: { ...pdb.metadata, namespace: args.namespace }, spec: pdb.spec }, { parent: this });
        }

        this.deploymentName = dep.metadata.name;
        this.serviceName = svc.metadata.name;
        this.configChecksum = pulumi.output(checksum(data));
        this.registerOutputs({
            deploymentName: this.deploymentName,
            serviceName: this.serviceName,
            configChecksum: this.configChecksum,
            secretChecksum: this.secretChecksum,
        });
    }
}
