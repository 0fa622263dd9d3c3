// Reads Pulumi.yaml and a committed Pulumi.<stack>.yaml without the engine, for the CLI and
// tests: the same validation as the program, with secrets seen only as present-and-encrypted.
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { type EnvironmentConfig, PROJECT, type RawConfig, validateConfig } from "./schema";

export const PROJECT_DIR = path.resolve(__dirname, "..");

interface ProjectFile {
    config?: Record<string, { secret?: unknown } | null>;
    stackConfigDir?: unknown;
}

export interface ProjectInfo {
    /** The keys Pulumi.yaml declares `secret: true`, without the project namespace. */
    readonly declaredSecrets: Set<string>;
    /** Where the stack files are (Pulumi.yaml's stackConfigDir). */
    readonly stackConfigDir: string;
}

/**
 * Pulumi.yaml's parse, by its text. The CLI and the tests read the same project file many times in
 * one process, and parsing it costs far more than reading it; a changed file is a new text.
 */
const parsedProjects = new Map<string, ProjectFile>();
const PARSED_PROJECTS_KEPT = 8;

function parseProject(text: string): ProjectFile {
    let doc = parsedProjects.get(text);
    if (doc === undefined) {
        doc = (parse(text) ?? {}) as ProjectFile;
        if (parsedProjects.size >= PARSED_PROJECTS_KEPT) parsedProjects.delete(parsedProjects.keys().next().value!);
        parsedProjects.set(text, doc);
    }
    return doc;
}

/** What the program needs from a project's Pulumi.yaml. */
export function readProject(dir = PROJECT_DIR): ProjectInfo {
    const doc = parseProject(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8"));
    const keys = Object.entries(doc.config ?? {}).filter(([, decl]) => decl?.secret === true);
    return {
        declaredSecrets: new Set(keys.map(([k]) => (k.startsWith(`${PROJECT}:`) ? k.slice(PROJECT.length + 1) : k))),
        stackConfigDir: path.resolve(dir, typeof doc.stackConfigDir === "string" ? doc.stackConfigDir : "."),
    };
}

/** The keys Pulumi.yaml declares `secret: true`. */
export function declaredSecrets(dir = PROJECT_DIR): Set<string> {
    return readProject(dir).declaredSecrets;
}

/**
 * The raw config of a stack file: values by key, and which keys are `secure:`. Scalars stay the
 * text they are in the file, as the engine hands them to the program: `replicas: 0x10` is the
 * text "0x10", not a YAML number 16. `file` defaults to Pulumi.<stack>.yaml in the project's
 * stackConfigDir.
 */
export function readStackRaw(stack: string, file?: string, project = readProject()): RawConfig {
    const at = file ?? path.join(project.stackConfigDir, `Pulumi.${stack}.yaml`);
    const doc = (parse(fs.readFileSync(at, "utf8"), { schema: "failsafe" }) ?? {}) as { config?: Record<string, unknown> };
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
    return { values, secretKeys, declaredSecrets: project.declaredSecrets };
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
        return validateConfig({ ...raw, values, secretKeys }, stack);
    }
    return validateConfig(raw, stack);
}
