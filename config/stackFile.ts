// Reads a committed Pulumi.<stack>.yaml without the engine, for the CLI and tests: the same
// validation as the program, with secrets seen only as present-and-encrypted.
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { type EnvironmentConfig, PROJECT, type RawConfig, validateConfig } from "./schema";

export const PROJECT_DIR = path.resolve(__dirname, "..");

/** The raw config of a stack file: values by key, and which keys are `secure:`. */
export function readStackRaw(stack: string, file = path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`)): RawConfig {
    const doc = (parse(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    const values: Record<string, unknown> = {};
    const secretKeys = new Set<string>();
    for (const [fullKey, value] of Object.entries(doc.config ?? {})) {
        const key = fullKey.startsWith(`${PROJECT}:`) ? fullKey.slice(PROJECT.length + 1) : undefined;
        if (key === undefined) continue;
        if (value !== null && typeof value === "object" && "secure" in value) {
            secretKeys.add(key);
            values[key] = "<secret>";
        } else {
            values[key] = value;
        }
    }
    return { values, secretKeys };
}

/**
 * A committed stack's typed config. Secrets are usually set by each environment's operators
 * rather than committed, so by default a missing secret is filled as present: the CLI needs the
 * shape of an environment, not its credentials.
 */
export function readStackConfig(stack: string, opts: { file?: string; assumeSecretsSet?: boolean } = {}): EnvironmentConfig {
    const raw = readStackRaw(stack, opts.file);
    if (opts.assumeSecretsSet ?? true) {
        const names = raw.values["secretEnv"];
        const secretKeys = new Set(raw.secretKeys);
        const values = { ...raw.values };
        for (const name of Array.isArray(names) ? names : []) {
            if (typeof name === "string" && values[name] === undefined) {
                values[name] = "<secret>";
                secretKeys.add(name);
            }
        }
        return validateConfig({ values, secretKeys }, stack);
    }
    return validateConfig(raw, stack);
}
