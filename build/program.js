// The Pulumi program's entry point (package.json "main", which the SDK's runner requires): it
// compiles dist/ first when a source changed (build/compile.js), then runs the compiled program
// and hands the engine what it exports.
"use strict";
const path = require("node:path");
const { enableCompileCache } = require("node:module");
const { DIST, ensureBuilt } = require("./compile");

// V8 keeps the code it compiled for each module in dist/compile-cache, so the next run skips
// parsing and compiling what it loaded last time (the SDK, the Kubernetes SDK, the TypeScript
// compiler the SDK's closure serializer loads eagerly, the program). Entries are keyed by the file's
// path and content hash. The folder is the project's own, never a shared temporary one: a cache
// another user could write would be code this run executes.
enableCompileCache(path.join(DIST, "compile-cache"));
ensureBuilt();
// The SDK's runner installs source-map-support to map stack traces of TypeScript run through
// ts-node. This program is compiled JavaScript without source maps, and the SDK takes a stack trace
// for every promise it tracks, each one formatted by that hook: V8's own formatting instead saves
// about a third of a second of CPU per run. Traces name dist/ lines; each module's code there follows
// a comment naming its source file.
Error.prepareStackTrace = undefined;
module.exports = require(path.join(DIST, "index.js"));
