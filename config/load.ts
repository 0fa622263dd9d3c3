// The program's edge: read the stack's pulumi.Config once, validate everything, and hand typed
// plain values (and secret Outputs) to the components. Nothing else reads config.
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as runtimeConfig from "@pulumi/pulumi/runtime/config";
import { Check, parseChecks } from "../smoke";
import { ConfigError, EnvironmentConfig, KNOWN_KEYS, PROJECT, RawConfig, validateConfig } from "./schema";

export interface LoadedConfig {
    readonly config: EnvironmentConfig;
    /** Secret values by env var name, each a secret Output. */
    readonly secrets: Readonly<Record<string, pulumi.Output<string>>>;
    /** Checks from smokeChecksFile, or undefined for the engine's default set. */
    readonly checks: Check[] | undefined;
}

export function loadConfig(): LoadedConfig {
    const all = pulumi.runtime.allConfig();
    const values: Record<string, unknown> = {};
    const secretKeys = new Set<string>();
    const prefix = `${PROJECT}:`;
    for (const [fullKey, text] of Object.entries(all)) {
        if (!fullKey.startsWith(prefix)) continue;
        const key = fullKey.slice(prefix.length);
        if (isConfigSecret(fullKey)) {
            // Presence is all validation needs of a secret; its value stays inside an Output.
            secretKeys.add(key);
            values[key] = "<secret>";
        } else {
            values[key] = KNOWN_KEYS.includes(key) ? decode(text) : text;
        }
    }
    const raw: RawConfig = { values, secretKeys, projectDir: process.cwd() };
    const config = validateConfig(raw, pulumi.getStack());
    const cfg = new pulumi.Config(PROJECT);
    const secrets = Object.fromEntries(config.app.secretEnv.map((name) => [name, cfg.requireSecret(name)]));
    return { config, secrets, checks: readChecksFile(config) };
}

/** Reads and validates smokeChecksFile, relative to the project directory. */
export function readChecksFile(config: EnvironmentConfig, cwd = process.cwd()): Check[] | undefined {
    const file = config.smoke.checksFile;
    if (file === undefined) return undefined;
    const fix = `Fix: correct the file, or pulumi config rm smokeChecksFile -s ${config.stack} to use the default checks`;
    let text: string;
    try {
        text = fs.readFileSync(path.resolve(cwd, file), "utf8");
    } catch (err) {
        throw new ConfigError(config.stack, [`${PROJECT}:smokeChecksFile: ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}). ${fix}`]);
    }
    try {
        return parseChecks(text, file);
    } catch (err) {
        throw new ConfigError(config.stack, [`${PROJECT}:smokeChecksFile: ${(err as Error).message}. ${fix}`]);
    }
}

// Telling a `secure:` value from a plaintext one is the only way to reject a secret committed in
// the clear. The SDK knows (it is what getSecret's warnings use) but marks the function
// @internal, so it is absent from the typings; fail loudly if a future SDK drops it.
function isConfigSecret(key: string): boolean {
    const fn = (runtimeConfig as unknown as { isConfigSecret?: (key: string) => boolean }).isConfigSecret;
    if (typeof fn !== "function") {
        throw new Error("@pulumi/pulumi no longer exports runtime isConfigSecret; the plaintext-secret check needs another source (see config/load.ts)");
    }
    return fn(key);
}

/** Config arrives as strings; structured values (lists, maps) arrive as JSON text. */
function decode(text: string): unknown {
    const t = text.trim();
    if (t.startsWith("{") || t.startsWith("[")) {
        try {
            return JSON.parse(t);
        } catch {
            return text;
        }
    }
    return text;
}
