// MigrationGate: the schema migration runs before the app is updated, inside the environment's
// lock and statement budgets, and the app depends on it, so a failed migration leaves the running
// Deployment untouched. At preview its SQL is linted (migrate/lint.ts): advisory environments get
// a warning, mandatory ones a failed preview. Two modes, one dynamic resource (MigrationRun):
//   - job: a Kubernetes Job in the environment's namespace runs the team's migration image;
//   - command: the team's command runs where `pulumi up` runs.
// It runs again when the trigger (how it runs, and a digest of migrationsDir) changes.
import { KubernetesResource } from "../resources/kubernetes";
import * as pulumi from "../resources/pulumi";
import { ENVIRONMENT_RULES, type EnvironmentName } from "../config/environments";
import type { MigrationConfig } from "../config/groups/migration";
import type { AppConfig } from "../config/schema";
import type { CommandMigrationInputs, JobMigrationInputs } from "../migrate/provider";
import { lintMigrations, type LintReport, lintVerdict } from "../migrate/lint";
import { DynamicResource, providerBundle, providerLogicProblem, providerText } from "./serializedProvider";
import { migrationJobPrefix, migrationRender, migrationTrigger } from "./migrationManifests";
import { fillSecret } from "./secretValues";

export interface MigrationGateArgs {
    /** The stack's validated migration config, with its files read (`sources`). */
    readonly migration: MigrationConfig;
    /** The app the migration belongs to: its name and resources size the Job. */
    readonly app: AppConfig;
    readonly environment: EnvironmentName;
    /** The environment's namespace (job mode runs there); the component's dependencies create it. */
    readonly namespace: string;
    /** The app's secrets by name; the migration receives those its config names. @default - none */
    readonly secrets?: Readonly<Record<string, pulumi.Output<string>>>;
    /** Job mode: the kubeconfig contents and context the stack's provider is pinned to. @default - required in job mode */
    readonly cluster?: { readonly kubeconfig: string; readonly context: string };
    /** The lint report, when the caller already has one. @default - squawk and the budget rules run on migrationsDir */
    readonly lint?: LintReport;
}

// The provider follows the rules of components/serializedProvider.ts.
const PROVIDER_LOGIC = providerBundle("migrate");

/** The serialized provider. Exported for tests. */
export const migrationProvider = providerText(PROVIDER_LOGIC);

type InputsOf<T> = { [K in keyof T]: pulumi.Input<T[K]> };

class MigrationRun extends DynamicResource {
    // `declare`: a class field would overwrite the outputs the base constructor just set.
    declare public readonly version: pulumi.Output<string>;
    declare public readonly trigger: pulumi.Output<string>;
    declare public readonly migratedAt: pulumi.Output<string>;
    declare public readonly jobName: pulumi.Output<string | null>;

    constructor(name: string, props: InputsOf<CommandMigrationInputs> | InputsOf<JobMigrationInputs>, opts: pulumi.CustomResourceOptions) {
        super(
            "MigrationRun",
            migrationProvider,
            name,
            { ...props, migratedAt: undefined, elapsedMs: undefined, jobName: undefined, output: undefined },
            opts,
        );
    }
}

export class MigrationGate extends pulumi.ComponentResource {
    /** `sha256:<hex>` of migrationsDir's files; resolves once they migrated (what `verified` can carry). */
    public readonly migrationVersion: pulumi.Output<string>;
    /** ISO time the migration last succeeded. */
    public readonly migratedAt: pulumi.Output<string>;
    /** What the run stands for: how it runs and the files' digest. */
    public readonly trigger: pulumi.Output<string>;

    // One constructor: the lint verdict, the run's inputs for its mode, and the run, in that order.
    constructor(name: string, args: MigrationGateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("progression:migrate:MigrationGate", name, {}, opts);
        const problem = providerLogicProblem(PROVIDER_LOGIC);
        if (problem !== undefined) throw new pulumi.ResourceError(`${name}: ${problem}`, this);
        const { migration, app, environment } = args;
        const sources = migration.sources;
        if (sources === undefined) {
            throw new pulumi.ResourceError(
                `${name}: the files of migrationsDir ${JSON.stringify(migration.dir)} were not read; config must be loaded with the project directory (config/load.ts does)`,
                this,
            );
        }

        const lint = args.lint ?? lintMigrations({ dir: sources.dir, sqlFiles: sources.sqlFiles, budgets: migration, environment });
        const verdict = lintVerdict(lint, { environment, enforcement: ENVIRONMENT_RULES[environment].enforcement, dir: migration.dir });
        if (verdict.outcome === "deny") throw new pulumi.ResourceError(verdict.message, this);
        if (verdict.outcome === "warn") void pulumi.log.warn(verdict.message, this);

        const version = sources.version;
        const trigger = migrationTrigger(migration, version);
        const common = {
            environment,
            version,
            trigger,
            lockTimeoutMs: migration.lockTimeoutMs,
            statementTimeoutMs: migration.statementTimeoutMs,
            deadlineMs: migration.deadlineMs,
        };
        const picked = Object.fromEntries(
            migration.secretEnv.map((key) => {
                const value = args.secrets?.[key];
                if (value === undefined)
                    throw new pulumi.ResourceError(`${name}: the migration needs the secret ${key} (migrationSecretEnv), and it was not given`, this);
                return [key, value];
            }),
        );

        let props: InputsOf<CommandMigrationInputs> | InputsOf<JobMigrationInputs>;
        const dependsOn: pulumi.Resource[] = [];
        if (migration.mode === "command") {
            props = {
                ...common,
                mode: "command",
                command: migration.command!,
                // The command's relative paths mean the project directory, where the program runs.
                cwd: process.cwd(),
                migrationsDir: sources.dir,
                secretEnv: pulumi.secret(pulumi.all(picked)),
            };
        } else {
            if (args.cluster === undefined) throw new pulumi.ResourceError(`${name}: job mode needs the cluster's kubeconfig and context`, this);
            // Exactly what environmentManifests renders for the migration; only the Secret's values
            // are filled in here.
            const rendered = migrationRender({ app, environment, namespace: args.namespace, migration });
            if (rendered.secret) {
                const secret = rendered.secret;
                dependsOn.push(
                    new KubernetesResource(
                        "Secret",
                        `${name}-secret`,
                        { metadata: secret.metadata, type: secret["type"], stringData: pulumi.secret(pulumi.all(picked).apply((v) => fillSecret(secret, v))) },
                        { parent: this },
                    ),
                );
            }
            if (rendered.egress) {
                dependsOn.push(new KubernetesResource("NetworkPolicy", `${name}-egress`, { metadata: rendered.egress.metadata, spec: rendered.egress.spec }, { parent: this }));
            }
            const job = JSON.stringify(rendered.job);
            props = {
                ...common,
                mode: "job",
                namespace: args.namespace,
                jobNamePrefix: migrationJobPrefix(app.name, trigger),
                job,
                kubeconfig: pulumi.secret(args.cluster.kubeconfig),
                context: args.cluster.context,
                redact: pulumi.secret(pulumi.all(picked).apply((values) => Object.values(values))),
            };
        }

        // The component's own dependsOn (isolation) already holds the run back: children wait for
        // their parent, which waits for its dependencies.
        const run = new MigrationRun(`${name}-run`, props, { parent: this, dependsOn });
        this.migrationVersion = run.version;
        this.migratedAt = run.migratedAt;
        this.trigger = run.trigger;
        this.registerOutputs({ migrationVersion: this.migrationVersion, migratedAt: this.migratedAt, trigger: this.trigger });
    }
}
