// Rewrites policy/config/<env>.json from packConfig(), the one source of those files:
//   toolchain/run tsx policy/writeConfig.ts
import * as fs from "node:fs";
import * as path from "node:path";
import { ENVIRONMENTS } from "../config/environments";
import { packConfig } from "./pack";

export function configFile(environment: (typeof ENVIRONMENTS)[number]): string {
    return path.join(__dirname, "config", `${environment}.json`);
}

export function configText(environment: (typeof ENVIRONMENTS)[number]): string {
    return JSON.stringify(packConfig(environment), null, 2) + "\n";
}

if (require.main === module) {
    for (const env of ENVIRONMENTS) {
        fs.writeFileSync(configFile(env), configText(env));
        console.log(`wrote ${path.relative(process.cwd(), configFile(env))}`);
    }
}
