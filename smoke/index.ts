// Public API of the smoke engine. TypeScript on undici; knows nothing of Pulumi.
export { defaultChecks, parseChecks, validateChecks, checksFromInputs, baseUrlProblem, resolveSmokeOptions, parseBaseUrl, SmokeConfigError, DEFAULTS, MAX_CHECKS } from "./checks";
export type { SmokeOptionLabels } from "./checks";
export { runSmoke } from "./engine";
export { describeExpectation } from "./assertions";
export { systemClock } from "./clock";
export type { Clock } from "./clock";
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
    ValidChecks,
} from "./types";
