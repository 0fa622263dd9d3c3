// Global setup of the end-to-end project: names the shared real-node cluster for this run, and
// deletes it when every file is done (a file never deletes it: the next one reuses it).
import * as fs from "node:fs";
import * as path from "node:path";
import { cacheDir, clusterDown } from "../../tests/harness/local";
import { nameForThisRun, realClusterKubeconfig, realClusterName } from "./realCluster";

export function setup(): () => void {
    nameForThisRun();
    return () => {
        if (fs.existsSync(path.join(cacheDir(), "clusters", realClusterName()))) clusterDown(realClusterName(), realClusterKubeconfig());
    };
}
