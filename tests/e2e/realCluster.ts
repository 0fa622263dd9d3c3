// The one real-node cluster the end-to-end files share: the machine's real node serves one cluster
// at a time, and starting it once saves each file the node's start. The first file to ask starts
// it; the suite's global teardown (tests/e2e/setup.ts) deletes it and undoes the node's changes.
import * as os from "node:os";
import * as path from "node:path";
import { type Cluster, clusterUp } from "../../tests/harness/local";

const NAME_VAR = "PROGRESSION_E2E_CLUSTER";

/** The shared cluster's name, fixed by the global setup for this run. */
export function realClusterName(): string {
    return process.env[NAME_VAR] ?? `progression-e2e-${process.pid}`;
}

export function realClusterKubeconfig(): string {
    return path.join(os.tmpdir(), `${realClusterName()}.kubeconfig`);
}

/** Starts the shared cluster with its real node, or finds it running. Fails when the node cannot run here. */
export function realCluster(): Cluster {
    return clusterUp(realClusterName(), realClusterKubeconfig(), { nodes: "real" });
}

export function nameForThisRun(): void {
    process.env[NAME_VAR] ??= `progression-e2e-${process.pid}`;
}
