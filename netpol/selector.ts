// Label selectors with the semantics of apimachinery's labels.Requirement: matchLabels and
// matchExpressions are ANDed, an empty selector matches everything, and NotIn / DoesNotExist
// match objects that lack the key (a frequent surprise: `environment notin (prod)` admits a
// namespace with no environment label at all).
import type { Labels } from "./types";

export interface CompiledSelector {
    /** True for `{}`: matches every object. */
    readonly empty: boolean;
    readonly matches: (labels: Labels) => boolean;
    /** kubectl-style text, e.g. `environment=prod,tier in (a,b)`, or `<all>`. */
    readonly text: string;
    /** Equal for selectors that match the same objects by construction: a cache key. */
    readonly key: string;
}

const OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"] as const;
type Operator = (typeof OPERATORS)[number];

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const show = (v: unknown): string => JSON.stringify(v) ?? String(v);

/** Reports fields the API would reject as unknown (a typo such as `matchlabels` otherwise widens a selector to everything). */
export function unknownFields(obj: Record<string, unknown>, known: readonly string[], where: string, problems: string[]): void {
    for (const key of Object.keys(obj)) {
        if (!known.includes(key)) {
            problems.push(
                `${where}: unknown field '${key}'. Allowed: ${known.join(", ")}. Fix: correct the spelling or remove it (the API server rejects unknown fields)`,
            );
        }
    }
}

/**
 * Validates and compiles a LabelSelector given as a plain object. Problems are appended to
 * `problems` (each: where, value seen, what is allowed, the fix); the result is then still usable
 * but meaningless, so callers stop when any problem was added.
 *
 * One function: it validates and compiles matchLabels and matchExpressions in the same walk, so
 * each problem names where it was found.
 */
export function compileSelector(raw: unknown, where: string, problems: string[]): CompiledSelector {
    if (!isRecord(raw)) {
        problems.push(`${where}: ${show(raw)} is not a label selector. Allowed: an object with matchLabels and/or matchExpressions ({} selects everything)`);
        return { empty: false, matches: () => false, text: "<invalid>", key: "<invalid>" };
    }
    unknownFields(raw, ["matchLabels", "matchExpressions"], where, problems);
    const equal: [string, string][] = [];
    if (raw["matchLabels"] !== undefined && raw["matchLabels"] !== null) {
        if (!isRecord(raw["matchLabels"])) {
            problems.push(`${where}.matchLabels: ${show(raw["matchLabels"])} is not a map. Allowed: key: value pairs`);
        } else {
            for (const [k, v] of Object.entries(raw["matchLabels"])) {
                if (typeof v !== "string") {
                    problems.push(`${where}.matchLabels.${k}: ${show(v)} is not a string. Fix: quote it ("${String(v)}"): label values are strings`);
                } else {
                    equal.push([k, v]);
                }
            }
        }
    }
    const exprs: { key: string; op: Operator; values: readonly string[] }[] = [];
    const rawExprs = raw["matchExpressions"];
    if (rawExprs !== undefined && rawExprs !== null) {
        if (!Array.isArray(rawExprs)) {
            problems.push(`${where}.matchExpressions: ${show(rawExprs)} is not a list`);
        } else {
            rawExprs.forEach((e: unknown, i) => {
                const at = `${where}.matchExpressions[${i}]`;
                if (!isRecord(e)) {
                    problems.push(`${at}: ${show(e)} is not a requirement. Allowed: {key, operator, values}`);
                    return;
                }
                unknownFields(e, ["key", "operator", "values"], at, problems);
                const key = e["key"];
                const op = e["operator"];
                const values = e["values"] ?? [];
                if (typeof key !== "string" || key === "") {
                    problems.push(`${at}.key: ${show(key)} is not a label key`);
                    return;
                }
                if (typeof op !== "string" || !(OPERATORS as readonly string[]).includes(op)) {
                    problems.push(`${at}.operator: ${show(op)} is not an operator. Allowed: ${OPERATORS.join(", ")} (case-sensitive)`);
                    return;
                }
                if (!Array.isArray(values) || values.some((v) => typeof v !== "string")) {
                    problems.push(`${at}.values: ${show(values)} is not a list of strings`);
                    return;
                }
                const vals = values as string[];
                if ((op === "In" || op === "NotIn") && vals.length === 0) {
                    problems.push(`${at}: operator ${op} needs at least one value. Fix: list values, or use Exists / DoesNotExist`);
                    return;
                }
                if ((op === "Exists" || op === "DoesNotExist") && vals.length > 0) {
                    problems.push(`${at}: operator ${op} takes no values, got ${show(vals)}. Fix: remove values, or use In / NotIn`);
                    return;
                }
                exprs.push({ key, op: op as Operator, values: vals });
            });
        }
    }
    const empty = equal.length === 0 && exprs.length === 0;
    const matches = (labels: Labels): boolean => {
        for (const [k, v] of equal) if (labels[k] !== v) return false;
        for (const { key, op, values } of exprs) {
            const has = Object.prototype.hasOwnProperty.call(labels, key);
            const value = labels[key];
            switch (op) {
                case "In":
                    if (!has || !values.includes(value as string)) return false;
                    break;
                case "NotIn":
                    if (has && values.includes(value as string)) return false;
                    break;
                case "Exists":
                    if (!has) return false;
                    break;
                case "DoesNotExist":
                    if (has) return false;
                    break;
            }
        }
        return true;
    };
    const parts = [
        ...equal.map(([k, v]) => `${k}=${v}`),
        ...exprs.map(({ key, op, values }) =>
            op === "Exists" ? key : op === "DoesNotExist" ? `!${key}` : `${key} ${op === "In" ? "in" : "notin"} (${values.join(",")})`,
        ),
    ];
    return { empty, matches, text: empty ? "<all>" : parts.join(","), key: JSON.stringify([[...equal].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)), exprs]) };
}

/** Matches labels against a selector given as a plain object; throws on an invalid selector. */
export function labelSelectorMatches(selector: unknown, labels: Labels): boolean {
    const problems: string[] = [];
    const compiled = compileSelector(selector, "selector", problems);
    if (problems.length > 0) throw new Error(problems.join("\n"));
    return compiled.matches(labels);
}
