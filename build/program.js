// The Pulumi program's entry point (package.json "main", which the SDK's runner requires): it
// compiles dist/ first when a source changed (build/compile.js), then runs the compiled program
// and hands the engine what it exports.
"use strict";
const path = require("node:path");
const { DIST, ensureBuilt } = require("./compile");

ensureBuilt();
// Stack traces name the TypeScript file and line: each bundle links its source map.
process.setSourceMapsEnabled(true);
module.exports = require(path.join(DIST, "index.js"));
