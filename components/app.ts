import { createHash } from "node:crypto";
import { KubernetesResource } from "../resources/kubernetes";
import * as pulumi from "../resources/pulumi";
import { ENVIRONMENT_RULES, type EnvironmentName } from "../config/environments";
import { flagEnvName } from "../config/groups/envFlags";
import type { AppConfig } from "../config/schema";
import { canonicalJson, keyedDigest } from "../promotion/digest";
import { APP_COMPONENT_LABEL, REVISION_CHARS, REVISION_LABEL } from "../kube/labels";
import { appLabels } from "./labels";
import type { KubernetesObject, ObjectMeta } from "./manifestTypes";
import { fillSecret, placeholders } from "./secretValues";

export { fillSecret, SECRET_PLACEHOLDER } from "./secretValues";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from "./security";

/** Annotations on the pod template whose change rolls every pod. */
export const CONFIG_CHECKSUM = "progression.dev/config-checksum";
export const SECRET_CHECKSUM = "progression.dev/secret-checksum";

export interface AppInput {
    readonly app: AppConfig;
    readonly namespace: string;
    readonly environment: EnvironmentName;
}

/** The stable names (live Service, preview Service, PDB) and those of one revision's objects. */
export function appNames(app: Pick<AppConfig, "name">, revision: string) {
    return {
        service: app.name,
        preview: `${app.name}-preview`,
        pdb: app.name,
        deployment: `${app.name}-${revision}`,
        configMap: `${app.name}-${revision}-config`,
        secret: `${app.name}-${revision}-secrets`,
    };
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
    return createHash("sha256").update(canonical(data)).digest("hex");
}

/** How long a terminating app pod keeps serving before SIGTERM (its preStop pause). */
export const PRESTOP_PAUSE_SECONDS = 5;

/** The pod template of one revision; `revision` "" gives the template whose digest names it. */
function podTemplate(input: AppInput, secretChecksum: string, revision: string) {
    const { app } = input;
    const labels = appLabels(app.name, input.environment);
    const names = appNames(app, revision);
    const probe = (periodSeconds: number, failureThreshold: number) => ({
        httpGet: { path: "/healthz", port: "http" },
        periodSeconds,
        timeoutSeconds: 2,
        failureThreshold,
    });
    return {
        metadata: {
            labels: { ...labels.all, ...(revision ? { [REVISION_LABEL]: revision } : {}) },
            annotations: { [CONFIG_CHECKSUM]: checksum(configData(app)), [SECRET_CHECKSUM]: secretChecksum },
        },
        spec: {
            automountServiceAccountToken: false,
            securityContext: restrictedPodSecurityContext(),
            // Spread across nodes whatever the count: a constraint only present from two replicas on
            // would make scaling from one a new revision.
            topologySpreadConstraints: [
                {
                    maxSkew: 1,
                    topologyKey: "kubernetes.io/hostname",
                    whenUnsatisfiable: "ScheduleAnyway",
                    labelSelector: { matchLabels: { ...labels.selector, ...(revision ? { [REVISION_LABEL]: revision } : {}) } },
                },
            ],
            containers: [
                {
                    name: "app",
                    image: app.image,
                    ports: [{ name: "http", containerPort: app.port, protocol: "TCP" }],
                    env: [{ name: "PORT", value: String(app.port) }],
                    envFrom: [{ configMapRef: { name: names.configMap } }, ...(app.secretEnv.length > 0 ? [{ secretRef: { name: names.secret } }] : [])],
                    resources: { requests: { ...app.resources.requests }, limits: { ...app.resources.limits } },
                    securityContext: restrictedContainerSecurityContext(),
                    // Startup gives a slow boot up to 60 s before liveness may kill it.
                    startupProbe: probe(2, 30),
                    readinessProbe: probe(5, 3),
                    livenessProbe: probe(10, 3),
                    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
                    // A terminating pod keeps serving this long before it is told to stop: every
                    // node's kube-proxy has dropped it from its rules by then (they follow an
                    // endpoint change within a second or two, longer on a loaded node), so no
                    // connection meets a closed port or a pod that is gone.
                    lifecycle: { preStop: { sleep: { seconds: PRESTOP_PAUSE_SECONDS } } },
                },
            ],
            // A read-only root filesystem still needs somewhere to write temp files.
            volumes: [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }],
        },
    };
}

/**
 * The revision id: a digest of everything that decides what a pod runs (image, command, probes,
 * resources, the ConfigMap's data and the secret values' keyed digest), so a change to any of
 * them is a new revision, and the same inputs give the same revision again. Replicas are not
 * part of it: scaling keeps the revision.
 */
export function revisionId(input: AppInput, secretChecksum: string): string {
    return createHash("sha256").update(canonicalJson(podTemplate(input, secretChecksum, ""))).digest("hex").slice(0, REVISION_CHARS);
}

/**
 * The Pulumi Kubernetes provider applies with server-side apply and would refuse to set a field
 * another field manager owns. The live switch scales a revision that is no longer live down to its
 * warm count; when the same revision becomes the candidate again (a rollback by config), the
 * program's replica count must win.
 */
export const PATCH_FORCE = "pulumi.com/patchForce";

/**
 * One revision's Deployment, named and selected by its revision id. Its template never changes
 * (a change is a new revision), so it only ever scales.
 */
export function deploymentManifest(input: AppInput, secretChecksum: string) {
    const { app } = input;
    const revision = revisionId(input, secretChecksum);
    const labels = appLabels(app.name, input.environment);
    return {
        metadata: {
            name: appNames(app, revision).deployment,
            namespace: input.namespace,
            labels: { ...labels.all, [REVISION_LABEL]: revision },
            annotations: { [PATCH_FORCE]: "true" },
        } satisfies ObjectMeta,
        spec: {
            replicas: app.replicas,
            selector: { matchLabels: { ...labels.selector, [REVISION_LABEL]: revision } },
            strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: ENVIRONMENT_RULES[input.environment].rolloutMaxUnavailable } },
            template: podTemplate(input, secretChecksum, revision),
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

/**
 * The live Service, which users reach. It carries no selector here: the live switch
 * (components/liveSwitch.ts) owns `spec.selector` and points it at a revision only after that
 * revision's checks passed on the preview Service. The provider applies with server-side apply,
 * so it never removes a field it does not set.
 */
export function serviceManifest(input: AppInput) {
    const labels = appLabels(input.app.name, input.environment);
    const ready = input.app.serviceType === "LoadBalancer" ? "jsonpath={.status.loadBalancer.ingress}" : "jsonpath={.spec.clusterIP}";
    return {
        metadata: {
            name: appNames(input.app, "").service,
            namespace: input.namespace,
            labels: labels.all,
            annotations: { [SERVICE_WAIT_FOR]: ready },
        } satisfies ObjectMeta,
        spec: {
            type: input.app.serviceType,
            ports: [{ name: "http", port: input.app.port, targetPort: "http", protocol: "TCP" }],
        },
    };
}

/** The live Service's selector for a revision: the app's selector labels plus the revision. */
export function liveSelector(input: Pick<AppInput, "app" | "environment">, revision: string): Record<string, string> {
    return { ...appLabels(input.app.name, input.environment).selector, [REVISION_LABEL]: revision };
}

/**
 * The preview Service: always ClusterIP, selecting the candidate revision only. The smoke checks
 * reach the candidate through it (smokePreviewUrl) while live traffic stays where it was.
 */
export function previewServiceManifest(input: AppInput, revision: string) {
    const labels = appLabels(input.app.name, input.environment);
    return {
        metadata: {
            name: appNames(input.app, revision).preview,
            namespace: input.namespace,
            labels: { ...labels.all, [APP_COMPONENT_LABEL]: "preview" },
            annotations: { [SERVICE_WAIT_FOR]: "jsonpath={.spec.clusterIP}" },
        } satisfies ObjectMeta,
        spec: {
            type: "ClusterIP",
            selector: liveSelector(input, revision),
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
        metadata: { name: appNames(input.app, "").pdb, namespace: input.namespace, labels: labels.all } satisfies ObjectMeta,
        spec: { maxUnavailable: ENVIRONMENT_RULES[input.environment].pdbMaxUnavailable, selector: { matchLabels: labels.selector } },
    };
}

/** Every object of one app revision and the app's stable objects, as plain manifests. */
export interface AppRelease {
    readonly revision: string;
    readonly configMap: KubernetesObject;
    /** The Secret with a placeholder for each value (components/secretValues.ts); absent without secretEnv. */
    readonly secret?: KubernetesObject;
    readonly deployment: KubernetesObject;
    readonly preview: KubernetesObject;
    readonly service: KubernetesObject;
    readonly pdb?: KubernetesObject;
}

/**
 * The app's render: the candidate revision (ConfigMap, Secret, Deployment, all immutable and named
 * by the revision), the preview Service selecting it, the live Service and the PDB. The component
 * applies exactly these objects; only the Secret's values are filled in there.
 */
export function appRelease(input: AppInput, secretChecksum: string): AppRelease {
    const { app } = input;
    const deployment = deploymentManifest(input, secretChecksum);
    const revision = deployment.metadata.labels[REVISION_LABEL];
    const names = appNames(app, revision);
    const labels = { ...appLabels(app.name, input.environment).all, [REVISION_LABEL]: revision };
    const meta = (name: string) => ({ name, namespace: input.namespace, labels });
    const pdb = pdbManifest(input);
    return {
        revision,
        // Immutable: a revision's configuration never changes under its pods.
        configMap: { apiVersion: "v1", kind: "ConfigMap", metadata: meta(names.configMap), immutable: true, data: configData(app) },
        ...(app.secretEnv.length > 0
            ? {
                  secret: {
                      apiVersion: "v1",
                      kind: "Secret",
                      metadata: meta(names.secret),
                      type: "Opaque",
                      immutable: true,
                      stringData: placeholders(app.secretEnv),
                  },
              }
            : {}),
        deployment: { apiVersion: "apps/v1", kind: "Deployment", ...deployment },
        preview: { apiVersion: "v1", kind: "Service", ...previewServiceManifest(input, revision) },
        service: { apiVersion: "v1", kind: "Service", ...serviceManifest(input) },
        ...(pdb ? { pdb: { apiVersion: "policy/v1", kind: "PodDisruptionBudget", ...pdb } } : {}),
    };
}

/** The keyed digest of the secret values on the pod template, or "none" without secrets. */
export function secretChecksumOf(key: string | undefined, values: Readonly<Record<string, string>>): string {
    if (Object.keys(values).length === 0) return "none";
    if (key === undefined) throw new Error("the app mounts secrets but no digest key was given; pass the stack's DigestKey");
    return keyedDigest(key, values);
}

/** The checksum a draft render carries: text no real checksum (hex, or "none") can be. */
export const DRAFT_CHECKSUM = "<draft>";

/**
 * `plain` where nothing in it contains one of `markers`, else the Output's value at the same place:
 * objects and arrays are walked (the two renders have the same shape), strings compared.
 */
export function liftChanging(plain: unknown, changing: pulumi.Output<unknown>, markers: readonly string[]): pulumi.Input<unknown> {
    const holds = (v: unknown): boolean => (typeof v === "string" ? markers.some((m) => v.includes(m)) : typeof v === "object" && v !== null ? Object.values(v).some(holds) : false);
    if (!holds(plain)) return plain;
    if (Array.isArray(plain)) return plain.map((item, i) => liftChanging(item, changing.apply((c) => (c as unknown[])[i]), markers));
    if (typeof plain === "object" && plain !== null) {
        return Object.fromEntries(Object.entries(plain).map(([k, v]) => [k, liftChanging(v, changing.apply((c) => (c as Record<string, unknown>)[k]), markers)]));
    }
    return changing;
}

export interface AppDeploymentArgs {
    /** The app as validated from stack config. */
    readonly app: AppConfig;
    /** Namespace to deploy into (created by EnvironmentNamespace). */
    readonly namespace: string;
    readonly environment: EnvironmentName;
    /** Secret values by env var name; each must be a secret Output. @default - no Secret object */
    readonly secrets?: Readonly<Record<string, pulumi.Output<string>>>;
    /**
     * The keyed digest of the secret values (`secretChecksumOf` under the stack's DigestKey):
     * without the key it says nothing about the values, while any change to them is a new revision.
     */
    readonly secretChecksum: pulumi.Output<string>;
}

/**
 * The app as revisions: each update renders a candidate revision (its own Deployment, ConfigMap
 * and Secret, named by a digest of the pod template) beside the live one, and a preview Service
 * that selects it. The live Service is created here without a selector; the live switch points it
 * at a revision once that revision's checks passed. A revision's objects are retained when the
 * program stops naming them, so the live and previous revisions keep running; the live switch
 * scales down and removes the ones no longer needed.
 */
export class AppDeployment extends pulumi.ComponentResource {
    /** The candidate revision's id. */
    public readonly revision: pulumi.Output<string>;
    public readonly deploymentName: pulumi.Output<string>;
    /** The live Service's name. */
    public readonly serviceName: pulumi.Output<string>;
    /** The preview Service's name, selecting the candidate only. */
    public readonly previewServiceName: pulumi.Output<string>;

    constructor(name: string, args: AppDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("progression:app:AppDeployment", name, {}, opts);
        const input: AppInput = { app: args.app, namespace: args.namespace, environment: args.environment };
        const rendered = args.secretChecksum.apply((sc) => appRelease(input, sc));
        // The same render under a placeholder checksum: every value that does not depend on the
        // revision is known from it, also at a new stack's first preview (before the DigestKey
        // exists), so the policy pack and the diff see the image, replicas, probes and Services.
        const draft = appRelease(input, DRAFT_CHECKSUM);
        const markers = [draft.revision, DRAFT_CHECKSUM];
        const part = <K extends keyof AppRelease>(key: K) => rendered.apply((r) => r[key] as NonNullable<AppRelease[K]>);
        // A resource's args are an object of Inputs: each field is the draft's value where it
        // holds no revision-dependent text, else the render's Output at the same place.
        const fields = (key: keyof AppRelease, keys: readonly string[]): Record<string, pulumi.Input<unknown>> =>
            Object.fromEntries(keys.map((k) => [k, liftChanging((draft[key] as KubernetesObject)[k], part(key).apply((o) => (o as KubernetesObject)[k]), markers)]));
        // A revision's objects outlive the program's reference to them: the live switch decides
        // when the previous revision goes.
        const revisionOpts = { parent: this, retainOnDelete: true, deleteBeforeReplace: false };

        const configMap = new KubernetesResource("ConfigMap", `${name}-config`, fields("configMap", ["metadata", "immutable", "data"]), revisionOpts);
        let secret: KubernetesResource | undefined;
        if (args.app.secretEnv.length > 0) {
            const values = pulumi.all(args.secrets ?? {});
            const missing = args.app.secretEnv.filter((k) => args.secrets?.[k] === undefined);
            if (missing.length > 0) throw new pulumi.ResourceError(`${name}: secretEnv names ${missing.join(", ")}, and no value was given`, this);
            // The render's Secret with its placeholders replaced by the values, and nothing else.
            const stringData = pulumi.secret(pulumi.all([part("secret"), values]).apply(([s, v]) => fillSecret(s, v)));
            secret = new KubernetesResource("Secret", `${name}-secrets`, { ...fields("secret", ["metadata", "type", "immutable"]), stringData }, revisionOpts);
        }
        const deployment = new KubernetesResource("Deployment", name, fields("deployment", ["metadata", "spec"]), {
            ...revisionOpts,
            dependsOn: [configMap, ...(secret ? [secret] : [])],
            customTimeouts: rolloutWait(args.app),
        });
        // The preview Service is applied beside the Deployment, not after it: the node's proxy then
        // has its rules in place while the pods start, and the first check after the rollout does
        // not race a Service created a moment before (on a real node, a connection to a ClusterIP
        // without rules yet hangs until the check's timeout). It selects only this revision's pods,
        // so it routes nothing until they are Ready.
        const preview = new KubernetesResource("Service", `${name}-preview`, fields("preview", ["metadata", "spec"]), { parent: this });
        const service = new KubernetesResource("Service", `${name}-service`, fields("service", ["metadata", "spec"]), { parent: this });
        if (args.app.replicas > 1) new KubernetesResource("PodDisruptionBudget", `${name}-pdb`, fields("pdb", ["metadata", "spec"]), { parent: this });

        this.revision = rendered.revision;
        this.deploymentName = deployment.metadata.name;
        this.serviceName = service.metadata.name;
        this.previewServiceName = preview.metadata.name;
        this.registerOutputs({
            revision: this.revision,
            deploymentName: this.deploymentName,
            serviceName: this.serviceName,
            previewServiceName: this.previewServiceName,
        });
    }
}
