// Type-aware lint: the rules that catch real Pulumi and async bugs (an Output in a template
// string, a promise nobody awaits), and the project's import rules (toolchain/lint/imports.mjs).
// These are the project's only code rules: no formatter is configured or run.
import js from "@eslint/js";
import pulumi from "@pulumi/eslint-plugin";
import { createNodeResolver, importX } from "eslint-plugin-import-x";
import tseslint from "typescript-eslint";
import progression from "./toolchain/lint/imports.mjs";

export default tseslint.config(
    { ignores: ["node_modules/", "dist/", ".local/", "**/*.mjs", "**/*.mts", "**/*.js", "bin/"] },
    js.configs.recommended,
    ...tseslint.configs.recommendedTypeChecked,
    {
        languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
        plugins: { "@pulumi": pulumi, "import-x": importX, progression },
        settings: {
            // import-x reads only the extensions listed here when it follows imports for no-cycle.
            "import-x/extensions": [".ts", ".js"],
            "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
            "import-x/resolver-next": [createNodeResolver({ extensions: [".ts", ".js", ".json", ".node"] })],
        },
        rules: {
            "@pulumi/no-output-in-template-literal": "error",
            "@pulumi/no-output-instance-in-template-literal": "error",
            "@typescript-eslint/no-floating-promises": "error",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
            // A type-only import says so, and is erased: it can never form a runtime cycle.
            "@typescript-eslint/consistent-type-imports": ["error", { prefer: "type-imports", fixStyle: "inline-type-imports", disallowTypeAnnotations: false }],
            "@typescript-eslint/no-import-type-side-effects": "error",
            // Modules form a tree: a cycle means two modules that are really one, or a shared part
            // that wants its own module. import-x/no-cycle skips type-only imports, which tie one
            // module's meaning to another's just the same; progression/no-cycle counts them.
            "import-x/no-cycle": ["error", { ignoreExternal: true }],
            "progression/no-cycle": "error",
            // Imports run down the layers proc < kube < netpol < smoke < config < promotion < release <
            // migrate < resources < components < edge < harness < drivers < tests (toolchain/lint/imports.mjs).
            "progression/layers": "error",
            // Tests assert on recorded mock inputs, which are untyped by nature.
            "@typescript-eslint/no-explicit-any": "off",
        },
    },
    {
        // The program that `pulumi up` runs: the packages' indexes load far more than it uses, on
        // every run (resources/pulumi.ts, resources/kubernetes.ts). Types from them are free: they are erased.
        files: ["index.ts", "config/**/*.ts", "resources/**/*.ts", "components/**/*.ts", "promotion/**/*.ts", "release/**/*.ts", "migrate/**/*.ts", "smoke/**/*.ts", "kube/**/*.ts", "netpol/**/*.ts", "proc/**/*.ts"],
        rules: {
            "no-restricted-imports": [
                "error",
                {
                    paths: [
                        { name: "@pulumi/pulumi", allowTypeImports: true, message: "The index loads the Automation API and the TypeScript compiler into every `pulumi up`. Import from resources/pulumi.ts instead." },
                        { name: "@pulumi/kubernetes", allowTypeImports: true, message: "The index loads every API group's classes into every `pulumi up`. Register through resources/kubernetes.ts instead." },
                    ],
                },
            ],
        },
    },
    {
        files: ["tests/**/*.ts"],
        rules: {
            "@typescript-eslint/no-unsafe-member-access": "off",
            "@typescript-eslint/no-unsafe-assignment": "off",
            "@typescript-eslint/no-unsafe-argument": "off",
            "@typescript-eslint/no-unsafe-call": "off",
            "@typescript-eslint/no-unsafe-return": "off",
        },
    },
);
