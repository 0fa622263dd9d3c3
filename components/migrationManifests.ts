// Pure builders for the migration gate: what the migration's process sees (its budgets as
// PGOPTIONS and plain env vars), the Job that runs it in job mode, the egress its pods get, and
// the trigger deciding when it runs again.
import * as crypto from "node:crypto";
import type { EnvironmentName } from "../config/environments";
import type { MigrationConfig } from "../config/groups/migration";
import type { AppConfig, EgressRule } from "../config/schema";
import { APP_COMPONENT_LABEL, APP_INSTANCE_LABEL, APP_NAME_LABEL } from "../kube/labels";
import { budgetEnv } from "../migrate/env";
import { commonLabels } from "./labels";
import type { KubernetesObject, Labels, NetworkPolicyManifest, ObjectMeta } from "./manifestTypes";
import { placeholders } from "./secretValues";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from "./security";

// The budgets' environment belongs to the migration gate (migrate/env.ts); the Job's manifest uses it too.
export { budgetEnv };

/** Annotations on the migration Job naming what it runs. */
export const MIGRATION_VERSION_ANNOTATION = "progression.dev/migration-version";
export const MIGRATION_TRIGGER_ANNOTATION = "progression.dev/migration-trigger";

/** How long a finished Job (and its pods' logs) is kept; nothing else deletes it. */
export const JOB_TTL_SECONDS = 24 * 60 * 60;

export function migrationNames(app: string) {
    return { secret: `${app}-migration`, egressPolicy: `${app}-migration-egress`, jobPrefix: `${app}-migrate` };
}

/**
 * Labels of the migration's pods. The instance differs from the app's selector, so the app's
 * Service never routes to a migration pod and the ingress controller's policy never admits one.
 */
export function migrationLabels(app: string, environment: EnvironmentName): { selector: Labels; all: Labels } {
    const selector = { [APP_NAME_LABEL]: app, [APP_INSTANCE_LABEL]: `${app}-${environment}-migration` };
    return { selector, all: { ...selector, ...commonLabels(environment), [APP_COMPONENT_LABEL]: "migration" } };
}

/**
 * What a migration run stands for: how it runs (the command, or the image and its command) and
 * the files it applies. Budgets and secrets are left out: changing them does not make a new
 * migration.
 */
export function migrationTrigger(migration: Pick<MigrationConfig, "mode" | "command" | "job">, version: string): string {
    const how = migration.mode === "command" ? [migration.command] : [migration.job?.image, migration.job?.command ?? null];
    return crypto
        .createHash("sha256")
        .update(JSON.stringify([migration.mode, ...how, version]))
        .digest("hex");
}

export interface MigrationJobInput {
    readonly app: AppConfig;
    readonly environment: EnvironmentName;
    readonly namespace: string;
    readonly migration: MigrationConfig;
    readonly version: string;
    readonly trigger: string;
}

/**
 * The stem of the Job's name: the app and the trigger. The provider appends "-<n>", the attempt
 * (a retry is a new Job, a Job left running is adopted: migrate/job.ts); app names of up to 40
 * characters keep the whole within the 63 a Job's name may have.
 */
export function migrationJobPrefix(app: string, trigger: string): string {
    return `${migrationNames(app).jobPrefix}-${trigger.slice(0, 6)}`;
}

/**
 * The Job running the migration image. Its pods meet Pod Security `restricted` with a read-only
 * root filesystem (the same context as the app's), get the budgets and the migration's secrets,
 * and never restart in place: a failure is a new pod (backoffLimit) or the Job's failure.
 * `metadata.name` is left to the provider, which names each attempt.
 */
export function migrationJobManifest(input: MigrationJobInput) {
    const { app, migration } = input;
    const job = migration.job;
    if (job === undefined) throw new Error("migrationJobManifest needs a job-mode migration");
    const labels = migrationLabels(app.name, input.environment);
    const names = migrationNames(app.name);
    const env = budgetEnv(migration, input.version);
    return {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: {
            namespace: input.namespace,
            labels: labels.all,
            annotations: { [MIGRATION_VERSION_ANNOTATION]: input.version, [MIGRATION_TRIGGER_ANNOTATION]: input.trigger },
        } satisfies Omit<ObjectMeta, "name">,
        spec: {
            backoffLimit: job.backoffLimit,
            activeDeadlineSeconds: Math.ceil(migration.deadlineMs / 1000),
            ttlSecondsAfterFinished: JOB_TTL_SECONDS,
            template: {
                metadata: { labels: labels.all },
                spec: {
                    restartPolicy: "Never",
                    automountServiceAccountToken: false,
                    securityContext: restrictedPodSecurityContext(),
                    containers: [
                        {
                            name: "migrate",
                            image: job.image,
                            ...(job.command !== undefined ? { command: [...job.command] } : {}),
                            env: Object.entries(env).map(([name, value]) => ({ name, value })),
                            ...(migration.secretEnv.length > 0 ? { envFrom: [{ secretRef: { name: names.secret } }] } : {}),
                            resources: { requests: { ...app.resources.requests }, limits: { ...app.resources.limits } },
                            securityContext: restrictedContainerSecurityContext(),
                            volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
                        },
                    ],
                    volumes: [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }],
                },
            },
        },
    };
}

export type MigrationJobManifest = ReturnType<typeof migrationJobManifest>;

/**
 * Egress for the migration's pods alone, e.g. the database's direct port when the app reaches it
 * through a pooler (session settings such as lock_timeout need a session of their own).
 * Undefined when there is none: the namespace's own policies (same environment, DNS, `egress`)
 * still apply to these pods.
 */
export function migrationEgressPolicy(
    app: string,
    environment: EnvironmentName,
    namespace: string,
    egress: readonly EgressRule[],
): NetworkPolicyManifest | undefined {
    if (egress.length === 0) return undefined;
    return {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: migrationNames(app).egressPolicy, namespace, labels: commonLabels(environment) },
        spec: {
            podSelector: { matchLabels: migrationLabels(app, environment).selector },
            policyTypes: ["Egress"],
            egress: egress.map((rule) => ({
                to: [{ ipBlock: { cidr: rule.cidr } }],
                ...(rule.port === undefined ? {} : { ports: [{ protocol: rule.protocol, port: rule.port }] }),
            })),
        },
    };
}

/** Everything job mode applies for a migration, rendered once: its Secret, its egress and the Job. */
export interface MigrationRender {
    /** The migration's Secret (the values it names in migrationSecretEnv, as placeholders). */
    readonly secret?: KubernetesObject;
    readonly egress?: NetworkPolicyManifest;
    /** The Job, named by its prefix: the provider names each attempt `<prefix>-<n>`. */
    readonly job?: KubernetesObject;
}

/** The render of a migration; empty in command mode (nothing is applied to the cluster). */
export function migrationRender(input: { app: AppConfig; environment: EnvironmentName; namespace: string; migration: MigrationConfig }): MigrationRender {
    const { app, environment, namespace, migration } = input;
    if (migration.mode !== "job") return {};
    // The Job names the files' version; without the files read (a config checked on its own) it is left out.
    const version = migration.sources?.version;
    const trigger = version !== undefined ? migrationTrigger(migration, version) : undefined;
    const egress = migrationEgressPolicy(app.name, environment, namespace, migration.egress);
    const labels = { ...commonLabels(environment), [APP_NAME_LABEL]: app.name, [APP_COMPONENT_LABEL]: "migration" };
    return {
        ...(migration.secretEnv.length > 0
            ? {
                  secret: {
                      apiVersion: "v1",
                      kind: "Secret",
                      metadata: { name: migrationNames(app.name).secret, namespace, labels },
                      type: "Opaque",
                      stringData: placeholders(migration.secretEnv),
                  },
              }
            : {}),
        ...(egress ? { egress } : {}),
        ...(version !== undefined && trigger !== undefined
            ? { job: withName(migrationJobManifest({ app, environment, namespace, migration, version, trigger }), migrationJobPrefix(app.name, trigger)) }
            : {}),
    };
}

function withName(job: MigrationJobManifest, name: string): KubernetesObject {
    return { ...job, metadata: { name, ...job.metadata } };
}
