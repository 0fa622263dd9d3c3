// Delivery: Pulumi Deployments for every environment stack of the application, from the
// environment table. Adding an environment to the table adds its settings, its policy group, its
// promotion webhook and, if it asks for one, its drift schedule.
import * as pulumi from "@pulumi/pulumi";
import * as service from "@pulumi/pulumiservice";
import {
    type DeliveryOptions,
    type DeliveryTable,
    driftSchedule,
    environmentSettings,
    failureWebhook,
    policyGroup,
    promotions,
    promotionWebhook,
    reviewTemplateSettings,
    reviewTemplateTtl,
    stackOf,
} from "./plan";
import { oidcIssuer, teamAccess } from "./access";

export interface DeliveryArgs {
    readonly table: DeliveryTable;
    readonly options: DeliveryOptions;
    /** Drift reports besides the Pulumi Cloud console: a webhook per drift-checked stack. */
    readonly notify?: { readonly url: pulumi.Input<string>; readonly format: "slack" | "ms_teams" | "raw" };
    /** Set the review template's expiry once, at creation, instead of tracking the config. */
    readonly keepReviewExpiry?: boolean;
    /** The longest a GitHub Actions job's Pulumi token may live, in seconds (the longest job's timeout). */
    readonly tokenSeconds: number;
}

export class Delivery extends pulumi.ComponentResource {
    /** Stack names with deployment settings, in table order (the review template last). */
    public readonly stacks: pulumi.Output<string[]>;
    /** The promotion chain, `from -> to`, in table order. */
    public readonly chain: pulumi.Output<string[]>;
    /** Stacks whose drift is detected on a schedule. */
    public readonly driftChecked: pulumi.Output<string[]>;

    /**
     * Registers the settings, policy groups, webhooks, team access, drift and review schedules. Kept
     * as one function: the children register in this order, each `dependsOn` naming one registered
     * above it, which reads best in one place.
     */
    constructor(name: string, args: DeliveryArgs, opts?: pulumi.ComponentResourceOptions) {
        // Everything is computed, and checked, before anything is registered: a table the chain
        // cannot be built from registers nothing.
        const { table, options } = args;
        const edges = promotions(table);
        const plans = table.order.map((env) => ({
            env,
            settings: environmentSettings(table, env, options),
            policy: policyGroup(env, options),
            drift: driftSchedule(table, env, options),
        }));
        super("progression:delivery:Delivery", name, {}, opts);
        const child = { parent: this };

        const settings: Record<string, service.DeploymentSettings> = {};
        for (const p of plans) {
            settings[p.env] = new service.DeploymentSettings(`${p.env}-settings`, p.settings, child);
            new service.PolicyGroup(`${p.env}-policy`, p.policy, child);
        }
        // A webhook can only start a deployment of a stack that has settings: depend on them.
        for (const edge of edges) {
            new service.Webhook(`${edge.from}-to-${edge.to}`, promotionWebhook(table, edge, options), {
                parent: this,
                dependsOn: [settings[edge.from]!, settings[edge.to]!],
            });
        }
        // GitHub Actions' short-lived tokens: the issuer, the teams, what each may touch.
        const teams = teamAccess(table, options).map((access) => {
            const team = new service.Team(`${access.name}-team`, access.team, child);
            for (const p of access.stacks)
                new service.TeamStackPermission(`${access.name}-stack-${p.stack}`, p, { parent: this, dependsOn: [team] });
            for (const p of access.environments)
                new service.TeamEnvironmentPermission(`${access.name}-env-${p.environment}`, p, { parent: this, dependsOn: [team] });
            return team;
        });
        new service.OidcIssuer("github-actions", oidcIssuer(table, options, args.tokenSeconds), { parent: this, dependsOn: teams });
        if (args.notify) {
            for (const env of table.order)
                new service.Webhook(`${env}-failures`, { ...failureWebhook(env, options, { url: "", format: args.notify.format }), payloadUrl: pulumi.secret(args.notify.url) }, child);
        }
        const drifted: string[] = [];
        for (const p of plans) {
            if (p.drift === undefined) continue;
            drifted.push(stackOf(p.env));
            new service.DriftSchedule(`${p.env}-drift`, p.drift, { parent: this, dependsOn: [settings[p.env]!] });
            if (args.notify) {
                new service.Webhook(
                    `${p.env}-drift-report`,
                    {
                        organizationName: options.organization,
                        projectName: options.project,
                        stackName: stackOf(p.env),
                        format: args.notify.format,
                        payloadUrl: pulumi.secret(args.notify.url),
                        filters: ["drift_detected", "drift_detection_failed"],
                        active: true,
                        displayName: `drift in ${p.env}`,
                    },
                    child,
                );
            }
        }
        const stacks = table.order.map(stackOf);
        if (options.review) {
            const template = new service.DeploymentSettings(
                `${options.review.templateStack}-settings`,
                reviewTemplateSettings(table, options.review, options),
                child,
            );
            new service.TtlSchedule(`${options.review.templateStack}-ttl`, reviewTemplateTtl(options.review, options), {
                parent: this,
                dependsOn: [template],
                ...(args.keepReviewExpiry ? { ignoreChanges: ["timestamp"] } : {}),
            });
            stacks.push(options.review.templateStack);
        }

        this.stacks = pulumi.output(stacks);
        this.chain = pulumi.output(edges.map((e) => `${e.from} -> ${e.to}`));
        this.driftChecked = pulumi.output(drifted);
        this.registerOutputs({ stacks: this.stacks, chain: this.chain, driftChecked: this.driftChecked });
    }
}
