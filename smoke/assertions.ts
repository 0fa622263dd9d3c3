// Judging an answer against a check's expectations: its status, its body, its JSON fields; and the
// same expectations in words for the report.
import type { Check, JsonFieldExpectation } from "./types";

export function snippet(text: string): string {
    const t = text.replace(/\s+/g, " ").trim();
    if (t.length === 0) return "";
    return `; body: ${t.length > 160 ? `${t.slice(0, 157)}...` : t}`;
}

function acceptedStatuses(check: Check): readonly number[] | undefined {
    const s = check.expect?.status;
    return s === undefined ? undefined : typeof s === "number" ? [s] : s;
}

export function checkStatus(check: Check, status: number): string | undefined {
    const accepted = acceptedStatuses(check);
    const ok = accepted ? accepted.includes(status) : status >= 200 && status < 300;
    return ok ? undefined : `status ${status}`;
}

const JSON_CONTENT_TYPE = /^application\/([\w.+-]+\+)?json\s*(;|$)/i;

export function checkBody(check: Check, contentType: string | undefined, text: string): string | undefined {
    const want = check.expect;
    if (want?.bodyContains !== undefined && !text.includes(want.bodyContains)) {
        return `body does not contain ${JSON.stringify(want.bodyContains)}${snippet(text)}`;
    }
    if (!want?.json) return undefined;
    if (!contentType || !JSON_CONTENT_TYPE.test(contentType)) {
        return `content-type ${contentType === undefined ? "missing" : JSON.stringify(contentType)}, not application/json${snippet(text)}`;
    }
    let doc: unknown;
    try {
        doc = JSON.parse(text);
    } catch (err) {
        return `invalid JSON (${(err as Error).message})${snippet(text)}`;
    }
    const problems = want.json.map((f) => checkField(doc, f)).filter((p): p is string => p !== undefined);
    return problems.length > 0 ? problems.join("; ") : undefined;
}

const MISSING = Symbol("missing");

function lookupPath(doc: unknown, path: string): unknown {
    let cur: unknown = doc;
    for (const key of path.split(".")) {
        if (Array.isArray(cur) && /^\d+$/.test(key)) {
            cur = Number(key) < cur.length ? cur[Number(key)] : MISSING;
        } else if (cur !== null && typeof cur === "object" && Object.prototype.hasOwnProperty.call(cur, key)) {
            cur = (cur as Record<string, unknown>)[key];
        } else {
            return MISSING;
        }
        if (cur === MISSING) return MISSING;
    }
    return cur;
}

function jsonType(v: unknown): string {
    return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

function showJson(v: unknown): string {
    const s = JSON.stringify(v) ?? String(v);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function deepEqual(a: unknown, b: unknown): boolean {
    if (a === b) return true;
    if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
    if (Array.isArray(a) !== Array.isArray(b)) return false;
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function checkField(doc: unknown, f: JsonFieldExpectation): string | undefined {
    const v = lookupPath(doc, f.path);
    if (v === MISSING) return `JSON field ${f.path} is missing`;
    if (f.type !== undefined && jsonType(v) !== f.type) return `JSON field ${f.path} is a ${jsonType(v)} (${showJson(v)}), not a ${f.type}`;
    if (f.nonEmpty && isEmpty(v)) return `JSON field ${f.path} is empty (${showJson(v)})`;
    if ("equals" in f && !deepEqual(v, f.equals)) return `JSON field ${f.path} is ${showJson(v)}, not ${showJson(f.equals)}`;
    return undefined;
}

function isEmpty(v: unknown): boolean {
    if (v === null || v === undefined) return true;
    if (typeof v === "string") return v.trim().length === 0;
    if (Array.isArray(v)) return v.length === 0;
    if (typeof v === "object") return Object.keys(v).length === 0;
    return false;
}

/** A passing answer, in words, for the report's "expected" line. */
export function describeExpectation(check: Check): string {
    const accepted = acceptedStatuses(check);
    const parts = [accepted ? `status ${accepted.join(" or ")}` : "status 2xx"];
    const want = check.expect;
    if (want?.json) {
        parts.push("content-type application/json");
        for (const f of want.json) {
            const conds: string[] = [];
            if (f.type !== undefined) conds.push(`a ${f.type}`);
            if (f.nonEmpty) conds.push("non-empty");
            if ("equals" in f) conds.push(`=== ${showJson(f.equals)}`);
            parts.push(`JSON ${f.path} ${conds.length > 0 ? conds.join(", ") : "present"}`);
        }
    }
    if (want?.bodyContains !== undefined) parts.push(`body contains ${JSON.stringify(want.bodyContains)}`);
    return parts.join("; ");
}
