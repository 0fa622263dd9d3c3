// Who may do what, with short-lived tokens only: GitHub Actions' OIDC issuer in Pulumi Cloud, one
// team per environment and a read-only team for pull request previews, and what each team may do
// with the stacks and ESC environments. Plain data from the environment table; delivery.ts turns
// it into pulumiservice resources.
//
// A job's OIDC subject is `repo:OWNER/REPO:environment:ENV` when it runs in a GitHub environment,
// and `repo:OWNER/REPO:pull_request` for a pull request's jobs; the issuer policy gives each subject
// exactly one team's token. A branch that edits a workflow cannot reach another subject: a job
// naming the `prod` environment waits for prod's reviewers and its main-only branch policy.
import type * as service from "@pulumi/pulumiservice";
import type { DeliveryOptions, DeliveryTable } from "./plan";
import { stackOf } from "./plan";

/** GitHub Actions' OIDC issuer. */
export const GITHUB_ISSUER_URL = "https://token.actions.githubusercontent.com";
/** The GitHub environment of the job that publishes the policy pack (delivery/workflows.ts). */
export const PACK_ENVIRONMENT = "policy-pack";

/** TeamStackPermissionScope: read, edit (update), as the provider's enum spells them. */
const READ = 101;
const EDIT = 102;

export const environmentTeamName = (options: Pick<DeliveryOptions, "project">, environment: string) => `${options.project}-${environment}`;
export const previewTeamName = (options: Pick<DeliveryOptions, "project">) => `${options.project}-preview`;
/** The ESC environment a stack imports (`<project>/<environment>`), and its read-only twin for previews. */
export const escEnvironment = (environment: string) => environment;
export const escPreviewEnvironment = (environment: string) => `${environment}-preview`;
/** The ESC environment holding the promotionKey, imported by every stack. */
export const ESC_PROMOTION = "promotion";

/** The environments an environment's `up` reads: its upstream chain (StackReference, and parity where a person approves). */
export function upstreamChain(table: DeliveryTable, environment: string): string[] {
    const chain: string[] = [];
    for (let e = table.rules[environment]?.promotesFrom; e !== undefined; e = table.rules[e]?.promotesFrom) chain.push(e);
    return chain;
}

/** The OIDC subject GitHub gives a job in `environment`, and a pull request's jobs. */
export const environmentSubject = (repository: string, environment: string) => `repo:${repository}:environment:${environment}`;
export const pullRequestSubject = (repository: string) => `repo:${repository}:pull_request`;

/** The issuer with one policy per subject: each environment's team, the preview team, and the pack publisher's organization token. */
export function oidcIssuer(table: DeliveryTable, options: DeliveryOptions, maxExpirationSeconds: number): service.OidcIssuerArgs {
    const aud = `urn:pulumi:org:${options.organization}`;
    return {
        organization: options.organization,
        name: `github-${options.repository.replace(/\//g, "-")}`,
        url: GITHUB_ISSUER_URL,
        maxExpirationSeconds,
        policies: [
            ...table.order.map((env) => ({
                decision: "allow" as const,
                tokenType: "team" as const,
                teamName: environmentTeamName(options, env),
                rules: { aud, sub: environmentSubject(options.repository, env) },
            })),
            {
                decision: "allow" as const,
                tokenType: "team" as const,
                teamName: previewTeamName(options),
                rules: { aud, sub: pullRequestSubject(options.repository) },
            },
            // Publishing a policy pack takes an organization token: only the pack job's environment receives one.
            {
                decision: "allow" as const,
                tokenType: "organization" as const,
                authorizedPermissions: ["admin" as const],
                rules: { aud, sub: environmentSubject(options.repository, PACK_ENVIRONMENT) },
            },
        ],
    };
}

export interface TeamAccess {
    readonly name: string;
    readonly team: service.TeamArgs;
    readonly stacks: readonly (service.TeamStackPermissionArgs & { readonly stack: string; readonly permission: number })[];
    readonly environments: readonly (service.TeamEnvironmentPermissionArgs & { readonly environment: string })[];
}

/**
 * Each environment's team edits its own stack and reads its upstreams' (the promotion check's
 * StackReference; parity reads their config too, so it opens their ESC environments). The preview
 * team reads every stack and opens only the read-only *-preview ESC environments: its token cannot
 * update a stack, nor open a stack's real credentials.
 */
export function teamAccess(table: DeliveryTable, options: DeliveryOptions): TeamAccess[] {
    const org = options.organization;
    const stackPermission = (team: string, environment: string, permission: number) => ({
        organization: org,
        project: options.project,
        stack: stackOf(environment),
        team,
        permission: permission as service.TeamStackPermissionArgs["permission"] & number,
    });
    const envPermission = (team: string, environment: string) => ({
        organization: org,
        project: options.project,
        environment,
        team,
        permission: "open" as const,
    });
    const teams: TeamAccess[] = table.order.map((env) => {
        const name = environmentTeamName(options, env);
        const upstream = upstreamChain(table, env);
        return {
            name,
            team: { organizationName: org, teamType: "pulumi", name, displayName: name, description: `GitHub Actions jobs of the ${env} environment (OIDC)` },
            stacks: [stackPermission(name, env, EDIT), ...upstream.map((u) => stackPermission(name, u, READ))],
            environments: [
                envPermission(name, escEnvironment(env)),
                envPermission(name, ESC_PROMOTION),
                ...upstream.map((u) => envPermission(name, escEnvironment(u))),
            ],
        };
    });
    const preview = previewTeamName(options);
    teams.push({
        name: preview,
        team: { organizationName: org, teamType: "pulumi", name: preview, displayName: preview, description: "Pull request previews (OIDC): read-only" },
        stacks: table.order.map((env) => stackPermission(preview, env, READ)),
        environments: [...table.order.map((env) => envPermission(preview, escPreviewEnvironment(env))), envPermission(preview, ESC_PROMOTION)],
    });
    return teams;
}
