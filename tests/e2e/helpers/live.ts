// Where live traffic is, read from the cluster itself. The app runs as revisions: each one a
// Deployment `<app>-<revision>` whose pods carry the label progression.dev/revision. The live
// Service carries no selector in the program; the live switch points it at the verified
// revision, so its selector names the revision users reach (none before the first switch).
import { execFileSync } from "node:child_process";
import { REVISION_LABEL } from "../../../kube/labels";

export { REVISION_LABEL };

import type { KubectlTarget } from "../../harness/probes";

export type { KubectlTarget };

function kubectlJson<T = any>(k: KubectlTarget, args: string[]): T {
    const out = execFileSync("kubectl", ["--kubeconfig", k.kubeconfig, ...(k.context ? ["--context", k.context] : []), ...args, "-o", "json"], {
        encoding: "utf8",
    });
    return JSON.parse(out) as T;
}

/** The live Service's selector, or undefined when it selects nothing. */
export function liveSelector(k: KubectlTarget, namespace: string, service = "web"): Record<string, string> | undefined {
    const selector = kubectlJson<{ spec: { selector?: Record<string, string> } }>(k, ["-n", namespace, "get", "service", service]).spec.selector;
    return selector && Object.keys(selector).length > 0 ? selector : undefined;
}

/** The revision the live Service selects, or null before the first switch. */
export function liveRevision(k: KubectlTarget, namespace: string, service = "web"): string | null {
    return liveSelector(k, namespace, service)?.[REVISION_LABEL] ?? null;
}

/** The live revision's Deployment; fails when the live Service selects no revision. */
export function liveDeployment(k: KubectlTarget, namespace: string, app = "web"): any {
    const revision = liveRevision(k, namespace, app);
    if (revision === null) throw new Error(`the live Service ${namespace}/${app} selects no revision: live traffic reaches nothing`);
    return kubectlJson(k, ["-n", namespace, "get", "deployment", `${app}-${revision}`]);
}

/** The app's revision Deployments in the namespace, as [name, spec.replicas], sorted by name. */
export function revisionDeployments(k: KubectlTarget, namespace: string, app = "web"): [string, number][] {
    const list = kubectlJson<{
        items: { metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string }; spec: { replicas: number } }[];
    }>(k, ["-n", namespace, "get", "deployments", "-l", `app.kubernetes.io/name=${app},${REVISION_LABEL}`]);
    return list.items
        .filter((d) => !d.metadata.deletionTimestamp)
        .map((d): [string, number] => [d.metadata.name, d.spec.replicas])
        .sort(([a], [b]) => a.localeCompare(b));
}

/** The pods of one revision that are not being deleted. */
export function revisionPods(k: KubectlTarget, namespace: string, revision: string, app = "web"): any[] {
    return kubectlJson<{ items: any[] }>(k, ["-n", namespace, "get", "pods", "-l", `app.kubernetes.io/name=${app},${REVISION_LABEL}=${revision}`]).items.filter(
        (p) => !p.metadata.deletionTimestamp,
    );
}
