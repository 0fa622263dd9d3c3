// Public API of the smoke engine. Pure TypeScript on node:http; knows nothing of Pulumi.
export { defaultChecks, parseChecks, validateChecks, resolveSmokeOptions, parseBaseUrl, SmokeConfigError, DEFAULTS, MAX_CHECKS } from "./checks";
export type { SmokeOptionLabels } from "./checks";
export { runSmoke, describeExpectation } from "./engine";
export { formatReport } from "./format";
export { REDACTED, isSensitiveHeader } from "./redact";
export type {
    Check,
    CheckExpectation,
    CheckReport,
    ErrorClass,
    HttpMethod,
    JsonFieldExpectation,
    JsonType,
    JsonValue,
    ResolvedSmokeOptions,
    SmokeOptions,
    SmokeReport,
} from "./types";
