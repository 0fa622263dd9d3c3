// The Pulumi program's entry point (package.json "main", which the SDK's runner requires): it
// compiles dist/ first when a source changed (build/compile.js), then runs the compiled program
// and hands the engine what it exports.
"use strict";
const path = require("node:path");
// V8's compile cache (build/cache.js), for a language host that did not preload it.
require("./cache");
const { DIST, ensureBuilt } = require("./compile");

ensureBuilt();
// The SDK's runner installs source-map-support to map stack traces of TypeScript run through
// ts-node. This program is compiled JavaScript without source maps, and the SDK takes a stack trace
// for every promise it tracks, each one formatted by that hook: V8's own formatting instead saves
// about a third of a second of CPU per run. Traces name dist/ lines; each module's code there follows
// a comment naming its source file.
Error.prepareStackTrace = undefined;
module.exports = require(path.join(DIST, "index.js"));
