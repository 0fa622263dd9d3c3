// Parity rules: which configuration keys must be the same across environments, which must
// differ, and which are free to. `progression parity` judges every key of every stack with them,
// and the program judges feature flags against what the upstream stack verified with the same
// `judgeKey`, so the command and a prod preview never disagree.
import * as fs from "node:fs";
import * as path from "node:path";
import { ENVIRONMENTS, type EnvironmentName, isEnvironmentName } from "../config/environments";
import { KNOWN_KEYS } from "../config/schema";
import { PROMOTION_KEY } from "./record";

export const KEY_CLASSES = ["must-match", "must-differ", "free"] as const;
export type KeyClass = (typeof KEY_CLASSES)[number];

export interface KeyRule {
    readonly class: KeyClass;
    /** The environments the rule compares. @default - every environment */
    readonly environments?: readonly EnvironmentName[];
    /** Why: required for rules in a rules file, shown with every finding. */
    readonly reason?: string;
}

export interface ParityRules {
    /** By exact key (`replicas`, `featureFlags.newCheckout`) or prefix (`featureFlags.*`). */
    readonly keys: Readonly<Record<string, KeyRule>>;
    /** Every key whose value is a Pulumi secret, unless `keys` names it. */
    readonly secrets: KeyRule;
    /** Every other key. */
    readonly unknownKeys: KeyRule;
    /** Where the rules came from, for messages. */
    readonly source: string;
    /** The rules file to name in a fix, when the rules came from one. */
    readonly file?: string;
}

/** The committed rules file, read by the program and by `progression parity` unless `--rules` says otherwise. */
export const RULES_FILE = path.join(__dirname, "..", "parity-rules.json");

/** The environments that rehearse and run production: what one must run, the other must have run. */
const PROD_LIKE: readonly EnvironmentName[] = ["staging", "prod"];

const MUST_MATCH_DEFAULTS = [
    "featureFlags.*",
    "migrationVersion",
    "migrationImage",
    "migrationCommand",
    "migrationJobCommand",
    "env.*",
    "appName",
    "port",
    "secretEnv",
    "serviceType",
    "smokeChecksFile",
    "smokeCommand",
    // Not a config key: the digest of the checks' definition, which the promotion check compares.
    "smokeChecks",
];



/**
 * The defaults. Feature flags, the migrations (version, image, commands), app env vars, the
 * smoke checks' definition and what shapes the app (name, port, secret names, Service type) must
 * match between staging and prod; every secret must differ across all environments, except the
 * promotionKey, which every stack must share; the rest of the known keys (sizes, URLs, replicas,
 * identities, timings, the image, which promotion checks) are free. A key nothing here
 * names must match between staging and prod, so new configuration is compared until a rule
 * says otherwise.
 */
export const DEFAULT_RULES: ParityRules = {
    keys: Object.fromEntries([
        ...KNOWN_KEYS.filter((k) => k !== "featureFlags" && k !== "env").map((k): [string, KeyRule] => [k, { class: "free" }]),
        ...MUST_MATCH_DEFAULTS.map((k): [string, KeyRule] => [k, { class: "must-match", environments: PROD_LIKE }]),
        [PROMOTION_KEY, { class: "must-match", reason: "every stack verifies the others' records with it" }],
    ]),
    secrets: { class: "must-differ" },
    unknownKeys: { class: "must-match", environments: PROD_LIKE },
    source: "the default rules",
};

export class RulesError extends Error {
    override name = "RulesError";
    constructor(
        readonly source: string,
        readonly problems: readonly string[],
    ) {
        super(`${source} has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    }
}

const PATTERN = /^[A-Za-z0-9_:-]+(\.[A-Za-z0-9_-]+)*(\.\*)?$/;
const EXAMPLE = `{"keys": {"featureFlags.searchV2": {"class": "free", "reason": "rolled out in prod first"}}}`;

/**
 * Rules from a rules file's text, layered over the defaults: a key the file names replaces the
 * default for that key. Throws one RulesError listing every problem.
 */
export function parseRules(text: string, source: string, base: ParityRules = DEFAULT_RULES): ParityRules {
    let doc: unknown;
    try {
        doc = JSON.parse(text);
    } catch (err) {
        throw new RulesError(source, [`not valid JSON (${(err as Error).message}). Allowed: a JSON object such as ${EXAMPLE}`]);
    }
    const problems: string[] = [];
    if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
        throw new RulesError(source, [`${JSON.stringify(doc)} is not an object. Allowed: ${EXAMPLE}`]);
    }
    const d = doc as Record<string, unknown>;
    for (const k of Object.keys(d)) {
        if (!["$comment", "keys", "secrets", "unknownKeys"].includes(k)) problems.push(`"${k}": unknown field. Allowed: $comment, keys, secrets, unknownKeys`);
    }
    const rule = (where: string, v: unknown): KeyRule | undefined => {
        const r = typeof v === "string" ? { class: v } : v;
        if (typeof r !== "object" || r === null || Array.isArray(r)) {
            problems.push(
                `${where}: ${JSON.stringify(v)} is not a rule. Allowed: {"class": "must-match" | "must-differ" | "free", "environments": [...], "reason": "..."}`,
            );
            return undefined;
        }
        const o = r as Record<string, unknown>;
        for (const k of Object.keys(o))
            if (!["class", "environments", "reason"].includes(k)) problems.push(`${where}.${k}: unknown field. Allowed: class, environments, reason`);
        const cls = o["class"];
        if (typeof cls !== "string" || !(KEY_CLASSES as readonly string[]).includes(cls)) {
            problems.push(`${where}.class: ${JSON.stringify(cls)} is not a class. Allowed: ${KEY_CLASSES.join(", ")}`);
            return undefined;
        }
        let environments: EnvironmentName[] | undefined;
        if (o["environments"] !== undefined) {
            const envs = o["environments"];
            if (!Array.isArray(envs) || envs.length < 2 || !envs.every(isEnvironmentName) || new Set(envs).size !== envs.length) {
                problems.push(
                    `${where}.environments: ${JSON.stringify(envs)} is not allowed. Allowed: two or more distinct environments of ${ENVIRONMENTS.join(", ")}, or leave it out for all`,
                );
            } else {
                environments = envs;
            }
        }
        const reason = o["reason"];
        if (typeof reason !== "string" || reason.trim().length < 8) {
            const seen = reason === undefined ? "is missing" : `${JSON.stringify(reason)} is too short`;
            problems.push(`${where}.reason ${seen}. Allowed: a sentence saying why (a rules file is read when a check is bypassed)`);
        }
        return { class: cls as KeyClass, ...(environments ? { environments } : {}), ...(typeof reason === "string" ? { reason } : {}) };
    };
    const keys: Record<string, KeyRule> = { ...base.keys };
    if (d["keys"] !== undefined) {
        if (typeof d["keys"] !== "object" || d["keys"] === null || Array.isArray(d["keys"])) {
            problems.push(`keys: ${JSON.stringify(d["keys"])} is not an object of key to rule. Allowed: ${EXAMPLE}`);
        } else {
            for (const [pattern, v] of Object.entries(d["keys"] as Record<string, unknown>)) {
                if (!PATTERN.test(pattern)) {
                    problems.push(
                        `keys."${pattern}": not a key or pattern. Allowed: a config key without the project prefix (replicas, featureFlags.newCheckout) or a prefix ending in .* (featureFlags.*)`,
                    );
                    continue;
                }
                const r = rule(`keys."${pattern}"`, v);
                if (r) keys[pattern] = r;
            }
        }
    }
    const secrets = d["secrets"] === undefined ? base.secrets : rule("secrets", d["secrets"]);
    const unknownKeys = d["unknownKeys"] === undefined ? base.unknownKeys : rule("unknownKeys", d["unknownKeys"]);
    if (problems.length > 0 || !secrets || !unknownKeys) throw new RulesError(source, problems);
    return { keys, secrets, unknownKeys, source: `${source} over the default rules`, file: source };
}

/** The rules in `file` (the committed one by default) over the defaults. Throws RulesError. */
export function loadRules(file: string = RULES_FILE): ParityRules {
    const shown = path.relative(process.cwd(), file) || file;
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (err) {
        throw new RulesError(shown, [
            `cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}). Fix: give the path of a rules file, e.g. ${path.relative(process.cwd(), RULES_FILE)}`,
        ]);
    }
    return parseRules(text, path.basename(file));
}

/** The rule that decides a key, and which entry it came from. */
export interface ResolvedRule extends KeyRule {
    /** The matching entry: the key itself, a `prefix.*`, `secrets` or `unknownKeys`. */
    readonly from: string;
}

/** Exact key first, then the longest matching `prefix.*`, then the secret rule, then the unknown-key rule. */
export function ruleFor(rules: ParityRules, key: string, secret: boolean): ResolvedRule {
    const exact = rules.keys[key];
    if (exact) return { ...exact, from: key };
    const parts = key.split(".");
    for (let i = parts.length - 1; i > 0; i -= 1) {
        const pattern = `${parts.slice(0, i).join(".")}.*`;
        const r = rules.keys[pattern];
        if (r) return { ...r, from: pattern };
    }
    return secret ? { ...rules.secrets, from: "secrets" } : { ...rules.unknownKeys, from: "unknownKeys" };
}

/** One stack's value of one key, as the judge sees it. */
export interface KeyValue {
    readonly stack: string;
    readonly environment: EnvironmentName | undefined;
    /** What is compared: canonical JSON of a plain value, a keyed digest of a secret; undefined when unset. */
    readonly compare: string | undefined;
    /** What may be shown: the plain value, or `<secret>`. Never a secret value or its digest. */
    readonly display: string;
    /** The value to put in a `pulumi config set` fix (plain keys only). */
    readonly setValue?: string;
}

export interface Finding {
    readonly key: string;
    readonly rule: ResolvedRule;
    readonly kind: "differs" | "secret-reused";
    /** The stacks involved, in the order given. */
    readonly stacks: readonly string[];
    /** What, the values (never a secret's), why, and the fix. */
    readonly message: string;
}

export const UNSET = "(unset)";

/** The `pulumi config` command that sets `key` on `stack` to `value`, or removes it. */
export function configCommand(key: string, stack: string, value: string | undefined, secret = false): string {
    const pathFlag = key.includes(".") ? "--path " : "";
    const k = key.includes(".") ? `'${key}'` : key;
    if (value === undefined) return `pulumi config rm ${pathFlag}${k} -s ${stack}`;
    const v = /^[A-Za-z0-9_.:/@=+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
    return `pulumi config set ${secret ? "--secret " : ""}${pathFlag}${k} ${v} -s ${stack}`;
}

const list = (xs: readonly string[]) => (xs.length <= 2 ? xs.join(" and ") : `${xs.slice(0, -1).join(", ")} and ${xs[xs.length - 1]}`);

/**
 * Judges one key across stacks (given in promotion order, upstream first). must-match: every
 * stack of the rule's environments holds the same value (unset counts as a value); must-differ:
 * no two stacks hold the same value; free: nothing to find.
 */
export function judgeKey(key: string, rule: ResolvedRule, values: readonly KeyValue[], rulesFile = "a rules file"): Finding | undefined {
    const inScope = values.filter((v) => (rule.environments === undefined ? true : v.environment !== undefined && rule.environments.includes(v.environment)));
    const scope = rule.environments ? ` in ${list(rule.environments)}` : " across environments";
    const allow = `or allow the difference in ${rulesFile} ("${key}": {"class": "free", "reason": "..."})`;
    if (rule.class === "must-match") {
        if (inScope.length < 2 || new Set(inScope.map((v) => v.compare ?? UNSET)).size === 1) return undefined;
        const reference = inScope[0]!;
        const off = inScope.filter((v) => (v.compare ?? UNSET) !== (reference.compare ?? UNSET));
        // A secret's value is never shown: the fix names where to copy it from.
        const secretRef = reference.setValue === undefined && reference.display === "<secret>";
        const fixes = off.map((v) =>
            secretRef
                ? configCommand(key, v.stack, `<the value ${reference.stack} holds>`, true)
                : configCommand(key, v.stack, reference.compare === undefined ? undefined : (reference.setValue ?? reference.display)),
        );
        return {
            key,
            rule,
            kind: "differs",
            stacks: inScope.map((v) => v.stack),
            message:
                `${key} must match${scope}, but ${inScope.map((v) => `${v.stack} has ${v.compare === undefined ? UNSET : v.display}`).join(", ")}` +
                `${rule.reason ? ` (${rule.reason})` : ""}. Fix: ${fixes.join(" && ")}, ${allow}`,
        };
    }
    if (rule.class === "must-differ") {
        const groups = new Map<string, KeyValue[]>();
        for (const v of inScope) if (v.compare !== undefined) groups.set(v.compare, [...(groups.get(v.compare) ?? []), v]);
        const reused = [...groups.values()].filter((g) => g.length > 1);
        if (reused.length === 0) return undefined;
        const stacks = reused.flat().map((v) => v.stack);
        const sets = reused.map((g) => list(g.map((v) => v.stack)));
        const fixes = reused.flatMap((g) => g.slice(1).map((v) => configCommand(key, v.stack, "<a new value>", true)));
        return {
            key,
            rule,
            kind: "secret-reused",
            stacks,
            message:
                `${key} holds the same secret value in ${sets.join("; and in ")} (compared as keyed hashes in memory; neither the value nor a hash is shown). ` +
                `Every environment needs its own: a secret leaked from one would open the other. Fix: ${fixes.join(" && ")}, then revoke the shared value`,
        };
    }
    return undefined;
}
