// How the application is delivered: which of the two delivery paths is armed, and the limits every
// job runs within. The workflows generator (delivery/workflows.ts) and the Pulumi Deployments program
// (delivery/deployments/) both read this file, so exactly one path reacts to a push or a pull request;
// the other keeps its settings (Deployments: drift detection and click-to-deploy; Actions: a
// workflow started by hand) and stays documented in docs/delivery.md.

/** The delivery paths: GitHub Actions workflows, or Pulumi Deployments. */
export const DELIVERY_PATHS = ["actions", "deployments"] as const;
export type DeliveryPath = (typeof DELIVERY_PATHS)[number];

export interface DeliverySettings {
    /** The path whose triggers are generated and set; the other reacts to nothing. */
    readonly armed: DeliveryPath;
    /** Minutes each kind of job may run before GitHub stops it (and its cancel step unlocks the stack). */
    readonly timeoutMinutes: { readonly test: number; readonly pack: number; readonly preview: number; readonly up: number };
    /** Files whose change deploys nothing: a push touching only these runs no `up`. */
    readonly docsPaths: readonly string[];
}

export const DELIVERY: DeliverySettings = {
    armed: "actions",
    // The tests take about 5 minutes on a runner; an `up` waits for rollouts, migrations within
    // their lock budget and the smoke checks' deadline; 45 minutes is several times the longest.
    timeoutMinutes: { test: 20, pack: 15, preview: 20, up: 45 },
    docsPaths: ["**.md", "docs/**", "LICENSE", ".github/dependabot.yml"],
};

/** The Pulumi Cloud team whose token an environment's `up` job receives. */
export const environmentTeam = (project: string, environment: string): string => `${project}-${environment}`;
/** The Pulumi Cloud team whose token the pull request previews receive: read-only on every stack. */
export const previewTeam = (project: string): string => `${project}-preview`;

export function isDeliveryPath(value: unknown): value is DeliveryPath {
    return typeof value === "string" && (DELIVERY_PATHS as readonly string[]).includes(value);
}
