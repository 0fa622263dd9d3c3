// The label keys and values this project writes and reads on Kubernetes objects, in one place:
// the manifests set them, the NetworkPolicy evaluator and the policy pack judge by them, the live
// switch and the CLI select by them.

/** The `app.kubernetes.io/part-of` value on every object of the app. */
export const PART_OF = "env-progression";

/** The label that names an object's environment (dev, staging, prod); the policy pack and netcheck read it. */
export const ENVIRONMENT_LABEL = "environment";

/** Set by the API server on every namespace, equal to its name, and not settable by tenants (since Kubernetes 1.22). */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

/**
 * The revision an app object belongs to: a digest of its pod template. Each revision runs as a
 * Deployment of its own; the preview Service selects the candidate's, the live Service the
 * verified one's.
 */
export const REVISION_LABEL = "progression.dev/revision";

/** Length of a revision id: 10 hex characters, 40 bits, as Kubernetes' pod-template-hash. */
export const REVISION_CHARS = 10;

/** Kubernetes' recommended app labels, which kubectl, dashboards and policies already select by. */
export const APP_NAME_LABEL = "app.kubernetes.io/name";
export const APP_INSTANCE_LABEL = "app.kubernetes.io/instance";
export const APP_COMPONENT_LABEL = "app.kubernetes.io/component";
export const APP_PART_OF_LABEL = "app.kubernetes.io/part-of";
export const APP_MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
