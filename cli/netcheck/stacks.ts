// `progression netcheck --stack S`: the program's own manifests for some stacks, from their
// committed stack files. cli/netcheck.ts loads this module only for --stack: the builders pull in
// @pulumi/*.
import * as fs from "node:fs";
import * as path from "node:path";
import { environmentManifests } from "../../components/manifests";
import { PROJECT_DIR, readStackConfig } from "../../config/stackFile";
import { UsageError } from "../args";
import { SourceError } from "./errors";

export function stackObjects(stacks: string[], warn: (m: string) => void): { objects: unknown[]; ingressNamespace: string | undefined } {
    for (const stack of stacks) {
        if (!fs.existsSync(path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`))) {
            const known = fs.readdirSync(PROJECT_DIR).flatMap((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1] ?? []);
            throw new UsageError(`--stack '${stack}': no Pulumi.${stack}.yaml; known stacks: ${known.join(", ") || "none"}`);
        }
    }
    const objects: unknown[] = [];
    const ingress = new Set<string>();
    for (const stack of stacks) {
        let config;
        try {
            config = readStackConfig(stack);
        } catch (err) {
            throw new SourceError(`stack ${stack}: ${(err as Error).message}`);
        }
        ingress.add(config.network.ingressNamespace);
        objects.push(...environmentManifests(config));
    }
    if (ingress.size > 1)
        warn(
            `the stacks name different ingress namespaces (${[...ingress].join(", ")}); checking against ${[...ingress][0]}; use --ingress-namespace to choose`,
        );
    return { objects, ingressNamespace: [...ingress][0] };
}
