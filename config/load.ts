// The program's edge: read the stack's pulumi.Config once, validate everything, and hand typed
// plain values (and secret Outputs) to the components. Nothing else reads config.
//
// Which values are secret is the engine's business, through public means only: every key
// Pulumi.yaml declares `secret: true` is refused by the engine itself when stored in plaintext,
// and validation requires each secretEnv name to be declared so. The other keys are settings:
// one set with --secret is decrypted and validated like any other, and is not kept secret.
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "../resources/pulumi";
import { MIN_KEY_CHARS, PROMOTION_KEY } from "../promotion/record";
import { parseChecks, SmokeConfigError, type ValidChecks } from "../smoke";
import { MAX_CHECKS, MAX_CHECKS_FILE_BYTES } from "../smoke/checks";
import { isSensitiveHeader } from "../smoke/redact";
import { checkConfig, ConfigError, type EnvironmentConfig, KNOWN_KEYS, PROJECT, type RawConfig } from "./schema";
import { type ProjectInfo, PROJECT_DIR, readProject, readStackRaw } from "./stackFile";

export interface LoadedConfig {
    readonly config: EnvironmentConfig;
    /** Secret values by env var name, each a secret Output. */
    readonly secrets: Readonly<Record<string, pulumi.Output<string>>>;
    /** Checks from smokeChecksFile (secret header references resolved), or undefined for the engine's default set. */
    readonly checks: ValidChecks | undefined;
    /** The project-wide promotionKey that signs this stack's verified record, as a secret Output. */
    readonly promotionKey: pulumi.Output<string>;
    /** The same key's value, for the promotion check to verify upstream records with; never logged or exported. */
    readonly promotionKeyValue: string;
}

/** Why `value` cannot be the promotionKey, or undefined when it can. */
export function promotionKeyProblem(value: string | undefined, stack: string): string | undefined {
    const fix =
        `Fix: generate one key for the project and set the same value on every stack (dev, staging, prod): pulumi config set --secret ${PROMOTION_KEY} "$(openssl rand -base64 32)" -s ${stack}, ` +
        "or in Pulumi Cloud import it from an ESC environment the stacks share";
    if (value === undefined || value.trim() === "") {
        return `${PROJECT}:${PROMOTION_KEY} is required and missing: every stack signs its verified record with it, and checks its upstream's signature with it. ${fix}`;
    }
    if (value.length < MIN_KEY_CHARS) {
        return `${PROJECT}:${PROMOTION_KEY} is ${value.length} characters (its value is not shown); a short key can be guessed, and then records forged. Allowed: at least ${MIN_KEY_CHARS} characters of random data. ${fix}`;
    }
    return undefined;
}

export function loadConfig(): LoadedConfig {
    const stack = pulumi.getStack();
    // The project the engine runs (its Pulumi.yaml and stack files); without one (unit tests
    // under mocks), this repository's Pulumi.yaml, and no stack file.
    const root = pulumi.getRootDirectory();
    const engineProject = root !== "" && fs.existsSync(path.join(root, "Pulumi.yaml"));
    const project = readProject(engineProject ? root : PROJECT_DIR);
    const values: Record<string, unknown> = {};
    const plaintext = new Map<string, string>();
    const prefix = `${PROJECT}:`;
    for (const [fullKey, text] of Object.entries(pulumi.runtime.allConfig())) {
        if (!fullKey.startsWith(prefix)) continue;
        const key = fullKey.slice(prefix.length);
        if (KNOWN_KEYS.includes(key)) {
            values[key] = decode(text);
        } else {
            // Secrets (and anything else that is not a setting): validation needs presence only.
            values[key] = "<secret>";
            plaintext.set(key, text);
        }
    }
    const raw: RawConfig = {
        values,
        declaredSecrets: project.declaredSecrets,
        // migrationsDir, like smokeChecksFile, is relative to where the program runs.
        projectDir: process.cwd(),
        ...(engineProject ? stackFileView(stack, project, values) : {}),
    };
    const checked = checkConfig(raw, stack);
    const file = checked.config?.smoke.checksFile ?? (typeof values["smokeChecksFile"] === "string" ? values["smokeChecksFile"] : undefined);
    const secretSource = { secretNames: project.declaredSecrets, secretValue: (name: string) => plaintext.get(name) };
    const checks = file ? readChecksFile(file, stack, secretSource) : { checks: undefined, problems: [] };
    const keyValue = plaintext.get(PROMOTION_KEY);
    const keyProblem = promotionKeyProblem(keyValue, stack);
    const problems = [...checked.problems, ...checks.problems, ...(keyProblem ? [keyProblem] : [])];
    if (!checked.config || problems.length > 0) throw new ConfigError(stack, problems);
    const cfg = new pulumi.Config(PROJECT);
    const secrets = Object.fromEntries(checked.config.app.secretEnv.map((name) => [name, cfg.requireSecret(name)]));
    return { config: checked.config, secrets, checks: checks.checks, promotionKey: cfg.requireSecret(PROMOTION_KEY), promotionKeyValue: keyValue! };
}

/**
 * What the stack file itself says, where the engine's view has lost it: the engine reads the
 * YAML before the program does, so `replicas: 0x10` reaches the program as "16", and a setting
 * stored with --secret arrives decrypted. So each plain setting written in the file as a single
 * value is validated as written, and which keys the file stores `secure:` is passed on. Keys the
 * file does not hold (defaults, ESC environments) keep the engine's value and are not judged.
 */
function stackFileView(stack: string, project: ProjectInfo, values: Record<string, unknown>): Pick<RawConfig, "secretKeys" | "plainKeys"> {
    let written: RawConfig;
    try {
        written = readStackRaw(stack, undefined, project);
    } catch {
        return {};
    }
    const secretKeys = written.secretKeys ?? new Set<string>();
    const plainKeys = new Set(Object.keys(written.values).filter((k) => !secretKeys.has(k)));
    for (const key of plainKeys) {
        const text = written.values[key];
        if (KNOWN_KEYS.includes(key) && typeof text === "string" && values[key] !== undefined) values[key] = text;
    }
    return { secretKeys, plainKeys };
}

export interface SecretSource {
    /** Keys Pulumi.yaml declares `secret: true`. */
    readonly secretNames: ReadonlySet<string>;
    /** A secret's value, undefined when it is not set. */
    readonly secretValue: (name: string) => string | undefined;
}

/**
 * Reads and validates smokeChecksFile, relative to the project directory. A header value may
 * reference a stack secret, `{"secret": "API_TOKEN"}`, resolved here from the stack's config; a
 * credential-like header (Authorization, Cookie, *token*, ...) must, since the file is committed.
 * Problems are returned for the one config report, never thrown.
 */
export function readChecksFile(file: string, stack: string, secrets: SecretSource, cwd = process.cwd()): { checks: ValidChecks | undefined; problems: string[] } {
    const key = `${PROJECT}:smokeChecksFile`;
    const fix = `Fix: correct the file, or pulumi config rm smokeChecksFile -s ${stack} to use the default checks`;
    const read = readCapped(path.resolve(cwd, file), MAX_CHECKS_FILE_BYTES);
    if (read.problem !== undefined) {
        const problem =
            read.problem === "too-large"
                ? `is ${read.size} bytes, too large for a checks file. Allowed: at most ${MAX_CHECKS_FILE_BYTES} bytes (${MAX_CHECKS} checks fit in far less). ` +
                  `Fix: keep the critical paths in the file, or pulumi config rm smokeChecksFile -s ${stack} to use the default checks`
                : read.problem === "not-a-file"
                  ? `is not a regular file. Allowed: a JSON file of checks. ${fix}`
                  : `cannot be read (${read.problem}). ${fix}`;
        return { checks: undefined, problems: [`${key}: ${file} ${problem}`] };
    }
    const text = read.text;
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch (err) {
        return { checks: undefined, problems: [`${key}: ${file} is not valid JSON (${(err as Error).message}). ${fix}`] };
    }
    const problems: string[] = [];
    const resolved = resolveHeaderSecrets(parsed, file, stack, secrets, problems);
    if (problems.length > 0) return { checks: undefined, problems };
    try {
        return { checks: parseChecks(resolved, file), problems: [] };
    } catch (err) {
        if (!(err instanceof SmokeConfigError)) throw err;
        return { checks: undefined, problems: err.problems.map((p) => `${key}: ${p}. ${fix}`) };
    }
}

/** A file's text, or why not: too large (its size), not a regular file, or the error code. */
export type CappedRead =
    | { readonly text: string; readonly problem?: undefined; readonly size?: undefined }
    | { readonly problem: "too-large"; readonly size: number }
    | { readonly problem: string; readonly size?: undefined };

/**
 * A regular file's text, at most `cap` bytes of it. Opened without blocking, so a FIFO or a
 * device is refused rather than read forever; the size is judged on the open file and the read
 * stops at cap + 1 bytes, so a file growing meanwhile cannot get past the cap.
 */
export function readCapped(file: string, cap: number): CappedRead {
    let fd: number;
    try {
        fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch (err) {
        return { problem: (err as NodeJS.ErrnoException).code ?? String(err) };
    }
    try {
        const stat = fs.fstatSync(fd);
        if (!stat.isFile()) return { problem: "not-a-file" };
        if (stat.size > cap) return { problem: "too-large", size: stat.size };
        const buffer = Buffer.alloc(cap + 1);
        let length = 0;
        for (let n = -1; n !== 0 && length < buffer.length; length += n) n = fs.readSync(fd, buffer, length, buffer.length - length, null);
        if (length > cap) return { problem: "too-large", size: length };
        return { text: buffer.subarray(0, length).toString("utf8") };
    } catch (err) {
        return { problem: (err as NodeJS.ErrnoException).code ?? String(err) };
    } finally {
        fs.closeSync(fd);
    }
}

/** A copy of the checks document with every `{"secret": NAME}` header value replaced by the secret. */
function resolveHeaderSecrets(doc: unknown, file: string, stack: string, secrets: SecretSource, problems: string[]): unknown {
    const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
    const resolveCheck = (check: unknown, where: string): unknown => {
        if (!isObject(check) || !isObject(check["headers"])) return check;
        const headers: Record<string, unknown> = {};
        for (const [name, value] of Object.entries(check["headers"])) {
            const at = `${PROJECT}:smokeChecksFile: ${where}.headers.${name}`;
            if (isObject(value) && Object.keys(value).length === 1 && typeof value["secret"] === "string") {
                const secret = value["secret"];
                if (!isSensitiveHeader(name)) {
                    problems.push(
                        `${at}: takes the secret ${secret}, but reports redact only headers named like a credential (authorization, cookie, or containing token, secret, password, api-key, session, credential), so a server echoing it back could put it in a report. Fix: send the secret in such a header`,
                    );
                } else if (!secrets.secretNames.has(secret)) {
                    problems.push(
                        `${at}: references ${secret}, which Pulumi.yaml does not declare secret: true, so nothing keeps it encrypted. Fix: add to Pulumi.yaml under config: "${secret}: { type: string, secret: true }", then pulumi config set --secret ${secret} <value> -s ${stack}`,
                    );
                } else {
                    const v = secrets.secretValue(secret);
                    if (v === undefined) problems.push(`${at}: references ${secret}, which is not set for stack '${stack}'. Fix: pulumi config set --secret ${secret} <value> -s ${stack}`);
                    headers[name] = v;
                }
            } else if (typeof value === "string" && isSensitiveHeader(name)) {
                problems.push(
                    `${at}: a credential written into ${file} is readable by anyone who can read the repository. Allowed: a reference to a stack secret. ` +
                        `Fix: pulumi config set --secret API_TOKEN <value> -s ${stack}, declare API_TOKEN secret: true in Pulumi.yaml, and write the header as {"${name}": {"secret": "API_TOKEN"}}`,
                );
            } else {
                headers[name] = value;
            }
        }
        return { ...check, headers };
    };
    if (Array.isArray(doc)) return doc.map((c, i) => resolveCheck(c, `${file}[${i}]`));
    if (isObject(doc) && Array.isArray(doc["checks"])) return { ...doc, checks: doc["checks"].map((c, i) => resolveCheck(c, `${file}.checks[${i}]`)) };
    return doc;
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
