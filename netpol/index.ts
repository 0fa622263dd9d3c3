// The NetworkPolicy evaluator: a pure core (no Pulumi, no I/O) shared by `progression netcheck`,
// the policy pack and the tests. Typical use:
//
//   const model = defaultIsolationModel();              // or isolationModelFromManifests(objects)
//   const report = checkIsolation(model, policies);      // plain NetworkPolicy objects
//   if (!report.ok) for (const f of report.findings) console.log(f.message);
export * from "./types";
export { parseIp, parseCidr, cidrContains, cidrStrictlyWithin } from "./cidr";
export type { IpAddress, Cidr } from "./cidr";
export { compileSelector, labelSelectorMatches } from "./selector";
export type { CompiledSelector } from "./selector";
export { compilePolicies, PolicyValidationError } from "./policy";
export type { CompiledPolicies, CompiledPolicy, CompiledRule, CompiledPeer, CompiledPort } from "./policy";
export { createEvaluator, evaluateConnection, connectivityMatrix, cellOf, ModelError } from "./evaluate";
export { ENVIRONMENT_LABEL, NAMESPACE_NAME_LABEL } from "../kube/labels";
export type { Evaluator, ConnectionQuery, MatrixOptions } from "./evaluate";
export { Bitset, createReach, unmatchedNamedPorts } from "./reach";
export type { Reach } from "./reach";
export {
    defaultIsolationModel,
    isolationModelFromManifests,
    flattenObjects,
    ManifestError,
    DEFAULT_INGRESS_NAMESPACE,
    DEFAULT_APP_PORT,
    DNS_PROBES,
} from "./model";
export type { DefaultModelOptions, ManifestModelOptions, ManifestModel } from "./model";
export { judgeIsolation, checkIsolation, DEFAULT_MAX_FINDINGS, FINDING_KINDS } from "./judge";
export type { IsolationReport, Judgement, JudgeOptions, FindingCounts } from "./judge";
export {
    matrixText,
    renderMatrix,
    renderReport,
    reportJson,
    reportJsonText,
    reportText,
    roleTags,
    SEMANTICS_NOTE,
    MATRIX_AUTO_MAX_ENDPOINTS,
    TEXT_MAX_WARNINGS,
} from "./render";
export type { RenderOptions } from "./render";
