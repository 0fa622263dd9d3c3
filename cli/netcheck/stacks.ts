// `progression netcheck --stack S`: the program's own manifests for some stacks, from their
// committed stack files.
import * as fs from "node:fs";
import * as path from "node:path";
import { UsageError } from "../args";
import { SourceError } from "./errors";

export function stackObjects(stacks: string[], warn: (m: string) => void): { objects: unknown[]; ingressNamespace: string | undefined } {
    const projectDir = path.resolve(__dirname, "..", "..");
    for (const stack of stacks) {
        if (!fs.existsSync(path.join(projectDir, `Pulumi.${stack}.yaml`))) {
            const known = fs.readdirSync(projectDir).flatMap((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1] ?? []);
            throw new UsageError(`--stack '${stack}': no Pulumi.${stack}.yaml; known stacks: ${known.join(", ") || "none"}`);
        }
    }
    // Loaded only now: the builders pull in @pulumi/*, which the other sources do not need.
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { readStackConfig } = require("../../config/stackFile") as typeof import("../../config/stackFile");
    const { environmentManifests } = require("../../components/manifests") as typeof import("../../components/manifests");
    /* eslint-enable @typescript-eslint/no-require-imports */
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
