// One labels object per app feeds the Deployment selector, the pod template and the Service:
// selector labels stay minimal and stable (a Deployment's selector is immutable), the rest
// describe the object for people and policies.
import type { EnvironmentName } from "../config/environments";
import type { Labels } from "./manifestTypes";

export const PART_OF = "env-progression";
/** The label that names an object's environment; the policy pack and netcheck read it. */
export const ENVIRONMENT_LABEL = "environment";
export { REVISION_LABEL } from "../release/revisions";
/** Set by the API server on every namespace and not settable by tenants (since Kubernetes 1.22). */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

export interface AppLabels {
    /** For `spec.selector` and the Service selector: never change these on a live app. */
    readonly selector: Labels;
    /** Everything on the objects and pod template. */
    readonly all: Labels;
}

export function appLabels(app: string, environment: EnvironmentName): AppLabels {
    const selector = { "app.kubernetes.io/name": app, "app.kubernetes.io/instance": `${app}-${environment}` };
    return {
        selector,
        all: { ...selector, ...commonLabels(environment), "app.kubernetes.io/component": "server" },
    };
}

export function commonLabels(environment: EnvironmentName): Labels {
    return {
        [ENVIRONMENT_LABEL]: environment,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
    };
}
